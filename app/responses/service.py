"""The one way a response is stored, whatever it came through (API, pages, load tests)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy import Insert, bindparam, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import (
    Base,
    Survey,
    SurveyVersion,
    Wave,
    WaveStatus,
)
from app.surveys.definitions import (
    QuestionType,
    ResolvedQuestion,
    condition_holds,
    condition_questions,
)
from app.surveys.service import NotFound, PublishedVersion, published_version

MAX_TEXT_ANSWER = 2000
MAX_ANSWERS = 500

AnswerMap = dict[str, str | list[str]]
"""Question key to an option code, a list of codes, or text."""

AnswerValue = (
    Annotated[str, StringConstraints(max_length=MAX_TEXT_ANSWER)]
    | Annotated[list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=50)]
)


class SubmissionIn(BaseModel):
    """A completed questionnaire, as any client sends it."""

    model_config = ConfigDict(extra="forbid")

    submission_id: Annotated[
        str, StringConstraints(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    ] = Field(
        description="A random id the client makes once per questionnaire; "
        "sending it again stores nothing twice."
    )
    team: Annotated[str, StringConstraints(max_length=64)]
    role: Annotated[str, StringConstraints(max_length=64)]
    answers: dict[Annotated[str, StringConstraints(max_length=64)], AnswerValue] = Field(
        max_length=MAX_ANSWERS,
        description="question key -> option code, list of option codes, or text",
    )
    access_code: Annotated[str, StringConstraints(max_length=64)] | None = Field(
        default=None,
        description="The single-use access code a wave that requires codes was sent out with: "
        "spent when the response is stored, and never stored with it.",
    )


class FieldError(BaseModel):
    field: str
    """"team", "role", or "answers.<question key>"."""
    question: str | None = None
    """The printed question number, where the problem is an answer."""
    code: str
    message: str


class SubmissionRejected(Exception):
    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


class WaveNotAccepting(Exception):
    """The wave is not open for responses: not yet opened, or closed."""

    def __init__(self, message: str, *, state: str):
        self.state = state
        super().__init__(message)


class StoreStatus(StrEnum):
    stored = "stored"
    already_stored = "already_stored"


@dataclass(frozen=True)
class StoreOutcome:
    status: StoreStatus
    response_id: str | None


def store_response(
    *,
    session: Session,
    survey_key: str,
    wave_key: str,
    submission: SubmissionIn,
    today: dt.date,
) -> StoreOutcome:
    """Check a submission against its wave's published version and store it in one transaction.

    Every problem is reported at once, field by field. A submission id already stored for the wave
    stores nothing and says so, whatever the wave's state is now.
    """
    connection = session.connection()
    wave = connection.execute(_WAVE_QUERY, {"survey": survey_key, "wave": wave_key}).first()
    if wave is None:
        raise NotFound(f"survey {survey_key!r} has no wave {wave_key!r}")
    receipt = _receipt(submission.submission_id)
    # First, so that a retry is recognised whatever the wave's state is now; anything raised
    # below rolls the receipt back with the rest.
    claimed = connection.execute(
        _insert_receipt(connection.dialect.name),
        {"wave_id": wave.id, "submission_hash": receipt},
    )
    if claimed.first() is None:
        return StoreOutcome(StoreStatus.already_stored, None)
    check_wave_accepting(wave, today)

    published = published_version(session=session, version=wave)
    answer_rows = validate_submission(published, submission)
    response_id = uuid.uuid4().hex
    connection.execute(
        _INSERT_RESPONSE,
        {
            "id": response_id,
            "wave_id": wave.id,
            "team_id": published.team_ids[submission.team],
            "role_grouping_id": published.role_ids[submission.role],
        },
    )
    choices = [
        {"response_id": response_id, "question_id": question_id, "option_id": option_id}
        for question_id, option_id, _ in answer_rows
        if option_id is not None
    ]
    if choices:
        # RETURNING makes SQLAlchemy batch the rows into one multi-row INSERT ("insertmanyvalues"):
        # one round trip, where a plain executemany makes one per answer.
        connection.execute(_INSERT_ANSWER, choices)
    texts = [
        {"response_id": response_id, "question_id": question_id, "text": text}
        for question_id, option_id, text in answer_rows
        if option_id is None
    ]
    if texts:
        connection.execute(_INSERT_TEXT, texts)
    return StoreOutcome(StoreStatus.stored, response_id)


def _receipt(submission_id: str) -> str:
    return hashlib.sha256(submission_id.encode()).hexdigest()


def submission_received(*, session: Session, wave_id: int, submission_id: str) -> bool:
    table = Base.metadata.tables["submission_receipts"]
    found = session.execute(
        select(table.c.wave_id).where(
            table.c.wave_id == wave_id, table.c.submission_hash == _receipt(submission_id)
        )
    ).first()
    return found is not None


_WAVE_QUERY = (
    select(
        Wave.id,
        Wave.key,
        Wave.status,
        Wave.opens_on,
        Wave.closes_on,
        Wave.access_codes_required,
        Wave.suppression_threshold,
        Wave.team_role_breakdown,
        Wave.title,
        SurveyVersion.id.label("version_id"),
        SurveyVersion.content_hash,
        SurveyVersion.published_at,
    )
    .join(Survey, Survey.id == Wave.survey_id)
    .join(SurveyVersion, SurveyVersion.id == Wave.version_id)
    .where(Survey.key == bindparam("survey"), Wave.key == bindparam("wave"))
)
_INSERT_RESPONSE = insert(Base.metadata.tables["responses"])
_INSERT_ANSWER = insert(Base.metadata.tables["answers"]).returning(
    Base.metadata.tables["answers"].c.option_id
)
_INSERT_TEXT = insert(Base.metadata.tables["text_answers"])


def _insert_receipt(dialect: str) -> Insert:
    """A receipt, unless one for the same submission exists: then no row comes back, and no error
    is raised, so no savepoint is needed."""
    table = Base.metadata.tables["submission_receipts"]
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing().returning(table.c.wave_id)
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing().returning(table.c.wave_id)
    raise NotImplementedError(f"no receipt insert for {dialect}")


class WaveDates(Protocol):
    @property
    def key(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def opens_on(self) -> dt.date: ...
    @property
    def closes_on(self) -> dt.date: ...


SECONDS_PER_QUESTION = 8


@dataclass(frozen=True)
class OpenedWave:
    """A wave's dates and state with its published version: what a respondent page needs."""

    id: int
    key: str
    status: str
    opens_on: dt.date
    closes_on: dt.date
    access_codes_required: bool
    published: PublishedVersion
    threshold_set_by_owner: int | None = None
    team_role_breakdown: bool = False
    """Whether the wave's release has team × role grouping figures."""
    title_set_by_owner: str | None = None

    @property
    def title(self) -> str:
        """What its respondent pages are headed: the owner's title, or else the survey's
        title and the wave's key."""
        return self.title_set_by_owner or f"{self.published.definition.survey_title} {self.key}"

    @property
    def minutes_to_answer(self) -> int:
        """What the start page and the invitation promise: every question at a reading pace,
        though routing shows each person fewer."""
        return max(5, round(len(self.published.questions) * SECONDS_PER_QUESTION / 60))

    @property
    def suppression_threshold(self) -> int:
        """`k` for this wave: the survey owner's, or else the version's."""
        return self.threshold_set_by_owner or self.published.definition.suppression_threshold


def load_wave(*, session: Session, survey_key: str, wave_key: str) -> OpenedWave:
    row = (
        session.connection().execute(_WAVE_QUERY, {"survey": survey_key, "wave": wave_key}).first()
    )
    if row is None:
        raise NotFound(f"survey {survey_key!r} has no wave {wave_key!r}")
    return OpenedWave(
        id=row.id,
        key=row.key,
        status=row.status,
        opens_on=row.opens_on,
        closes_on=row.closes_on,
        access_codes_required=row.access_codes_required,
        published=published_version(session=session, version=row),
        threshold_set_by_owner=row.suppression_threshold,
        team_role_breakdown=row.team_role_breakdown,
        title_set_by_owner=row.title,
    )


def wave_state(wave: WaveDates, today: dt.date) -> str:
    """ "open", "not_open" (scheduled, or before its opening date) or "closed"."""
    if wave.status == WaveStatus.closed or today > wave.closes_on:
        return "closed"
    if wave.status == WaveStatus.scheduled or today < wave.opens_on:
        return "not_open"
    return "open"


def check_wave_accepting(wave: WaveDates, today: dt.date) -> None:
    state = wave_state(wave, today)
    if state == "closed":
        raise WaveNotAccepting(
            f"Wave {wave.key} closed on {wave.closes_on:%-d %B %Y}: "
            "it no longer accepts responses.",
            state=state,
        )
    if state == "not_open":
        raise WaveNotAccepting(
            f"Wave {wave.key} is not open yet: it opens on {wave.opens_on:%-d %B %Y}.",
            state=state,
        )


def visible_questions(
    published: PublishedVersion, answers: dict[str, str | list[str]]
) -> list[ResolvedQuestion]:
    """The questions this respondent meets, in order, given their answers so far.

    A condition reads only answers to questions the respondent was actually shown.
    """
    seen: dict[str, str | list[str]] = {}
    shown: list[ResolvedQuestion] = []
    for question in published.questions:
        if not applies(published, question, seen):
            continue
        shown.append(question)
        if question.key in answers:
            seen[question.key] = answers[question.key]
    return shown


def applies(
    published: PublishedVersion,
    question: ResolvedQuestion,
    seen: Mapping[str, str | list[str]],
) -> bool:
    return not _unmet_audiences(published, question, seen) and (
        question.show_if is None or condition_holds(question.show_if, seen)
    )


def _unmet_audiences(
    published: PublishedVersion, question: ResolvedQuestion, seen: Mapping[str, str | list[str]]
) -> list[str]:
    return [
        published.audiences[key].label
        for key in question.applies_to
        if not condition_holds(published.audience_conditions[key], seen)
    ]


def validate_submission(
    published: PublishedVersion, submission: SubmissionIn
) -> list[tuple[int, int | None, str | None]]:
    """Rows to store as (question id, option id or None, text or None), or every problem."""
    errors: list[FieldError] = []
    if submission.team not in published.team_ids:
        errors.append(
            FieldError(
                field="team",
                code="unknown_team",
                message=f"There is no team {submission.team!r} in version {published.version_key}.",
            )
        )
    if submission.role not in published.role_ids:
        errors.append(
            FieldError(
                field="role",
                code="unknown_role",
                message=f"There is no role grouping {submission.role!r} in version "
                f"{published.version_key}.",
            )
        )
    by_key = published.by_key
    for key in submission.answers:
        if key not in by_key:
            errors.append(
                FieldError(
                    field=f"answers.{key}",
                    code="unknown_question",
                    message=f"There is no question {key!r} in version {published.version_key}.",
                )
            )
    checked = {
        question.key: _answer_rows(published, question, submission.answers[question.key])
        for question in published.questions
        if _given(submission.answers.get(question.key))
    }
    invalid = {key for key, (problem, _) in checked.items() if problem}
    # Whether a question is asked cannot be known when it depends, directly or through another
    # question, on an answer that is itself wrong: report the wrong answer, not its echoes.
    unsettled = set(invalid)
    if invalid:
        for question in published.questions:
            if _depends_on(published, question) & unsettled:
                unsettled.add(question.key)
    shown_keys = {question.key for question in visible_questions(published, submission.answers)}
    rows: list[tuple[int, int | None, str | None]] = []
    for question in published.questions:
        field = f"answers.{question.key}"
        if question.key in invalid:
            code, message = checked[question.key][0]  # type: ignore[misc]
            errors.append(
                FieldError(field=field, question=question.number, code=code, message=message)
            )
            continue
        if question.key in unsettled:
            continue
        answered = question.key in checked
        if question.key not in shown_keys:
            if answered:
                errors.append(
                    FieldError(
                        field=field,
                        question=question.number,
                        code="not_asked",
                        message=f"Question {question.number} is not asked of this respondent "
                        f"({_why_hidden(published, question, submission.answers)}), "
                        "so it cannot be answered.",
                    )
                )
        elif answered:
            rows.extend(checked[question.key][1])
        elif question.required:
            errors.append(
                FieldError(
                    field=field,
                    question=question.number,
                    code="required",
                    message=f"Answer question {question.number}: {question.text}",
                )
            )
    if errors:
        raise SubmissionRejected(errors)
    return rows


def _given(value: str | list[str] | None) -> bool:
    return value is not None and value != "" and value != []


def _depends_on(published: PublishedVersion, question: ResolvedQuestion) -> set[str]:
    """The questions whose answers decide whether this one is asked."""
    keys = {published.audiences[key].question for key in question.applies_to}
    if question.show_if is not None:
        keys.update(condition_questions(question.show_if))
    return keys


def _answer_rows(
    published: PublishedVersion, question: ResolvedQuestion, given: str | list[str]
) -> tuple[tuple[str, str] | None, list[tuple[int, int | None, str | None]]]:
    question_id = published.question_ids[question.key]
    if question.type == QuestionType.free_text:
        if not isinstance(given, str):
            return ("wrong_type", f"Question {question.number} takes text."), []
        return None, [(question_id, None, given)]
    codes = published.option_ids[question.key]
    if question.type == QuestionType.multiple_choice:
        chosen = given if isinstance(given, list) else [given]
        if len(set(chosen)) != len(chosen):
            return ("repeated_option", f"Question {question.number} lists an option twice."), []
    elif isinstance(given, list):
        return ("one_answer", f"Question {question.number} takes one answer, not a list."), []
    else:
        chosen = [given]
    unknown = [code for code in chosen if code not in codes]
    if unknown:
        return (
            "unknown_option",
            f"{unknown[0]!r} is not an answer to question {question.number} "
            f"(its answers are: {', '.join(codes)}).",
        ), []
    return None, [(question_id, codes[code], None) for code in chosen]


def _why_hidden(
    published: PublishedVersion, question: ResolvedQuestion, answers: dict[str, str | list[str]]
) -> str:
    unmet = _unmet_audiences(published, question, answers)
    if unmet:
        return "it is only for: " + "; ".join(unmet)
    return "it depends on earlier answers that do not call for it"
