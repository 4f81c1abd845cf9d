"""Storing a response: every way in goes through store_response, tested here through the API."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models import Answer, Response, SubmissionReceipt, WaveStatus
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import get_wave, published_version
from tests.support.answers import complete_answers
from tests.support.factories import create_wave_for_test

SURVEY = "coventry-supervision"
URL = f"/api/v1/surveys/{SURVEY}/waves/2015/responses"


@pytest.fixture
def open_wave(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> sessionmaker[Session]:
    create_wave_for_test(session_factory, opens_in_days=-3, closes_in_days=10)
    return session_factory


def _published(factory: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    with transaction(factory) as session:
        wave = get_wave(session=session, survey_key=SURVEY, wave_key="2015")
        return published_version(session=session, version=wave.version)


def _numbers(factory: sessionmaker[Session]) -> dict[str, str]:
    """Printed number -> question key."""
    return {q.number: q.key for q in _published(factory).questions}


def _body(factory: sessionmaker[Session], **chosen: str) -> dict[str, object]:
    published = _published(factory)
    return {
        "submission_id": uuid.uuid4().hex,
        "team": "referral_assessment"
        if "referral_assessment" in published.team_ids
        else next(iter(published.team_ids)),
        "role": "social_worker",
        "answers": complete_answers(published, chosen),
    }


def _count(factory: sessionmaker[Session], model: type) -> int:
    with transaction(factory) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_valid_response_is_stored_with_its_answers(
    open_wave: sessionmaker[Session], client: TestClient
) -> None:
    body = _body(open_wave)
    reply = client.post(URL, json=body)
    assert reply.status_code == 201, reply.text
    response_id = reply.json()["id"]
    with transaction(open_wave) as session:
        stored = session.get(Response, response_id)
        assert stored is not None
        answers = session.scalar(
            select(func.count()).select_from(Answer).where(Answer.response_id == response_id)
        )
    assert answers == len(body["answers"])  # type: ignore[arg-type]


def test_a_retried_submission_stores_one_response(
    open_wave: sessionmaker[Session], client: TestClient
) -> None:
    body = _body(open_wave)
    first = client.post(URL, json=body)
    again = client.post(URL, json=body)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["status"] == "already_stored"
    assert again.json()["id"] is None
    assert _count(open_wave, Response) == 1
    assert _count(open_wave, SubmissionReceipt) == 1


def test_a_wrong_option_code_is_422_naming_the_question_and_nothing_is_stored(
    open_wave: sessionmaker[Session], client: TestClient
) -> None:
    numbers = _numbers(open_wave)
    body = _body(open_wave)
    body["answers"][numbers["4a"]] = "maybe"  # type: ignore[index]
    reply = client.post(URL, json=body)
    assert reply.status_code == 422
    errors = reply.json()["errors"]
    assert errors == [
        {
            "field": f"answers.{numbers['4a']}",
            "question": "4a",
            "code": "unknown_option",
            "message": "'maybe' is not an answer to question 4a (its answers are: yes, no).",
        }
    ]
    assert _count(open_wave, Response) == 0
    assert _count(open_wave, SubmissionReceipt) == 0


def test_every_problem_is_reported_at_once(
    open_wave: sessionmaker[Session], client: TestClient
) -> None:
    published = _published(open_wave)
    numbers = _numbers(open_wave)
    supervises = published.audiences["supervisors"].question
    new_in_post = published.audiences["new_in_post"].question
    body = _body(open_wave, **{supervises: "no", new_in_post: "yes", numbers["4a"]: "no"})
    answers = body["answers"]
    assert isinstance(answers, dict)
    answers[numbers["4b"]] = "yes"  # hidden: 4a is No
    answers[numbers["18a"]] = "always"  # not for someone who does not supervise
    answers["no_such_question"] = "yes"
    del answers[numbers["9"]]  # required
    answers[numbers["10"]] = ["yes", "no"]  # one answer only
    body["team"] = "atlantis"
    body["role"] = "wizard"
    reply = client.post(URL, json=body)
    assert reply.status_code == 422
    by_field = {error["field"]: error for error in reply.json()["errors"]}
    assert by_field["team"]["code"] == "unknown_team"
    assert by_field["role"]["code"] == "unknown_role"
    assert by_field["answers.no_such_question"]["code"] == "unknown_question"
    assert by_field[f"answers.{numbers['4b']}"]["code"] == "not_asked"
    assert by_field[f"answers.{numbers['18a']}"]["code"] == "not_asked"
    assert "only for" in by_field[f"answers.{numbers['18a']}"]["message"]
    assert by_field[f"answers.{numbers['9']}"]["code"] == "required"
    assert by_field[f"answers.{numbers['10']}"]["code"] == "one_answer"
    assert len(by_field) == 7
    assert _count(open_wave, Response) == 0


def test_conditional_questions_follow_the_routing(
    open_wave: sessionmaker[Session], client: TestClient
) -> None:
    """4b is asked of someone new in post who has an agreement; leaving it out is an error."""
    published = _published(open_wave)
    numbers = _numbers(open_wave)
    new_in_post = published.audiences["new_in_post"].question
    body = _body(open_wave, **{new_in_post: "yes", numbers["4a"]: "yes"})
    assert numbers["4b"] in body["answers"]  # type: ignore[operator]
    del body["answers"][numbers["4b"]]  # type: ignore[attr-defined]
    reply = client.post(URL, json=body)
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == f"answers.{numbers['4b']}"


@pytest.mark.parametrize(
    ("status", "opens", "closes", "state"),
    [
        (WaveStatus.closed, -10, 10, "closed"),
        (WaveStatus.open, -20, -1, "closed"),
        (WaveStatus.scheduled, -1, 10, "not_open"),
        (WaveStatus.open, 2, 10, "not_open"),
    ],
)
def test_a_closed_or_unopened_wave_is_409_and_stores_nothing(
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
    client: TestClient,
    status: WaveStatus,
    opens: int,
    closes: int,
    state: str,
) -> None:
    create_wave_for_test(session_factory, opens_in_days=opens, closes_in_days=closes, status=status)
    reply = client.post(URL, json=_body(session_factory))
    assert reply.status_code == 409
    assert reply.json()["state"] == state
    assert ("closed on" if state == "closed" else "opens on") in reply.json()["detail"]
    assert _count(session_factory, Response) == 0


def test_an_oversized_body_is_413(open_wave: sessionmaker[Session], client: TestClient) -> None:
    body = _body(open_wave)
    body["padding"] = "x" * 300_000
    reply = client.post(URL, json=body)
    assert reply.status_code == 413
    assert "larger than" in reply.json()["detail"]


def test_an_oversized_body_without_a_length_is_413(
    open_wave: sessionmaker[Session], client: TestClient
) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 10_000

    reply = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
    assert reply.status_code == 413


def test_malformed_json_is_422_with_a_field_level_body(
    open_wave: sessionmaker[Session], client: TestClient
) -> None:
    reply = client.post(URL, content=b'{"team": ', headers={"content-type": "application/json"})
    assert reply.status_code == 422
    assert reply.json()["errors"][0]["field"] == "body"


def test_a_body_of_the_wrong_shape_names_each_field(
    open_wave: sessionmaker[Session], client: TestClient
) -> None:
    reply = client.post(URL, json={"team": 3, "answers": "all good", "ip": "1.2.3.4"})
    assert reply.status_code == 422
    fields = {error["field"] for error in reply.json()["errors"]}
    assert {"submission_id", "team", "role", "answers", "ip"} <= fields


def test_an_unknown_wave_is_404(coventry: dict[str, SurveyDefinition], client: TestClient) -> None:
    reply = client.post(
        f"/api/v1/surveys/{SURVEY}/waves/1999/responses",
        json={"submission_id": uuid.uuid4().hex, "team": "x", "role": "y", "answers": {}},
    )
    assert reply.status_code == 404
