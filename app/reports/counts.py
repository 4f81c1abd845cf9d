"""Counts computed by the database, one GROUP BY each, as DataFrames for `analysis`.

The grouping is on integer ids only, the same work as a bare count; keys are put on afterwards
from the version's small lookup tables. Nothing here loads responses one by one, and nothing here
leaves the server unsuppressed: these frames go to `analysis`, which decides what may be shown.
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
            Response.team_id,
            Response.role_grouping_id,
            Answer.question_id,
            Answer.option_id,
            func.count().label("count"),
        )
        .join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id == wave_id)
        .group_by(Response.team_id, Response.role_grouping_id, Answer.question_id, Answer.option_id)
    )
    frame = _frame(session, query, ["team_id", "role_id", "question_id", "option_id", "count"])
    keys = _keys(session, wave_id)
    return pd.DataFrame(
        {
            "team": frame["team_id"].map(keys["team"]),
            "role": frame["role_id"].map(keys["role"]),
            "question": frame["question_id"].map(keys["question"]),
            "option": frame["option_id"].map(keys["option"]),
            "count": frame["count"].astype("int64"),
        }
    )


def respondent_counts(*, session: Session, wave_id: int) -> pd.DataFrame:
    """Responses per (team, role grouping) in one wave."""
    query = (
        select(Response.team_id, Response.role_grouping_id, func.count().label("respondents"))
        .where(Response.wave_id == wave_id)
        .group_by(Response.team_id, Response.role_grouping_id)
    )
    frame = _frame(session, query, ["team_id", "role_id", "respondents"])
    keys = _keys(session, wave_id)
    return pd.DataFrame(
        {
            "team": frame["team_id"].map(keys["team"]),
            "role": frame["role_id"].map(keys["role"]),
            "respondents": frame["respondents"].astype("int64"),
        }
    )


def question_respondent_counts(*, session: Session, wave_id: int) -> pd.DataFrame:
    """How many responses answered each question at all, per (team, role grouping)."""
    query = (
        select(
            Response.team_id,
            Response.role_grouping_id,
            Answer.question_id,
            func.count(func.distinct(Answer.response_id)).label("respondents"),
        )
        .join(Response, Response.id == Answer.response_id)
        .where(Response.wave_id == wave_id)
        .group_by(Response.team_id, Response.role_grouping_id, Answer.question_id)
    )
    frame = _frame(session, query, ["team_id", "role_id", "question_id", "respondents"])
    keys = _keys(session, wave_id)
    return pd.DataFrame(
        {
            "team": frame["team_id"].map(keys["team"]),
            "role": frame["role_id"].map(keys["role"]),
            "question": frame["question_id"].map(keys["question"]),
            "respondents": frame["respondents"].astype("int64"),
        }
    )


def headcounts(*, session: Session, wave_id: int) -> pd.DataFrame:
    """Each team of the wave's version with its headcount for this wave, in the version's order."""
    query = (
        select(Team.key.label("team"), Team.name.label("name"), Headcount.headcount)
        .join(Headcount, Headcount.team_id == Team.id)
        .where(Headcount.wave_id == wave_id)
        .order_by(Team.position)
    )
    return _frame(session, query, ["team", "name", "headcount"])


def _keys(session: Session, wave_id: int) -> dict[str, dict[int, str]]:
    """Id to key for the teams, role groupings, questions and options of the wave's version."""
    version_id = select(Wave.version_id).where(Wave.id == wave_id).scalar_subquery()
    lookups = {
        "team": select(Team.id, Team.key).where(Team.version_id == version_id),
        "role": select(RoleGrouping.id, RoleGrouping.key).where(
            RoleGrouping.version_id == version_id
        ),
        "question": select(Question.id, Question.key).where(Question.version_id == version_id),
        "option": select(Option.id, Option.code)
        .join(Question, Question.id == Option.question_id)
        .where(Question.version_id == version_id),
    }
    return {
        name: {row_id: key for row_id, key in session.execute(query)}
        for name, query in lookups.items()
    }


def _frame(session: Session, query: Select[*tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(session.execute(query).all(), columns=columns)
