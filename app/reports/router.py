"""Reports as JSON, for scripts and dashboards. Closed waves only; every figure suppressed.
Staff with the scrutiny, HR or admin role only, signed in or with an API token."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from app.accounts.deps import require_role
from app.accounts.models import Role
from app.deps import SessionDep, TodayDep, commits_in_thread
from app.reports.progress import WaveProgress, wave_progress
from app.reports.service import (
    Breakdown,
    indicators_report,
    question_report,
    response_rates,
    year_on_year_report,
)

router = APIRouter(
    prefix="/api/v1/reports",
    tags=["reports"],
    dependencies=[Depends(require_role(Role.scrutiny, Role.hr, Role.admin))],
)


class RateRow(BaseModel):
    group: str
    """A team or role grouping name, or "(all)" for the total."""
    respondents: int | None
    headcount: int | None = None
    rate_pct: str | None = None
    one_person_pct: str
    withheld: bool
    reason: str | None


class ResultRow(BaseModel):
    wave: str
    question: str
    number: str
    team: str
    role: str
    option: str
    label: str
    base: int | None
    count: int | None
    share_pct: str
    positive_pct: str
    one_person_pct: str
    withheld: bool
    reason: str | None


def _records(frame: pd.DataFrame, model: type[BaseModel]) -> list[dict[str, object]]:
    rows = json.loads(frame.to_json(orient="records", force_ascii=False))
    return [model.model_validate(row).model_dump() for row in rows]


@router.get("/{survey}/waves/{wave}/response-rates", response_model=list[RateRow])
@commits_in_thread
def rates(
    survey: str,
    wave: str,
    session: SessionDep,
    today: TodayDep,
    by: Literal["team", "role"] = "team",
) -> list[dict[str, object]]:
    frame = response_rates(session=session, survey_key=survey, wave_key=wave, by=by, today=today)
    return _records(frame, RateRow)


@router.get("/{survey}/waves/{wave}/progress")
@commits_in_thread
def progress(survey: str, wave: str, session: SessionDep, today: TodayDep) -> WaveProgress:
    """Responses so far per team, for an open or closed wave. An open wave's are counted at the
    start of each day, never live; a team under k, or one that would give it away, is withheld."""
    return wave_progress(session=session, survey_key=survey, wave_key=wave, today=today)


@router.get("/{survey}/waves/{wave}/questions/{question}", response_model=list[ResultRow])
@commits_in_thread
def question(
    survey: str,
    wave: str,
    question: str,
    session: SessionDep,
    today: TodayDep,
    by: Annotated[Breakdown, Query()] = "team",
) -> list[dict[str, object]]:
    frame = question_report(
        session=session, survey_key=survey, wave_key=wave, question=question, by=by, today=today
    )
    return _records(frame, ResultRow)


class ComparisonRow(BaseModel):
    waves: str
    number: str
    question_before: str
    question_after: str
    comparability: str
    note: str | None
    group: str
    lineage: str
    team_before: str | None
    team_after: str | None
    option: str
    label_before: str | None
    label_after: str | None
    base_before: int | None
    base_after: int | None
    share_before: float | None
    share_after: float | None
    change_pp: float | None
    positive_share_before: float | None
    positive_share_after: float | None
    positive_change_pp: float | None
    p_value: float | None
    significant: bool | None
    withheld: bool
    reason: str | None
    no_test_reason: str | None


class IndicatorRow(BaseModel):
    indicator: str
    title: str
    question: str
    target_pct: float
    source: str | None
    wave: str
    status: str
    reason: str | None
    base: int | None
    value_pct: float | None
    gap_pp: float | None
    met: bool | None


@router.get("/{survey}/compare", response_model=list[ComparisonRow])
@commits_in_thread
def compare(
    survey: str,
    session: SessionDep,
    today: TodayDep,
    from_wave: Annotated[str, Query(alias="from")],
    to_wave: Annotated[str, Query(alias="to")],
    question: str | None = None,
    by: Literal["team"] = "team",
) -> list[dict[str, object]]:
    frame = year_on_year_report(
        session=session,
        survey_key=survey,
        from_wave=from_wave,
        to_wave=to_wave,
        question=question,
        today=today,
    )
    return _records(frame, ComparisonRow)


@router.get("/{survey}/indicators", response_model=list[IndicatorRow])
@commits_in_thread
def indicators(survey: str, session: SessionDep, today: TodayDep) -> list[dict[str, object]]:
    return _records(
        indicators_report(session=session, survey_key=survey, today=today), IndicatorRow
    )
