"""What the API says about surveys, versions and waves."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, BaseModel

from app.surveys.definitions import ResolvedQuestion


def _in_utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


UtcDateTime = Annotated[dt.datetime, AfterValidator(_in_utc)]
"""Stored in UTC; SQLite hands it back without its zone, which the API's RFC 3339 needs."""


class VersionSummary(BaseModel):
    key: str
    title: str
    content_hash: str
    previous_version: str | None
    published_at: UtcDateTime


class WaveSummary(BaseModel):
    key: str
    version: str
    opens_on: dt.date
    closes_on: dt.date
    status: str
    accepting_responses: bool


class SurveySummary(BaseModel):
    key: str
    title: str
    suppression_threshold: int
    versions: list[VersionSummary]
    waves: list[WaveSummary]


class QuestionOut(ResolvedQuestion):
    """A question with its section, grid and scale folded in, as the definition resolves it."""

    comparability: str | None
    """How far it can be compared with the question it continues (None when it is new)."""


class TeamOut(BaseModel):
    key: str
    name: str
    headcount: int
    succeeds: list[str]
    """Teams of the previous version this team continues: itself, or those it was split or merged
    from."""


class RoleGroupingOut(BaseModel):
    key: str
    name: str
    reconstructed: bool


class AudienceOut(BaseModel):
    key: str
    label: str
    question: str
    answers: list[str]


class VersionOut(BaseModel):
    survey: str
    survey_title: str
    version: str
    title: str
    organisation: str
    content_hash: str
    previous_version: str | None
    fieldwork_opens: dt.date
    fieldwork_closes: dt.date
    suppression_threshold: int
    questions: list[QuestionOut]
    teams: list[TeamOut]
    role_groupings: list[RoleGroupingOut]
    audiences: list[AudienceOut]
