"""Publishing versions and opening waves: the survey owner's side of the data flow."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sqlalchemy import delete, exists, select, text
from sqlalchemy.orm import Session

from app.cache import FrozenCache
from app.fieldwork.models import Invitation, ProgressSnapshot
from app.models import (
    AccessCode,
    Draft,
    Headcount,
    Option,
    Question,
    Response,
    RoleGrouping,
    Survey,
    SurveyVersion,
    Team,
    TeamSuccession,
    Wave,
    WaveStatus,
)
from app.surveys.definitions import (
    AnswerIn,
    Audience,
    ResolvedQuestion,
    SurveyDefinition,
    content_hash,
    resolve_questions,
)


class PublishOutcome(StrEnum):
    created = "created"
    unchanged = "unchanged"
    replaced = "replaced"


class PublishRefused(Exception):
    """Publishing would change what respondents have already answered, or lacks its predecessor."""


class NotFound(Exception):
    pass


def publish_definition(
    *, session: Session, definition: SurveyDefinition
) -> tuple[SurveyVersion, PublishOutcome]:
    """Store a version, or leave it be when its content is unchanged.

    Different content for an existing version is accepted only while no response uses it: once
    staff have answered a version, a fix has to be a new version.
    """
    survey = session.scalar(select(Survey).where(Survey.key == definition.survey))
    if survey is None:
        survey = Survey(
            key=definition.survey,
            title=definition.survey_title,
            suppression_threshold=definition.suppression_threshold,
        )
        session.add(survey)
        session.flush()
    digest = content_hash(definition)
    version = session.scalar(
        select(SurveyVersion).where(
            SurveyVersion.survey_id == survey.id, SurveyVersion.key == definition.version
        )
    )
    previous = None
    if definition.previous_version is not None:
        previous = session.scalar(
            select(SurveyVersion).where(
                SurveyVersion.survey_id == survey.id,
                SurveyVersion.key == definition.previous_version,
            )
        )
        if previous is None:
            raise PublishRefused(
                f"{definition.survey} {definition.version} continues version "
                f"{definition.previous_version}, which is not published: publish it first"
            )

    if version is not None and version.content_hash == digest:
        return version, PublishOutcome.unchanged
    if version is not None:
        if version_has_responses(session=session, version_id=version.id):
            raise PublishRefused(
                f"{definition.survey} version {definition.version} already has responses, so it "
                "can never change. Publish the corrected questionnaire as a new version (for "
                f'example version: "{definition.version}.1") and use it for the next wave.'
            )
        session.execute(delete(Team).where(Team.version_id == version.id))
        session.execute(delete(RoleGrouping).where(RoleGrouping.version_id == version.id))
        session.execute(delete(Question).where(Question.version_id == version.id))
        session.expire(version)
        outcome = PublishOutcome.replaced
    else:
        version = SurveyVersion(survey_id=survey.id, key=definition.version)
        session.add(version)
        outcome = PublishOutcome.created

    survey.title = definition.survey_title
    survey.suppression_threshold = definition.suppression_threshold
    version.title = definition.title
    version.content_hash = digest
    version.definition = definition.model_dump(mode="json", by_alias=True)
    version.previous_version_key = definition.previous_version
    version.published_at = dt.datetime.now(dt.UTC)
    session.flush()
    _store_population(session, version, definition, previous)
    _store_questions(session, version, resolve_questions(definition))
    if outcome == PublishOutcome.replaced:
        for wave in session.scalars(select(Wave).where(Wave.version_id == version.id)):
            _reset_headcounts(session, wave)
    return version, outcome


def version_has_responses(*, session: Session, version_id: int) -> bool:
    return bool(
        session.scalar(
            select(exists().where(Response.wave_id == Wave.id, Wave.version_id == version_id))
        )
    )


def _store_population(
    session: Session,
    version: SurveyVersion,
    definition: SurveyDefinition,
    previous: SurveyVersion | None,
) -> None:
    teams = [
        Team(version_id=version.id, key=t.key, name=t.name, headcount=t.headcount, position=i)
        for i, t in enumerate(definition.population.teams)
    ]
    session.add_all(teams)
    session.add_all(
        RoleGrouping(version_id=version.id, key=r.key, name=r.name, position=i)
        for i, r in enumerate(definition.population.role_groupings)
    )
    session.flush()
    if previous is None:
        return
    earlier = {team.key: team.id for team in previous.teams}
    for team, spec in zip(teams, definition.population.teams, strict=True):
        predecessors = spec.succeeds or ([spec.key] if spec.key in earlier else [])
        session.add_all(
            TeamSuccession(team_id=team.id, predecessor_id=earlier[key]) for key in predecessors
        )


def _store_questions(
    session: Session, version: SurveyVersion, questions: list[ResolvedQuestion]
) -> None:
    for position, spec in enumerate(questions):
        session.add(
            Question(
                version_id=version.id,
                key=spec.key,
                number=spec.number,
                type=spec.type.value,
                position=position,
                options=[
                    Option(
                        code=option.code,
                        label=option.label,
                        positive=option.positive,
                        excluded_from_base=option.excluded_from_base,
                        position=index,
                    )
                    for index, option in enumerate(spec.options)
                ],
            )
        )
    session.flush()


def create_wave(
    *,
    session: Session,
    survey_key: str,
    wave_key: str,
    version_key: str,
    opens_on: dt.date,
    closes_on: dt.date,
    status: WaveStatus = WaveStatus.scheduled,
    title: str | None = None,
) -> Wave:
    """A wave starts with the headcounts its version was written with; the owner may change them."""
    survey = get_survey(session=session, survey_key=survey_key)
    version = session.scalar(
        select(SurveyVersion).where(
            SurveyVersion.survey_id == survey.id, SurveyVersion.key == version_key
        )
    )
    if version is None:
        raise NotFound(f"{survey_key} has no published version {version_key!r}")
    if closes_on < opens_on:
        raise ValueError("a wave cannot close before it opens")
    wave = Wave(
        survey_id=survey.id,
        key=wave_key,
        version_id=version.id,
        opens_on=opens_on,
        closes_on=closes_on,
        status=status.value,
        title=title,
    )
    session.add(wave)
    session.flush()
    _reset_headcounts(session, wave)
    return wave


def _reset_headcounts(session: Session, wave: Wave) -> None:
    session.execute(delete(Headcount).where(Headcount.wave_id == wave.id))
    teams = session.scalars(select(Team).where(Team.version_id == wave.version_id))
    session.add_all(
        Headcount(wave_id=wave.id, team_id=team.id, headcount=team.headcount) for team in teams
    )
    session.flush()


def get_survey(*, session: Session, survey_key: str) -> Survey:
    survey = session.scalar(select(Survey).where(Survey.key == survey_key))
    if survey is None:
        raise NotFound(f"no survey {survey_key!r}")
    return survey


def get_wave(*, session: Session, survey_key: str, wave_key: str) -> Wave:
    wave = session.scalar(
        select(Wave).join(Survey).where(Survey.key == survey_key, Wave.key == wave_key)
    )
    if wave is None:
        raise NotFound(f"survey {survey_key!r} has no wave {wave_key!r}")
    return wave


def set_wave_status(
    *, session: Session, survey_key: str, wave_key: str, status: WaveStatus
) -> Wave:
    wave = get_wave(session=session, survey_key=survey_key, wave_key=wave_key)
    wave.status = status.value
    if status == WaveStatus.closed:
        delete_drafts_of_wave(session=session, wave_id=wave.id)
        delete_unused_codes_of_wave(session=session, wave_id=wave.id)
        delete_fieldwork_of_wave(session=session, wave_id=wave.id)
        forget_arrival_order(session=session)
    return wave


RESPONDENT_TABLES = ("responses", "answers", "text_answers", "submission_receipts", "access_codes")


def forget_arrival_order(*, session: Session) -> None:
    """Rewrite the respondent tables in the order of their random keys.

    PostgreSQL keeps rows where they arrived, so a plain SELECT lists responses in the order they
    were sent. (SQLite's tables here have no row ids and are already kept in key order.)
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in RESPONDENT_TABLES:
        session.execute(text(f"CLUSTER {table} USING pk_{table}"))


def delete_drafts_of_wave(*, session: Session, wave_id: int) -> None:
    """Unfinished answers go when their wave closes: nobody can send them any more."""
    session.execute(delete(Draft).where(Draft.wave_id == wave_id))


def delete_unused_codes_of_wave(*, session: Session, wave_id: int) -> None:
    """A closed wave lets nobody in, so its unused codes are of no use to anyone. (Reopening it
    needs new codes.) Spent codes stay until the wave's responses go (`retention apply`)."""
    session.execute(
        delete(AccessCode).where(AccessCode.wave_id == wave_id, AccessCode.used.is_(False))
    )


def delete_fieldwork_of_wave(*, session: Session, wave_id: int) -> None:
    """A closed wave needs nobody's address, and its progress is read from its release."""
    session.execute(delete(Invitation).where(Invitation.wave_id == wave_id))
    session.execute(delete(ProgressSnapshot).where(ProgressSnapshot.wave_id == wave_id))


@dataclass(frozen=True)
class PublishedVersion:
    """A version's definition with the database ids answers are stored under."""

    survey_key: str
    version_key: str
    version_id: int
    definition: SurveyDefinition
    questions: list[ResolvedQuestion]
    question_ids: dict[str, int]
    option_ids: dict[str, dict[str, int]]
    team_ids: dict[str, int]
    role_ids: dict[str, int]
    by_key: dict[str, ResolvedQuestion]
    audiences: dict[str, Audience]
    audience_conditions: dict[str, AnswerIn]
    """Each audience as the condition on its deciding question."""


_VERSIONS: FrozenCache[PublishedVersion] = FrozenCache(size=32)
"""Parsing a definition and mapping its ids costs far more than storing a response, and a
published version never changes: keep the few in use."""


def _cached_version(session: Session, version: VersionRef) -> PublishedVersion:
    key = (session.get_bind(), version.version_id, version.content_hash, version.published_at)
    return _VERSIONS.get_or_make(key, lambda: _load_published(session, version))


class VersionRef(Protocol):
    """Enough to name one edition of a published version: a wave row with its version's columns."""

    @property
    def version_id(self) -> int: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def published_at(self) -> dt.datetime: ...


def published_version(*, session: Session, version: VersionRef | SurveyVersion) -> PublishedVersion:
    if isinstance(version, SurveyVersion):
        return _cached_version(
            session, _Ref(version.id, version.content_hash, version.published_at)
        )
    return _cached_version(session, version)


@dataclass(frozen=True)
class _Ref:
    version_id: int
    content_hash: str
    published_at: dt.datetime


def _load_published(session: Session, ref: VersionRef) -> PublishedVersion:
    version = session.get_one(SurveyVersion, ref.version_id)
    definition = SurveyDefinition.model_validate(version.definition)
    rows = session.execute(
        select(Question.key, Question.id, Option.code, Option.id)
        .join(Option, Option.question_id == Question.id, isouter=True)
        .where(Question.version_id == version.id)
        .order_by(Question.position, Option.position)
    )
    question_ids: dict[str, int] = {}
    option_ids: dict[str, dict[str, int]] = {}
    for question_key, question_id, option_code, option_id in rows:
        question_ids[question_key] = question_id
        codes = option_ids.setdefault(question_key, {})
        if option_code is not None:
            codes[option_code] = option_id
    teams = session.execute(select(Team.key, Team.id).where(Team.version_id == version.id))
    roles = session.execute(
        select(RoleGrouping.key, RoleGrouping.id).where(RoleGrouping.version_id == version.id)
    )
    questions = resolve_questions(definition)
    return PublishedVersion(
        survey_key=definition.survey,
        version_key=version.key,
        version_id=version.id,
        definition=definition,
        questions=questions,
        by_key={question.key: question for question in questions},
        question_ids=question_ids,
        option_ids=option_ids,
        team_ids={key: id_ for key, id_ in teams},
        role_ids={key: id_ for key, id_ in roles},
        audiences={a.key: a for a in definition.population.audiences},
        audience_conditions={
            a.key: AnswerIn.model_validate({"question": a.question, "in": a.answers})
            for a in definition.population.audiences
        },
    )
