"""The closing-day rush, small: 50 staff through a real two-worker server on PostgreSQL.

`make load` runs the same driver (bench/load.py) with 500.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import delete, or_, select

from app.db import make_engine, make_session_factory, transaction
from app.demo.seed import OPEN_WAVE, SURVEY
from app.models import Answer, Response, RoleGrouping, SubmissionReceipt, Team
from app.responses.drafts import submission_id_for
from app.responses.service import SubmissionIn, store_response
from bench.load import (
    CONFIRMED,
    Audit,
    Before,
    Behaviour,
    Rush,
    audit,
    before,
    crowd,
    prepare,
    report,
    rush,
    server_environment,
)
from tests.conftest import _settings, fresh_postgres_database
from tests.support.live_server import live_server

pytestmark = pytest.mark.postgres

STAFF = 50
WORKERS = 2


@dataclass(frozen=True)
class LoadRun:
    database_url: str
    secret_key: str
    earlier: Before
    rush: Rush
    audit: Audit


@pytest.fixture(scope="module")
def load_run(postgres_server: str) -> LoadRun:
    url = fresh_postgres_database(postgres_server)
    prepare(url)
    earlier = before(url)
    secret_key = secrets.token_urlsafe(32)
    with live_server(server_environment(url, secret_key), workers=WORKERS) as server:
        result = asyncio.run(
            rush(
                server.url,
                crowd(STAFF, rush_seconds=5.0),
                deadline_seconds=45.0,
                think_seconds=0.1,
            )
        )
    checked = audit(url, secret_key, result.journeys, earlier)
    print(report(result, checked, WORKERS))
    return LoadRun(url, secret_key, earlier, result, checked)


def test_every_finished_journey_is_stored_once_and_whole(load_run: LoadRun) -> None:
    result, checked = load_run.rush, load_run.audit
    assert result.failures == []
    assert result.traffic.server_errors == []
    assert result.traffic.dropped.total() == 0
    assert checked.acknowledged == checked.stored == checked.receipts == STAFF
    assert (checked.lost, checked.without_receipt, checked.duplicates, checked.partial) == (
        0,
        0,
        0,
        0,
    )
    # Every question a respondent is shown in the 2015 questionnaire: dozens each.
    assert checked.answers_stored == checked.answers_sent > STAFF * 30


def test_the_crowd_did_what_it_was_meant_to(load_run: LoadRun) -> None:
    journeys = load_run.rush.journeys
    doubles = [j for j in journeys if j.staff.behaviour == Behaviour.double_submit]
    resumers = [j for j in journeys if j.staff.behaviour == Behaviour.save_and_resume]
    assert len(doubles) == 5 and len(resumers) == 2  # 10% and 5% of 50, rounded half to even
    # Both clicks were answered with the confirmation, and one response stored (above).
    assert [j.submit_replies for j in doubles] == [[CONFIRMED, CONFIRMED]] * len(doubles)
    assert {tuple(j.submit_replies) for j in journeys if j not in doubles} == {(CONFIRMED,)}
    assert all(j.resumed for j in resumers)
    assert load_run.rush.peak_journeys > 10, "the rush should overlap many journeys"
    latencies = load_run.rush.traffic.latencies
    assert len(latencies["GET section"]) >= STAFF * 8
    assert len(latencies["POST submit"]) == STAFF + len(doubles)
    assert len(latencies["POST resume"]) == len(resumers)


def test_the_audit_notices_a_duplicate_a_partial_response_and_a_missing_receipt(
    load_run: LoadRun,
) -> None:
    """The checks above can fail: tamper with what the rush stored, and audit again."""
    copied, unreceipted = [j for j in load_run.rush.journeys if j.acknowledged][:2]
    assert unreceipted.key is not None
    wave_id = load_run.earlier.wave_id
    engine = make_engine(_settings(load_run.database_url))
    factory = make_session_factory(engine)
    sent = copied.sent()
    with transaction(factory) as session:
        store_response(
            session=session,
            survey_key=SURVEY,
            wave_key=OPEN_WAVE,
            submission=SubmissionIn(
                submission_id=uuid.uuid4().hex,
                team=sent.team,
                role=sent.role,
                answers=dict(sent.answers),
            ),
            today=dt.date.today(),
        )
    with transaction(factory) as session:
        # One answer gone from a response that is not the copied journey's.
        response_id, question_id = session.execute(
            select(Answer.response_id, Answer.question_id)
            .join(Response, Response.id == Answer.response_id)
            .join(Team, Team.id == Response.team_id)
            .join(RoleGrouping, RoleGrouping.id == Response.role_grouping_id)
            .where(Response.wave_id == wave_id, Response.id.not_in(load_run.earlier.responses))
            .where(or_(Team.key != sent.team, RoleGrouping.key != sent.role))
            .limit(1)
        ).one()
        session.execute(
            delete(Answer).where(
                Answer.response_id == response_id, Answer.question_id == question_id
            )
        )
        submission_id = submission_id_for(unreceipted.key, load_run.secret_key)
        session.execute(
            delete(SubmissionReceipt).where(
                SubmissionReceipt.wave_id == wave_id,
                SubmissionReceipt.submission_hash
                == hashlib.sha256(submission_id.encode()).hexdigest(),
            )
        )
    engine.dispose()

    again = audit(
        load_run.database_url, load_run.secret_key, load_run.rush.journeys, load_run.earlier
    )

    assert again.problems == [
        "1 acknowledged responses lost",
        "1 acknowledged responses without a receipt",
        "1 duplicate responses",
        "1 partial or unexpected responses",
        f"{STAFF} receipts for {STAFF + 1} responses",
    ]
