"""Typed dependencies, so routes read as plain functions of what they need."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.config import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request: committed when the route returns, before the response is sent,
    and rolled back when it raises."""
    with request.app.state.session_factory() as session, session.begin():
        yield session


def get_today(request: Request) -> dt.date:
    """The local date: the only moment a response records."""
    return dt.datetime.now(ZoneInfo(request.app.state.settings.timezone)).date()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
TodayDep = Annotated[dt.date, Depends(get_today)]
