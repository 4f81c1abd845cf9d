"""HR exports: CSV and XLSX downloads of what the pages show."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
