"""Releases as stored: made once, frozen, never showing what an earlier one withheld, and made
without team × role figures when those cannot be protected in time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import transaction
from app.exports.service import Export, Part, wave_export
from app.models import Wave, WaveStatus
from app.releases import service
from app.releases.models import Release, ReleaseFigure
from app.reports.printable import WaveReport, wave_report
from app.responses.service import load_wave
from tests.support.factories import SURVEY, create_wave_for_test
from tests.support.small_site import build_small_site


def _closed_wave(factory: sessionmaker[Session], *, team_by_role: bool) -> None:
    create_wave_for_test(factory, opens_in_days=-9, closes_in_days=-1, status=WaveStatus.closed)
    with transaction(factory) as session:
        wave = session.scalars(select(Wave)).one()
        wave.team_role_breakdown = team_by_role


def test_a_release_is_stored_once_and_read_back_unchanged(
    session_factory: sessionmaker[Session], coventry: dict[str, Any]
) -> None:
    _closed_wave(session_factory, team_by_role=False)
    with transaction(session_factory) as session:
        wave = load_wave(session=session, survey_key=SURVEY, wave_key="2015")
        first = service.released_figures(session=session, wave=wave)
        again = service.released_figures(session=session, wave=wave)
        assert first is again  # read from the release, not worked out again
        stored = session.scalars(select(Release)).one()
        assert stored.number == 1 and "team,role" not in stored.breakdowns
        rows = session.scalar(select(func.count()).select_from(ReleaseFigure))
        assert rows == len(first)
        assert first["count"].isna().all()  # nobody answered: every figure withheld


def test_releasing_again_stores_a_new_release_of_the_same_figures(
    session_factory: sessionmaker[Session], coventry: dict[str, Any]
) -> None:
    _closed_wave(session_factory, team_by_role=False)
    with transaction(session_factory) as session:
        wave = load_wave(session=session, survey_key=SURVEY, wave_key="2015")
        first = service.release(session=session, wave=wave, actor="test")
        second = service.release(session=session, wave=wave, actor="test")
        assert (first.number, second.number) == (1, 2)
        assert first.content_hash == second.content_hash


def test_team_by_role_figures_not_protected_in_time_are_left_out_and_said_so(
    session_factory: sessionmaker[Session],
    coventry: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _closed_wave(session_factory, team_by_role=True)
    monkeypatch.setattr(service, "TEAM_BY_ROLE_TIME_LIMIT", 0.0)
    with transaction(session_factory) as session:
        wave = load_wave(session=session, survey_key=SURVEY, wave_key="2015")
        summary = service.release(session=session, wave=wave, actor="test")
    assert "team,role" not in summary.breakdowns
    assert summary.dropped and summary.dropped[0].startswith("team,role: not protected")


@pytest.mark.sqlite_only  # a cache above the database
def test_what_is_made_from_a_release_is_kept_and_made_again_for_a_new_one(
    settings: Settings, session_factory: sessionmaker[Session], coventry: dict[str, Any]
) -> None:
    """Exports and the printable report are kept by their release and the wave's headcounts:
    served again unchanged, never stale after a headcount correction or a new release."""
    build_small_site(settings, session_factory)
    today = dt.date.today()

    def made() -> tuple[Export, WaveReport]:
        with transaction(session_factory) as session:
            export = wave_export(
                session=session, survey_key=SURVEY, wave_key="2015", by="team", today=today
            )
            report = wave_report(session=session, survey_key=SURVEY, wave_key="2015", today=today)
        return export, report

    export, report = made()
    assert made() == (export, report) and made()[0] is export
    with transaction(session_factory) as session:
        wave = session.scalars(select(Wave).where(Wave.key == "2015")).one()
        for headcount in wave.headcounts:
            headcount.headcount += 10
    corrected, corrected_report = made()
    assert corrected is not export and corrected_report is not report
    headcounts = [row.headcount for row in corrected.tables[Part.response_profile].rows]
    assert headcounts != [row.headcount for row in export.tables[Part.response_profile].rows]
    with transaction(session_factory) as session:
        service.release(
            session=session, wave=load_wave(session=session, survey_key=SURVEY, wave_key="2015"),
            actor="test",
        )  # fmt: skip
    released_again, _ = made()
    assert released_again is not corrected
    assert released_again.made_from[-1][1] != corrected.made_from[-1][1]  # the new release's id
