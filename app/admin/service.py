"""The survey owner's changes, with the rules neither the pages nor the command line may get
round: a wave's threshold and headcounts are fixed once its results can be shown, a closed wave
never reopens, and an admin cannot take away their own admin role or account. Publishing,
creating, opening and closing are recorded in the audit log here, whoever asks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.accounts.models import Role, User
from app.accounts.service import check_roles
from app.admin.audit import AuditAction, record
from app.models import AccessCode, Headcount, Response, Survey, SurveyVersion, Wave, WaveStatus
from app.releases.service import release
from app.responses.service import OpenedWave, load_wave, wave_state
from app.surveys import service as surveys
from app.surveys.definitions import SurveyDefinition, resolve_questions
from app.surveys.service import PublishOutcome, set_wave_status

THRESHOLD_LIMITS = (2, 1000)
HEADCOUNT_LIMIT = 1_000_000


class ActionRefused(Exception):
    """The change is not allowed as asked; the message says why and can be shown."""


@dataclass(frozen=True)
class WaveSummary:
    """A wave as the survey owner sees it: never more of its responses than how many there are."""

    survey_key: str
    wave: OpenedWave
    state: str
    """`wave_state`: "not_open", "open" or "closed" (by status or by date)."""
    responses: int
    codes_issued: int

    @property
    def target(self) -> str:
        return f"{self.survey_key}/{self.wave.key}"

    @property
    def status_label(self) -> str:
        status = self.wave.status
        if status == WaveStatus.open and self.state == "closed":
            return "Closed (its closing date has passed)"
        if status == WaveStatus.open and self.state == "not_open":
            return "Open from its opening date"
        return status.capitalize()

    @property
    def can_open(self) -> bool:
        return self.wave.status == WaveStatus.scheduled

    @property
    def can_close(self) -> bool:
        return self.wave.status != WaveStatus.closed

    @property
    def results_released(self) -> bool:
        """Results are shown once a wave is closed, by status or by date: what they depend on
        (its threshold and headcounts) can no longer change."""
        return self.state == "closed"


@dataclass(frozen=True)
class SurveySummary:
    key: str
    title: str
    versions: list[SurveyVersion]
    waves: list[WaveSummary]


def survey_overview(*, session: Session, today: dt.date) -> list[SurveySummary]:
    return [
        SurveySummary(
            key=survey.key,
            title=survey.title,
            versions=list(survey.versions),
            waves=[
                wave_summary(session=session, survey_key=survey.key, wave_key=wave.key, today=today)
                for wave in survey.waves
            ],
        )
        for survey in session.scalars(select(Survey).order_by(Survey.key))
    ]


def wave_summary(
    *, session: Session, survey_key: str, wave_key: str, today: dt.date
) -> WaveSummary:
    """Raises `NotFound` for an unknown survey or wave."""
    opened = load_wave(session=session, survey_key=survey_key, wave_key=wave_key)
    return WaveSummary(
        survey_key=survey_key,
        wave=opened,
        state=wave_state(opened, today),
        responses=_rows_of_wave(session, Response.wave_id, opened.id),
        codes_issued=_rows_of_wave(session, AccessCode.wave_id, opened.id),
    )


def _rows_of_wave(session: Session, wave_column: InstrumentedAttribute[int], wave_id: int) -> int:
    return session.scalar(select(func.count()).where(wave_column == wave_id)) or 0


def publish_and_record(
    *, session: Session, actor: User | str, definition: SurveyDefinition
) -> tuple[SurveyVersion, PublishOutcome]:
    """Raises `PublishRefused` for a version with responses whose content would change."""
    version, outcome = surveys.publish_definition(session=session, definition=definition)
    record(
        session=session,
        actor=actor,
        action=AuditAction.definition_published,
        target=f"{definition.survey}/{version.key}",
        outcome=outcome.value,
        questions=len(resolve_questions(definition)),
        teams=len(definition.population.teams),
    )
    return version, outcome


def create_wave(
    *,
    session: Session,
    actor: User | str,
    survey_key: str,
    wave_key: str,
    version_key: str,
    opens_on: dt.date,
    closes_on: dt.date,
    access_codes_required: bool = True,
    title: str | None = None,
) -> Wave:
    """Codes are required unless the caller says otherwise: with an open link anyone could add
    responses and push a small team over `k`."""
    wave = surveys.create_wave(
        session=session,
        survey_key=survey_key,
        wave_key=wave_key,
        version_key=version_key,
        opens_on=opens_on,
        closes_on=closes_on,
        title=title,
    )
    wave.access_codes_required = access_codes_required
    record(
        session=session,
        actor=actor,
        action=AuditAction.wave_created,
        target=f"{survey_key}/{wave.key}",
        version=version_key,
        opens_on=opens_on.isoformat(),
        closes_on=closes_on.isoformat(),
        access_codes_required=access_codes_required,
        title=wave.title,
    )
    return wave


def open_wave(*, session: Session, summary: WaveSummary, actor: User | str) -> None:
    if not summary.can_open:
        raise ActionRefused(
            f"Wave {summary.wave.key} is {summary.wave.status}: only a scheduled wave can open "
            "(a closed wave never reopens, since its results may have been shown)."
        )
    if summary.state == "closed":
        raise ActionRefused(
            f"Wave {summary.wave.key} was to close on {summary.wave.closes_on:%-d %B %Y}, which "
            "has passed: create a new wave with later dates instead."
        )
    set_wave_status(
        session=session,
        survey_key=summary.survey_key,
        wave_key=summary.wave.key,
        status=WaveStatus.open,
    )
    record(
        session=session,
        actor=actor,
        action=AuditAction.wave_opened,
        target=summary.target,
        status_before=summary.wave.status,
    )


def close_wave(*, session: Session, summary: WaveSummary, actor: User | str) -> None:
    """Closing deletes the wave's unfinished drafts (nobody could send them any more) and
    releases the wave's results: every figure suppressed once, audited and frozen."""
    if not summary.can_close:
        raise ActionRefused(f"Wave {summary.wave.key} is already closed.")
    set_wave_status(
        session=session,
        survey_key=summary.survey_key,
        wave_key=summary.wave.key,
        status=WaveStatus.closed,
    )
    record(
        session=session,
        actor=actor,
        action=AuditAction.wave_closed,
        target=summary.target,
        status_before=summary.wave.status,
        responses=summary.responses,
    )
    closed = load_wave(session=session, survey_key=summary.survey_key, wave_key=summary.wave.key)
    release(session=session, wave=closed, actor=actor)


def _refuse_once_released(summary: WaveSummary, what: str) -> None:
    if summary.results_released:
        raise ActionRefused(
            f"Wave {summary.wave.key} is closed and its results can be shown, so its {what} "
            "can no longer change."
        )


def set_team_role_breakdown(
    *, session: Session, summary: WaveSummary, on: bool, actor: User | str
) -> None:
    """Whether the release will have team × role grouping figures: off by default, since
    protecting those small cells costs the teams' own figures."""
    _refuse_once_released(summary, "breakdowns")
    session.get_one(Wave, summary.wave.id).team_role_breakdown = on
    session.flush()
    record(
        session=session,
        actor=actor,
        action=AuditAction.team_role_breakdown_set,
        target=summary.target,
        team_role_breakdown=on,
    )


def set_threshold(*, session: Session, summary: WaveSummary, threshold: int) -> None:
    _refuse_once_released(summary, "threshold")
    low, high = THRESHOLD_LIMITS
    if not low <= threshold <= high:
        raise ActionRefused(f"The threshold must be a whole number from {low} to {high}")
    session.get_one(Wave, summary.wave.id).suppression_threshold = threshold
    session.flush()


def save_headcounts(*, session: Session, summary: WaveSummary, headcounts: dict[int, int]) -> None:
    """`headcounts` maps every team id of the wave's version to its headcount."""
    _refuse_once_released(summary, "headcounts")
    stored = {
        row.team_id: row
        for row in session.scalars(select(Headcount).where(Headcount.wave_id == summary.wave.id))
    }
    for team_id, headcount in headcounts.items():
        if team_id in stored:
            stored[team_id].headcount = headcount
        else:
            session.add(Headcount(wave_id=summary.wave.id, team_id=team_id, headcount=headcount))
    session.flush()


def is_locked(user: User, now: dt.datetime | None = None) -> bool:
    if user.locked_until is None:
        return False
    until = user.locked_until
    if until.tzinfo is None:  # SQLite hands back naive datetimes, stored in UTC
        until = until.replace(tzinfo=dt.UTC)
    return until > (now or dt.datetime.now(dt.UTC))


def set_roles(*, session: Session, actor: User, user: User, roles: list[str]) -> None:
    checked = check_roles(roles)
    if not checked:
        raise ActionRefused("Choose at least one role, or remove the account instead")
    if user.id == actor.id and Role.admin not in checked:
        raise ActionRefused(
            "You cannot take away your own admin role: another admin has to, so that there "
            "is always one"
        )
    user.roles = checked
    session.flush()


def unlock(*, session: Session, user: User) -> None:
    user.locked_until = None
    user.failed_sign_ins = 0
    session.flush()


def remove_user(*, session: Session, actor: User, user: User) -> None:
    """The account goes with its sessions and API tokens; the audit log keeps its email."""
    if user.id == actor.id:
        raise ActionRefused(
            "You cannot remove your own account: another admin has to, so that there is always one"
        )
    session.delete(user)
    session.flush()
