"""Properties that must always hold: no stored response can be linked to a person, a code, a key
or a time of day; logs never hold answers, codes or keys."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Date, DateTime, Engine, Interval, Time, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import Base, Response, SubmissionReceipt
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import get_wave, published_version
from tests.support.answers import complete_answers
from tests.support.factories import create_wave_for_test

SURVEY = "coventry-supervision"
RESPONDENT_TABLES = ("responses", "answers", "text_answers", "submission_receipts", "drafts")


def test_a_response_row_holds_only_id_wave_team_and_role() -> None:
    columns = {column.name for column in Base.metadata.tables["responses"].columns}
    assert columns == {"id", "wave_id", "team_id", "role_grouping_id"}


@pytest.mark.parametrize("table", RESPONDENT_TABLES)
def test_no_respondent_table_records_a_date_or_time(table: str) -> None:
    """In a small team, the day someone answered can be known to their manager: the wave is
    the only time a response carries."""
    for column in Base.metadata.tables[table].columns:
        assert not isinstance(column.type, Date | DateTime | Time | Interval), column
        assert column.server_default is None, column


def test_the_receipt_that_stops_double_submission_is_not_linked_to_the_response() -> None:
    receipts = Base.metadata.tables["submission_receipts"]
    assert {fk.column.table.name for fk in receipts.foreign_keys} == {"waves"}
    assert {column.name for column in receipts.columns} == {"wave_id", "submission_hash"}
    responses = Base.metadata.tables["responses"]
    assert "submission_receipts" not in {fk.column.table.name for fk in responses.foreign_keys}


def test_the_database_schema_agrees(engine: Engine) -> None:
    """The migrated database, not just the models: no time columns where respondents write."""
    inspector = inspect(engine)
    for table in RESPONDENT_TABLES:
        for column in inspector.get_columns(table):
            assert "TIME" not in str(column["type"]).upper(), (table, column["name"])


@pytest.fixture
def wave_2015(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> sessionmaker[Session]:
    create_wave_for_test(session_factory)
    return session_factory


def _submission(factory: sessionmaker[Session]) -> dict[str, object]:
    with transaction(factory) as session:
        wave = get_wave(session=session, survey_key=SURVEY, wave_key="2015")
        published = published_version(session=session, version=wave.version)
    return {
        "submission_id": uuid.uuid4().hex,
        "team": next(iter(published.team_ids)),
        "role": next(iter(published.role_ids)),
        "answers": complete_answers(published),
    }


def test_stored_rows_hold_nothing_from_the_request_but_the_answers(
    wave_2015: sessionmaker[Session], client: TestClient
) -> None:
    body = _submission(wave_2015)
    reply = client.post(
        f"/api/v1/surveys/{SURVEY}/waves/2015/responses",
        json=body,
        headers={"user-agent": "Mozilla/5.0 respondent-laptop", "x-forwarded-for": "10.1.2.3"},
    )
    assert reply.status_code == 201
    with transaction(wave_2015) as session:
        (response,) = session.scalars(select(Response)).all()
        (receipt,) = session.scalars(select(SubmissionReceipt)).all()
        stored = {c.name: getattr(response, c.name) for c in Response.__table__.columns}
    assert uuid.UUID(response.id).version == 4  # random: no clock, no counter
    flat = json.dumps(stored, default=str)
    for secret in ("respondent-laptop", "10.1.2.3", str(body["submission_id"])):
        assert secret not in flat
    assert (
        receipt.submission_hash == hashlib.sha256(str(body["submission_id"]).encode()).hexdigest()
    )
    assert receipt.submission_hash not in flat


def test_logs_never_hold_answers_or_submission_ids(
    wave_2015: sessionmaker[Session],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Even with every logger at DEBUG and SQL echo on."""
    loud = settings.model_copy(update={"sql_echo": True})
    body = _submission(wave_2015)
    answers = body["answers"]
    assert isinstance(answers, dict)
    wrong = dict(answers, **{next(iter(answers)): "a-wrong-code-xyz"})
    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(loud)) as client:
        url = f"/api/v1/surveys/{SURVEY}/waves/2015/responses"
        assert client.post(url, json=dict(body, answers=wrong)).status_code == 422
        assert client.post(url, json=body).status_code == 201
        assert client.post(url, json=body).status_code == 200
    logged = caplog.text
    assert "INSERT INTO responses" in logged  # the SQL really was logged...
    assert str(body["submission_id"]) not in logged  # ...but none of its values
    assert hashlib.sha256(str(body["submission_id"]).encode()).hexdigest() not in logged
    assert "a-wrong-code-xyz" not in logged
    for key, code in answers.items():
        assert f"{key}={code}" not in logged and f"'{code}'" not in logged
