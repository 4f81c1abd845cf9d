"""Multiple choice, free text, optional questions and nested conditions, stored for real."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models import Answer, Option, Question, TextAnswer, WaveStatus
from app.responses.service import SubmissionIn, SubmissionRejected, store_response
from app.surveys.service import create_wave, publish_definition
from app.surveys.validation import load_definition
from tests.conftest import DATA

TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def mini(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    definition = load_definition(DATA / "mini-survey" / "1.yaml")
    with transaction(session_factory) as session:
        publish_definition(session=session, definition=definition)
        create_wave(
            session=session, survey_key="mini-survey", wave_key="2026", version_key="1",
            opens_on=dt.date(2026, 1, 1), closes_on=dt.date(2026, 12, 31),
            status=WaveStatus.open,
        )  # fmt: skip
    return session_factory


def _store(factory: sessionmaker[Session], answers: dict[str, str | list[str]]) -> str | None:
    with transaction(factory) as session:
        return store_response(
            session=session,
            survey_key="mini-survey",
            wave_key="2026",
            submission=SubmissionIn(
                submission_id=uuid.uuid4().hex, team="north", role="worker", answers=answers
            ),
            today=TODAY,
        ).response_id


def test_multiple_choice_and_free_text_are_stored(mini: sessionmaker[Session]) -> None:
    response_id = _store(
        mini,
        {"manages": "yes", "support": ["peer", "group"], "support_comment": "Fortnightly peer group", "budget": "no"},
    )  # fmt: skip
    with transaction(mini) as session:
        chosen = session.execute(
            select(Question.key, Option.code)
            .join(Answer, Answer.question_id == Question.id)
            .join(Option, Option.id == Answer.option_id)
            .where(Answer.response_id == response_id)
        ).all()
        text = session.scalar(select(TextAnswer.text).where(TextAnswer.response_id == response_id))
    assert sorted(map(tuple, chosen)) == [
        ("budget", "no"), ("manages", "yes"), ("support", "group"), ("support", "peer"),
    ]  # fmt: skip
    assert text == "Fortnightly peer group"


def test_an_optional_question_may_be_left_out(mini: sessionmaker[Session]) -> None:
    assert _store(mini, {"manages": "no", "support": ["group"]}) is not None


@pytest.mark.parametrize(
    ("answers", "field", "code"),
    [
        ({"manages": "no", "support": ["peer", "peer"]}, "answers.support", "repeated_option"),
        ({"manages": "no", "support": ["peer", "cake"]}, "answers.support", "unknown_option"),
        ({"manages": "no", "support": []}, "answers.support", "required"),
        ({"manages": "no", "support": ["none"], "support_comment": "x"}, "answers.support_comment", "not_asked"),
        ({"manages": "no", "support": ["peer"], "support_comment": "x"}, "answers.support_comment", "not_asked"),
        ({"manages": "yes", "support": ["peer"], "support_comment": ["x"], "budget": "no"}, "answers.support_comment", "wrong_type"),
        ({"manages": "no", "support": ["none"], "budget": "yes"}, "answers.budget", "not_asked"),
        ({"manages": "yes", "support": ["none"]}, "answers.budget", "required"),
    ],
)  # fmt: skip
def test_routing_and_types_are_enforced(
    mini: sessionmaker[Session], answers: dict[str, str | list[str]], field: str, code: str
) -> None:
    with pytest.raises(SubmissionRejected) as rejected:
        _store(mini, answers)
    assert [(e.field, e.code) for e in rejected.value.errors] == [(field, code)]


def test_a_survey_sets_its_own_threshold(mini: sessionmaker[Session]) -> None:
    from app.models import Survey

    with transaction(mini) as session:
        survey = session.scalar(select(Survey).where(Survey.key == "mini-survey"))
        assert survey is not None
        assert survey.suppression_threshold == 10
