"""Typed dependencies, so routes read as plain functions of what they need."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import AsyncIterator, Callable
from typing import Annotated, ParamSpec, TypeVar
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
    if session.in_transaction():
        await run_in_threadpool(_end, session, commit=True)
    else:
        session.close()  # committed by the route in its own thread: nothing left to wait for


def commits_in_thread(handler: Callable[P, R]) -> Callable[P, R]:
    """For a plain (worker-thread) route taking `session`: commit in that same thread when it
    returns, so the session's teardown has nothing left to send to the thread pool."""

    @functools.wraps(handler)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        result = handler(*args, **kwargs)
        session = kwargs["session"]
        assert isinstance(session, Session)
        session.commit()
        return result

    return run


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
    return local_today(request.app.state.settings)


def local_today(settings: Settings) -> dt.date:
    return dt.datetime.now(ZoneInfo(settings.timezone)).date()


P = ParamSpec("P")
R = TypeVar("R")

SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
TodayDep = Annotated[dt.date, Depends(get_today)]
