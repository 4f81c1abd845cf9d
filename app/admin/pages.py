"""The survey owner's pages: definitions, waves, headcounts, codes, accounts."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
