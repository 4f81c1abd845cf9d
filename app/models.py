"""The schema. Alembic migrations in `migrations/` are the only way it reaches a database.

Anonymity is a property of this file: a response row holds a random id, its wave, team and role
grouping, nothing else: no date or time (in a small team, the day someone answered can be known
to their manager). The tables respondents write to have no row ids on
SQLite (`sqlite_with_rowid=False`), so their physical order is the random key's, not the order of
arrival.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

NO_ROWID = {"sqlite_with_rowid": False}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class WaveStatus(StrEnum):
    scheduled = "scheduled"
    open = "open"
    closed = "closed"


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    suppression_threshold: Mapped[int] = mapped_column(Integer, default=5)

    versions: Mapped[list[SurveyVersion]] = relationship(
        back_populates="survey", order_by="SurveyVersion.key"
    )
    waves: Mapped[list[Wave]] = relationship(back_populates="survey", order_by="Wave.key")


class SurveyVersion(Base):
    """A published questionnaire. Frozen once any wave using it has a response."""

    __tablename__ = "survey_versions"
    __table_args__ = (UniqueConstraint("survey_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, deferred=True)
    """Loaded only when asked for: lists of versions do not need whole questionnaires."""
    previous_version_key: Mapped[str | None] = mapped_column(String(32))
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    survey: Mapped[Survey] = relationship(back_populates="versions")
    teams: Mapped[list[Team]] = relationship(
        back_populates="version", order_by="Team.position", cascade="all, delete-orphan"
    )
    role_groupings: Mapped[list[RoleGrouping]] = relationship(
        back_populates="version", order_by="RoleGrouping.position", cascade="all, delete-orphan"
    )
    questions: Mapped[list[Question]] = relationship(
        back_populates="version", order_by="Question.position", cascade="all, delete-orphan"
    )


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    headcount: Mapped[int] = mapped_column(Integer)
    """The headcount the version was written with; each wave keeps its own in `headcounts`."""
    position: Mapped[int] = mapped_column(Integer)

    version: Mapped[SurveyVersion] = relationship(back_populates="teams")
    predecessors: Mapped[list[Team]] = relationship(
        secondary="team_successions",
        primaryjoin="Team.id == TeamSuccession.team_id",
        secondaryjoin="Team.id == TeamSuccession.predecessor_id",
        viewonly=True,
    )


class TeamSuccession(Base):
    """A team of one version that replaces a team of an earlier one (a split or a merge)."""

    __tablename__ = "team_successions"

    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    predecessor_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )


class RoleGrouping(Base):
    __tablename__ = "role_groupings"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)

    version: Mapped[SurveyVersion] = relationship(back_populates="role_groupings")


class Question(Base):
    """One answerable question of a version (each grid item is one). Wording lives in the
    version's definition; this row exists so answers can be counted by a join on integers."""

    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("version_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)

    version: Mapped[SurveyVersion] = relationship(back_populates="questions")
    options: Mapped[list[Option]] = relationship(
        back_populates="question", order_by="Option.position", cascade="all, delete-orphan"
    )


class Option(Base):
    __tablename__ = "options"
    __table_args__ = (UniqueConstraint("question_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(Text)
    positive: Mapped[bool] = mapped_column(default=False)
    excluded_from_base: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer)

    question: Mapped[Question] = relationship(back_populates="options")


class Wave(Base):
    """One year's fieldwork: a version, dates, a status, and its own headcounts."""

    __tablename__ = "waves"
    __table_args__ = (
        UniqueConstraint("survey_id", "key"),
        CheckConstraint("status IN ('scheduled', 'open', 'closed')", name="status"),
        CheckConstraint("closes_on >= opens_on", name="dates_in_order"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    version_id: Mapped[int] = mapped_column(ForeignKey("survey_versions.id"))
    opens_on: Mapped[dt.date] = mapped_column(Date)
    closes_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=WaveStatus.scheduled.value)
    access_codes_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Whether respondents must enter a single-use access code to start."""
    title: Mapped[str | None] = mapped_column(String(200))
    """What the wave's respondent pages are headed; when unset, the survey's title and the
    wave's key (the questionnaire's title names the year it was written for)."""
    suppression_threshold: Mapped[int | None] = mapped_column(Integer)
    """`k` for this wave's results, set by the survey owner before the wave closes; when unset,
    the version's."""
    team_role_breakdown: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Whether the wave's release has team × role grouping figures. Off unless the survey owner
    turns it on: those groups are mostly of 0 to 3 people, and protecting them costs the teams'
    own figures."""

    survey: Mapped[Survey] = relationship(back_populates="waves")
    version: Mapped[SurveyVersion] = relationship()
    headcounts: Mapped[list[Headcount]] = relationship(
        back_populates="wave", cascade="all, delete-orphan"
    )


class Headcount(Base):
    __tablename__ = "headcounts"
    __table_args__ = (CheckConstraint("headcount >= 0", name="not_negative"),)

    wave_id: Mapped[int] = mapped_column(
        ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True
    )
    team_id: Mapped[int] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    headcount: Mapped[int] = mapped_column(Integer)

    wave: Mapped[Wave] = relationship(back_populates="headcounts")
    team: Mapped[Team] = relationship()


class Response(Base):
    """One submitted questionnaire. Nothing here, or linked from here, identifies its author."""

    __tablename__ = "responses"
    __table_args__ = (NO_ROWID,)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random (uuid4 hex): unlike an integer or a uuid1/uuid7, it tells nothing of order or time."""
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    role_grouping_id: Mapped[int] = mapped_column(ForeignKey("role_groupings.id"))

    answers: Mapped[list[Answer]] = relationship(cascade="all, delete-orphan")
    text_answers: Mapped[list[TextAnswer]] = relationship(cascade="all, delete-orphan")


class Answer(Base):
    """One chosen option: one row per (response, question, option), so counts are one GROUP BY."""

    __tablename__ = "answers"
    __table_args__ = (NO_ROWID,)

    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), primary_key=True)
    option_id: Mapped[int] = mapped_column(ForeignKey("options.id"), primary_key=True)


class TextAnswer(Base):
    __tablename__ = "text_answers"
    __table_args__ = (NO_ROWID,)

    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("questions.id"), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class Draft(Base):
    """A questionnaire in progress, found only by the hash of the respondent's random key.

    It holds no team or role until the respondent chose them, no time, and nothing about the
    browser; it is deleted when the response is submitted and when the wave closes.
    """

    __tablename__ = "drafts"
    __table_args__ = (NO_ROWID,)

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("waves.id", ondelete="CASCADE"), index=True)
    team: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(64))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    discarded: Mapped[list[str]] = mapped_column(JSON, default=list)
    """Questions whose answers a later change made irrelevant, to say so on the check page."""
    access_code_hash: Mapped[str | None] = mapped_column(String(64))
    """The hash of the code that let this respondent in, masked with their key
    (`masked_code_hash`); spent when they submit, in its own transaction, and forgotten with the
    draft."""


class AccessCode(Base):
    """A single-use code that lets one person answer a wave. Only its hash is stored, and nothing
    links it to the response it let in: the draft carries it, and is deleted at submission."""

    __tablename__ = "access_codes"
    __table_args__ = (NO_ROWID,)

    wave_id: Mapped[int] = mapped_column(
        ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    used: Mapped[bool] = mapped_column(default=False)


class SubmissionReceipt(Base):
    """That a client's submission id was stored, so a retry stores nothing twice. Deliberately
    unlinked from the response: no foreign key, no timestamp, no order."""

    __tablename__ = "submission_receipts"
    __table_args__ = (NO_ROWID,)

    wave_id: Mapped[int] = mapped_column(
        ForeignKey("waves.id", ondelete="CASCADE"), primary_key=True
    )
    submission_hash: Mapped[str] = mapped_column(String(64), primary_key=True)


from app.accounts import models as _accounts_models  # noqa: E402,F401
from app.admin import models as _admin_models  # noqa: E402,F401
from app.fieldwork import models as _fieldwork_models  # noqa: E402,F401
from app.releases import models as _release_models  # noqa: E402,F401
