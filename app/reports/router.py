"""Reports as JSON, for scripts and dashboards. Closed waves only; every figure suppressed."""

from __future__ import annotations

import hmac
import json
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Header, HTTPException, Query
from pydantic import BaseModel

from app.deps import SessionDep, SettingsDep, TodayDep, commits_in_thread
from app.reports.service import Breakdown, question_report, response_rates


def require_reports_token(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Until staff accounts exist, one bearer token from the settings opens the reports."""
    if not settings.reports_token:
        raise HTTPException(403, "The reports API is closed: set REPORTS_TOKEN to open it.")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), settings.reports_token.encode()):
        raise HTTPException(
            401, "A valid bearer token is needed.", headers={"WWW-Authenticate": "Bearer"}
        )


router = APIRouter(
    prefix="/api/v1/reports", tags=["reports"], dependencies=[Depends(require_reports_token)]
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
    by: Literal["team", "role"] = "team",
) -> list[dict[str, object]]:
    frame = response_rates(session=session, survey_key=survey, wave_key=wave, by=by)
    return _records(frame, RateRow)


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
