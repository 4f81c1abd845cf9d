"""Typed dependencies, so routes read as plain functions of what they need."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from app.config import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request: committed when the route returns, before the response is sent,
    and rolled back when it raises.

    Opening a session does no I/O, so only the commit, rollback and close go to a worker thread:
    one thread hop fewer per request than a plain generator dependency.
    """
    session: Session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    await run_in_threadpool(_end, session, commit=True)


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


async def get_today(request: Request) -> dt.date:
    """The local date: the only moment a response records. (Async: it never blocks, so it needs
    no worker thread.)"""
    return dt.datetime.now(ZoneInfo(request.app.state.settings.timezone)).date()


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
TodayDep = Annotated[dt.date, Depends(get_today)]
