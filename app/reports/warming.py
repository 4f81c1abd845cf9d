"""Closed waves' results worked out as the service starts, in a thread of their own, so that the
first councillor to open the results pages does not wait for the suppression of whole waves."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import transaction
from app.deps import local_today
from app.reports.service import warm_results

LOG = logging.getLogger(__name__)


def start_warming(session_factory: sessionmaker[Session], settings: Settings) -> threading.Thread:
    thread = threading.Thread(
        target=_warm, args=(session_factory, settings), name="warm-results", daemon=True
    )
    thread.start()
    return thread


def _warm(session_factory: sessionmaker[Session], settings: Settings) -> None:
    started = time.monotonic()
    try:
        with transaction(session_factory) as session:
            warmed = warm_results(session=session, today=local_today(settings))
    except SQLAlchemyError as error:
        LOG.warning(
            "results not worked out in advance (%s): the first reader will wait for them",
            type(error).__name__,
        )
        return
    LOG.info(
        "results worked out in advance for %d closed waves in %.1f s",
        len(warmed),
        time.monotonic() - started,
    )
