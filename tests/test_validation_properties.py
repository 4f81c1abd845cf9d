"""Generative tests of the one validator every submission goes through."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import make_engine, make_session_factory, transaction
from app.migrate import upgrade
from app.responses.service import (
    SubmissionIn,
    SubmissionRejected,
    validate_submission,
    visible_questions,
)
from app.surveys.service import PublishedVersion, publish_definition, published_version
from app.surveys.validation import load_definitions
from tests.conftest import COVENTRY_DIR, _settings
from tests.support.answers import complete_answers


@pytest.fixture(scope="module")
def versions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PublishedVersion]]:
    engine = make_engine(_settings(f"sqlite:///{tmp_path_factory.mktemp('v') / 'v.db'}"))
    upgrade(engine)
    factory = make_session_factory(engine)
    loaded = {}
    for definition in sorted(
        load_definitions(sorted(Path(COVENTRY_DIR).glob("*.yaml"))), key=lambda d: d.version
    ):
        with transaction(factory) as session:
            version, _ = publish_definition(session=session, definition=definition)
            loaded[definition.version] = published_version(session=session, version=version)
    yield loaded
    engine.dispose()


@st.composite
def respondents(draw: st.DrawFn, published: PublishedVersion) -> SubmissionIn:
    """Anyone the form could produce: random options, routing followed."""
    choices = {
        q.key: draw(st.sampled_from([o.code for o in q.options]))
        for q in published.questions
        if q.options
    }
    return SubmissionIn(
        submission_id="x" * 20,
        team=draw(st.sampled_from(sorted(published.team_ids))),
        role=draw(st.sampled_from(sorted(published.role_ids))),
        answers=complete_answers(published, choices),
    )


def _errors(published: PublishedVersion, submission: SubmissionIn) -> list[tuple[str, str]]:
    with pytest.raises(SubmissionRejected) as rejected:
        validate_submission(published, submission)
    return [(error.field, error.code) for error in rejected.value.errors]


SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.parametrize("version", ["2014", "2015"])
@SETTINGS
@given(data=st.data())
def test_whatever_the_form_produces_is_stored_in_full(
    versions: dict[str, PublishedVersion], version: str, data: st.DataObject
) -> None:
    published = versions[version]
    submission = data.draw(respondents(published))
    rows = validate_submission(published, submission)
    stored = {question_id for question_id, _, _ in rows}
    assert stored == {published.question_ids[key] for key in submission.answers}
    shown = visible_questions(published, submission.answers)
    assert {q.key for q in shown if q.options} == set(submission.answers)


@pytest.mark.parametrize("version", ["2014", "2015"])
@SETTINGS
@given(data=st.data())
def test_a_wrong_code_is_one_error_on_that_question(
    versions: dict[str, PublishedVersion], version: str, data: st.DataObject
) -> None:
    published = versions[version]
    submission = data.draw(respondents(published))
    key = data.draw(st.sampled_from(sorted(submission.answers)))
    wrong = data.draw(st.text(alphabet="abcxyz_", min_size=1, max_size=8))
    codes = published.option_ids[key]
    if wrong in codes:
        return
    answers = dict(submission.answers, **{key: wrong})
    assert _errors(published, submission.model_copy(update={"answers": answers})) == [
        (f"answers.{key}", "unknown_option")
    ]


@pytest.mark.parametrize("version", ["2014", "2015"])
@SETTINGS
@given(data=st.data())
def test_answering_a_question_not_asked_is_one_error_on_it(
    versions: dict[str, PublishedVersion], version: str, data: st.DataObject
) -> None:
    published = versions[version]
    submission = data.draw(respondents(published))
    hidden = [q for q in published.questions if q.key not in submission.answers and q.options]
    if not hidden:
        return
    question = data.draw(st.sampled_from(hidden))
    answers = dict(submission.answers, **{question.key: question.options[0].code})
    assert _errors(published, submission.model_copy(update={"answers": answers})) == [
        (f"answers.{question.key}", "not_asked")
    ]


@pytest.mark.parametrize("version", ["2014", "2015"])
@SETTINGS
@given(data=st.data())
def test_leaving_out_a_question_is_a_required_error_on_it(
    versions: dict[str, PublishedVersion], version: str, data: st.DataObject
) -> None:
    published = versions[version]
    submission = data.draw(respondents(published))
    key = data.draw(st.sampled_from(sorted(submission.answers)))
    answers = {k: v for k, v in submission.answers.items() if k != key}
    errors = _errors(published, submission.model_copy(update={"answers": answers}))
    assert (f"answers.{key}", "required") in errors
    # Leaving out a question others depend on may also leave their answers unasked; nothing else.
    assert {code for _, code in errors} <= {"required", "not_asked"}
