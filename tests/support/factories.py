"""Small `create_*` helpers for test data."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models import WaveStatus
from app.surveys.service import PublishedVersion, create_wave, published_version

SURVEY = "coventry-supervision"


def create_wave_for_test(
    factory: sessionmaker[Session],
    *,
    wave: str = "2015",
    version: str = "2015",
    opens_in_days: int = 0,
    closes_in_days: int = 0,
    status: WaveStatus = WaveStatus.open,
) -> PublishedVersion:
    """A wave of the Coventry survey, dated relative to today; returns its published version."""
    today = dt.date.today()
    with transaction(factory) as session:
        created = create_wave(
            session=session,
            survey_key=SURVEY,
            wave_key=wave,
            version_key=version,
            opens_on=today + dt.timedelta(days=opens_in_days),
            closes_on=today + dt.timedelta(days=closes_in_days),
            status=status,
        )
        return published_version(session=session, version=created.version)
