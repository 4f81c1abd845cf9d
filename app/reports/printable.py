"""A whole wave's report as print-ready HTML, and as PDF through headless Chromium."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
