"""Counts computed by the database, one GROUP BY each, as DataFrames for `analysis`.

Nothing here loads responses one by one, and nothing here leaves the server unsuppressed: these
frames go to `analysis`, which decides what may be shown.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.models import Answer, Headcount, Option, Question, Response, RoleGrouping, Team, Wave


def answer_counts(*, session: Session, wave_id: int) -> pd.DataFrame:
    """Responses per (team, role grouping, question, option) in one wave."""
    query = (
        select(
            Team.key.label("team"),
            RoleGrouping.key.label("role"),
            Question.key.label("question"),
            Option.code.label("option"),
            func.count().label("count"),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Question, Question.id == Answer.question_id)
        .join(Option, Option.id == Answer.option_id)
        .group_by(Team.key, RoleGrouping.key, Question.key, Option.code)
    )
    return _frame(
        session, _of_wave(query, wave_id), ["team", "role", "question", "option", "count"]
    )


def respondent_counts(*, session: Session, wave_id: int) -> pd.DataFrame:
    """Responses per (team, role grouping) in one wave."""
    query = (
        select(
            Team.key.label("team"),
            RoleGrouping.key.label("role"),
            func.count().label("respondents"),
        )
        .select_from(Response)
        .group_by(Team.key, RoleGrouping.key)
    )
    return _frame(session, _of_wave(query, wave_id), ["team", "role", "respondents"])


def question_respondent_counts(*, session: Session, wave_id: int) -> pd.DataFrame:
    """How many responses answered each question at all, per (team, role grouping)."""
    query = (
        select(
            Team.key.label("team"),
            RoleGrouping.key.label("role"),
            Question.key.label("question"),
            func.count(func.distinct(Answer.response_id)).label("respondents"),
        )
        .select_from(Answer)
        .join(Response, Response.id == Answer.response_id)
        .join(Question, Question.id == Answer.question_id)
        .group_by(Team.key, RoleGrouping.key, Question.key)
    )
    return _frame(session, _of_wave(query, wave_id), ["team", "role", "question", "respondents"])


def headcounts(*, session: Session, wave_id: int) -> pd.DataFrame:
    """Each team of the wave's version with its headcount for this wave, in the version's order."""
    query = (
        select(Team.key.label("team"), Team.name.label("name"), Headcount.headcount)
        .join(Headcount, Headcount.team_id == Team.id)
        .join(Wave, Wave.id == Headcount.wave_id)
        .where(Headcount.wave_id == wave_id)
        .order_by(Team.position)
    )
    return _frame(session, query, ["team", "name", "headcount"])


def _of_wave(query: Select[*tuple[Any, ...]], wave_id: int) -> Select[*tuple[Any, ...]]:
    """Responses of one wave, with the team and role grouping each was given."""
    return (
        query.join(Team, Team.id == Response.team_id)
        .join(RoleGrouping, RoleGrouping.id == Response.role_grouping_id)
        .where(Response.wave_id == wave_id)
    )


def _frame(session: Session, query: Select[*tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(query).all(), columns=columns)
