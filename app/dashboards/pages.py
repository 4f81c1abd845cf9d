"""Scrutiny pages: overview, year on year, team and consistency, with charts and tables."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
