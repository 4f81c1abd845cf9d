"""A wave's progress: responses so far per team against its headcount, as counted at the start
of the day while it is open (from its release once it has closed), suppressed like every other
figure."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import pandas as pd
from pydantic import BaseModel
from sqlalchemy.orm import Session

from analysis.disclosure import ALL
from app.fieldwork.progress import progress_counts
from app.reports.service import keyed_response_rates
from app.responses.service import load_wave, wave_state


class TeamProgress(BaseModel):
    team: str
    """The team's key; `(all)` for the wave's total."""
    name: str
    responses: int | None
    """None where withheld: fewer than k, or a complement protecting one."""
    headcount: int
    rate_pct: str | None
    withheld: bool


class WaveProgress(BaseModel):
    survey: str
    wave: str
    title: str
    state: Literal["not_open", "open", "closed"]
    counted_on: dt.date | None
    """The day the open wave's counts were taken; None once it has closed (its release)."""
    opens_on: dt.date
    closes_on: dt.date
    days_left: int
    """Days it still takes answers, today included; 0 once closed."""
    threshold: int
    total: TeamProgress
    teams: list[TeamProgress]


def wave_progress(
    *, session: Session, survey_key: str, wave_key: str, today: dt.date
) -> WaveProgress:
    wave = load_wave(session=session, survey_key=survey_key, wave_key=wave_key)
    state = wave_state(wave, today)
    counted_on = (
        None
        if state == "closed"
        else progress_counts(session=session, wave_id=wave.id, today=today)[0]
    )
    rates = keyed_response_rates(session, wave, "team", today)
    rows = [
        TeamProgress(
            team=row["key"],
            name=row["group"],
            responses=None if pd.isna(row["respondents"]) else int(row["respondents"]),
            headcount=int(row["headcount"]),
            rate_pct=None if row["withheld"] else row["rate_pct"],
            withheld=bool(row["withheld"]),
        )
        for row in rates.to_dict("records")
    ]
    return WaveProgress(
        survey=survey_key,
        wave=wave.key,
        title=wave.title,
        state=state,  # type: ignore[arg-type]
        counted_on=counted_on,
        opens_on=wave.opens_on,
        closes_on=wave.closes_on,
        days_left=0 if state == "closed" else (wave.closes_on - max(today, wave.opens_on)).days + 1,
        threshold=wave.suppression_threshold,
        total=next(row for row in rows if row.team == ALL),
        teams=[row for row in rows if row.team != ALL],
    )
