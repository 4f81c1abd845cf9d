"""Retention: closed waves lose their drafts and unused codes, and, after RETENTION_YEARS, their
responses; nothing else goes, and a dry run changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import transaction
from app.fieldwork.models import Invitation
from app.fieldwork.progress import take_snapshot
from app.models import Wave, WaveStatus
from app.operations.retention import apply_retention, retention_cutoff
from app.responses.codes import code_hash, issue_codes, spend_code
from app.responses.drafts import start_draft
from app.responses.service import SubmissionIn, store_response
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import get_wave, set_wave_status
from tests.support.answers import complete_answers
from tests.support.factories import SURVEY, create_wave_for_test
from tests.support.tables import Rows, every_row

TODAY = dt.date.today()
"""The test waves are dated relative to today, as `create_wave_for_test` does."""


@dataclass(frozen=True)
class Plan:
    """Each test wave: its version, days from today to its opening and closing, and how many
    responses, access codes (one of them spent) and drafts it gets."""

    version: str
    opens_in_days: int
    closes_in_days: int
    responses: int
    codes: int
    drafts: int
    staff: int
    """People on the wave's staff list."""


PLANS = {
    "2014": Plan("2014", -(6 * 365 + 40), -(6 * 365 + 10), responses=3, codes=4, drafts=2, staff=1),
    "2015": Plan("2015", -60, -30, responses=2, codes=3, drafts=1, staff=2),
    "2016": Plan("2015", -1, 20, responses=2, codes=2, drafts=1, staff=1),
}
"""2014 closed six years ago and 2015 a month ago, both by their date alone (their status still
says open, as when nobody closed them), so their drafts, unused codes and staff lists are still
there, and 2015's last progress count; 2016 is open."""


@pytest.fixture
def waves(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> dict[str, int]:
    """The three waves, filled as respondents would; returns each wave's id."""
    ids = {}
    for key, plan in PLANS.items():
        published = create_wave_for_test(
            session_factory,
            wave=key,
            version=plan.version,
            opens_in_days=plan.opens_in_days,
            closes_in_days=plan.closes_in_days,
        )
        with transaction(session_factory) as session:
            wave = get_wave(session=session, survey_key=SURVEY, wave_key=key)
            ids[key] = wave.id
            codes = issue_codes(session=session, wave=wave, count=plan.codes)
            spend_code(session=session, wave_id=wave.id, hashed=code_hash(codes[0]))
            for _ in range(plan.drafts):
                start_draft(session=session, wave_id=wave.id)
            for _ in range(plan.responses):
                store_response(
                    session=session,
                    survey_key=SURVEY,
                    wave_key=key,
                    submission=SubmissionIn(
                        submission_id=uuid.uuid4().hex,
                        team=next(iter(published.team_ids)),
                        role=next(iter(published.role_ids)),
                        answers=dict(complete_answers(published)),
                    ),
                    today=wave.opens_on,
                )
            session.add_all(
                Invitation(
                    wave_id=wave.id,
                    email=f"person{number}@example.org",
                    team=next(iter(published.team_ids)),
                    code_seed=f"{number:032x}",
                )
                for number in range(plan.staff)
            )
            if key != "2014":
                take_snapshot(session=session, wave_id=wave.id, today=wave.opens_on)
    return ids


KEPT = {"responses_expired": False}


def _expected_after(before: Rows, *, leftovers_of: list[int], responses_of: list[int]) -> Rows:
    """`before` less the drafts and unused codes of some waves and the responses (answers,
    receipts, spent codes) of others, worked out from the rows themselves."""
    after = dict(before)
    for wave_id in leftovers_of:
        after["drafts"] = [row for row in after["drafts"] if row["wave_id"] != wave_id]
        after["access_codes"] = [
            row for row in after["access_codes"] if row["wave_id"] != wave_id or row["used"]
        ]
        for table in ("invitations", "progress_snapshots"):
            after[table] = [row for row in after[table] if row["wave_id"] != wave_id]
    for wave_id in responses_of:
        gone = _responses_of(after, wave_id)
        for table in ("answers", "text_answers"):
            after[table] = [row for row in after[table] if row["response_id"] not in gone]
        for table in ("responses", "submission_receipts", "access_codes"):
            after[table] = [row for row in after[table] if row["wave_id"] != wave_id]
    return after


def _responses_of(rows: Rows, wave_id: int) -> set[str]:
    return {row["id"] for row in rows["responses"] if row["wave_id"] == wave_id}


def _answers_of(rows: Rows, wave_id: int) -> int:
    ids = _responses_of(rows, wave_id)
    return sum(row["response_id"] in ids for row in rows["answers"])


def test_a_dry_run_counts_what_would_go_and_changes_nothing(
    settings: Settings, session_factory: sessionmaker[Session], waves: dict[str, int]
) -> None:
    before = every_row(settings.database_url)
    sweeps = apply_retention(session_factory, today=TODAY, retention_years=5, dry_run=True)

    assert every_row(settings.database_url) == before
    assert {sweep.wave: sweep.rows for sweep in sweeps} == {
        "2014": {
            "drafts": 2,
            "unused access codes": 3,
            "staff list entries": 1,
            "progress counts": 0,
            "answers": _answers_of(before, waves["2014"]),
            "text answers": 0,
            "responses": 3,
            "submission receipts": 3,
            "spent access codes": 1,
        },
        "2015": {
            "drafts": 1,
            "unused access codes": 2,
            "staff list entries": 2,
            "progress counts": 1,
        },
    }
    assert _answers_of(before, waves["2014"]) > 3 * 20
    assert [sweep.responses_expired for sweep in sweeps] == [True, False]


def test_apply_deletes_exactly_the_old_waves_responses_and_closed_waves_leftovers(
    settings: Settings, session_factory: sessionmaker[Session], waves: dict[str, int]
) -> None:
    before = every_row(settings.database_url)
    sweeps = apply_retention(
        session_factory, today=TODAY, retention_years=5, dry_run=False, actor="command line (ops)"
    )

    after = every_row(settings.database_url)
    logged = after["audit_events"]
    events = _new_audit_events(before, after)
    assert after == _expected_after(
        before, leftovers_of=[waves["2014"], waves["2015"]], responses_of=[waves["2014"]]
    )
    assert len(after["responses"]) == 4  # 2015's two and 2016's two
    assert sweeps[0].rows["responses"] == 3
    assert len(after["waves"]) == 3  # a wave keeps its dates and headcounts
    assert [(e["actor_email"], e["action"], e["target"], e["details"]) for e in events] == [
        (
            "command line (ops)",
            "retention_applied",
            f"{SURVEY}/2014",
            {
                "responses_expired": True,
                **{what.replace(" ", "_"): n for what, n in sweeps[0].rows.items()},
            },
        ),
        (
            "command line (ops)",
            "retention_applied",
            f"{SURVEY}/2015",
            {
                **KEPT,
                "drafts": 1,
                "unused_access_codes": 2,
                "staff_list_entries": 2,
                "progress_counts": 1,
            },
        ),
    ]
    again = apply_retention(session_factory, today=TODAY, retention_years=5, dry_run=False)
    assert all(count == 0 for sweep in again for count in sweep.rows.values())
    assert every_row(settings.database_url)["audit_events"] == logged  # nothing went: no event


def _new_audit_events(before: Rows, after: Rows) -> list[dict[str, object]]:
    """Taken out of `after`, so the rest can be compared with what was expected; by wave."""
    new = [event for event in after.pop("audit_events") if event not in before["audit_events"]]
    after["audit_events"] = before["audit_events"]
    return sorted(new, key=lambda event: str(event["target"]))


def test_without_a_retention_period_every_response_is_kept(
    settings: Settings, session_factory: sessionmaker[Session], waves: dict[str, int]
) -> None:
    before = every_row(settings.database_url)
    apply_retention(session_factory, today=TODAY, retention_years=None, dry_run=False)
    after = every_row(settings.database_url)
    assert [event["details"] for event in _new_audit_events(before, after)] == [
        {
            **KEPT,
            "drafts": 2,
            "unused_access_codes": 3,
            "staff_list_entries": 1,
            "progress_counts": 0,
        },
        {
            **KEPT,
            "drafts": 1,
            "unused_access_codes": 2,
            "staff_list_entries": 2,
            "progress_counts": 1,
        },
    ]
    assert after == _expected_after(
        before, leftovers_of=[waves["2014"], waves["2015"]], responses_of=[]
    )


def test_responses_go_only_once_the_closing_date_is_more_than_the_period_past(
    session_factory: sessionmaker[Session], waves: dict[str, int]
) -> None:
    with session_factory() as session:
        closed_on = session.scalars(select(Wave.closes_on).where(Wave.key == "2014")).one()
    exactly_six_years = closed_on.replace(year=closed_on.year + 6)
    for today, expired in [(exactly_six_years, False), (exactly_six_years + dt.timedelta(1), True)]:
        sweeps = apply_retention(session_factory, today=today, retention_years=6, dry_run=True)
        assert sweeps[0].wave == "2014"
        assert sweeps[0].responses_expired is expired
        assert sweeps[0].rows.get("responses", 0) == (3 if expired else 0)


def test_the_cutoff_of_a_leap_day() -> None:
    assert retention_cutoff(dt.date(2026, 11, 23), 5) == dt.date(2021, 11, 23)
    assert retention_cutoff(dt.date(2028, 2, 29), 1) == dt.date(2027, 2, 28)


def test_closing_a_wave_deletes_its_drafts_and_unused_codes_and_keeps_only_spent_flags(
    settings: Settings, session_factory: sessionmaker[Session], waves: dict[str, int]
) -> None:
    before = every_row(settings.database_url)
    with transaction(session_factory) as session:
        set_wave_status(
            session=session, survey_key=SURVEY, wave_key="2016", status=WaveStatus.closed
        )

    after = every_row(settings.database_url)
    expected = _expected_after(before, leftovers_of=[waves["2016"]], responses_of=[])
    assert {table: rows for table, rows in after.items() if table != "waves"} == {
        table: rows for table, rows in expected.items() if table != "waves"
    }
    (left,) = [row for row in after["access_codes"] if row["wave_id"] == waves["2016"]]
    # What stays says only that some code was spent: no time, no order, nothing of a response.
    assert left.keys() == {"wave_id", "code_hash", "used"}
    assert left["used"]


def test_the_command_says_what_would_go_then_deletes_it(
    settings: Settings, waves: dict[str, int]
) -> None:
    def run(*args: str, **env: str) -> str:
        result = CliRunner().invoke(
            cli, ["retention", "apply", *args], env={"DATABASE_URL": settings.database_url, **env}
        )
        assert result.exit_code == 0, result.output
        return result.output

    before = every_row(settings.database_url)
    dry = run("--dry-run", RETENTION_YEARS="5")
    assert every_row(settings.database_url) == before
    assert "RETENTION_YEARS=5: waves that closed before" in dry
    assert f"{SURVEY} 2014 (closed " in dry
    assert (
        "would delete 2 drafts, 3 unused access codes, 1 staff list entries, 0 progress counts, "
        in dry
    )
    assert ", 3 responses, 3 submission receipts, 1 spent access codes" in dry
    assert (
        "would delete 1 drafts, 2 unused access codes, 2 staff list entries, 1 progress counts; "
        "responses kept"
    ) in dry
    assert " 2016 " not in dry
    assert dry.endswith("Dry run: nothing was changed.\n")

    kept = run()
    assert "RETENTION_YEARS is not set: every response is kept." in kept
    assert (
        "2014 (closed " in kept
        and "deleted 2 drafts, 3 unused access codes, 1 staff list entries, 0 progress counts; "
        "responses kept"
        in kept
    )
    assert len(every_row(settings.database_url)["responses"]) == 7

    applied = run(RETENTION_YEARS="5")
    assert "deleted 0 drafts, 0 unused access codes, 0 staff list entries, 0 progress" in applied
    assert ", 3 responses, 3 submission receipts, 1 spent access codes" in applied
    assert len(every_row(settings.database_url)["responses"]) == 4
