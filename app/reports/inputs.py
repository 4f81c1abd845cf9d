"""What `analysis` needs besides counts: the questions' options, the wave's population, and team
lineage, all as DataFrames built from the published version and the wave's headcounts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Team, TeamSuccession
from app.reports.counts import headcounts
from app.responses.service import OpenedWave


def options_frame(wave: OpenedWave) -> pd.DataFrame:
    """One row per option of every choice question, in questionnaire order."""
    rows = [
        {
            "question": question.key,
            "option": option.code,
            "label": option.label,
            "positive": option.positive,
            "excluded_from_base": option.excluded_from_base,
            "position": position,
        }
        for question in wave.published.questions
        for position, option in enumerate(question.options)
    ]
    return pd.DataFrame(
        rows,
        columns=["question", "option", "label", "positive", "excluded_from_base", "position"],
    )


@dataclass(frozen=True)
class Population:
    teams: pd.DataFrame
    """`team`, `name`, `headcount` (this wave's), `predecessors` (keys in the previous version)."""
    roles: pd.DataFrame
    """`role`, `name`."""


def population(*, session: Session, wave: OpenedWave) -> Population:
    teams = headcounts(session=session, wave_id=wave.id)
    predecessor = Team.__table__.alias("predecessor")
    links = session.execute(
        select(Team.key, predecessor.c.key)
        .join(TeamSuccession, TeamSuccession.team_id == Team.id)
        .join(predecessor, predecessor.c.id == TeamSuccession.predecessor_id)
        .where(Team.version_id == wave.published.version_id)
    ).all()
    earlier: dict[str, list[str]] = {}
    for team, before in links:
        earlier.setdefault(team, []).append(before)
    teams["predecessors"] = teams["team"].map(lambda key: earlier.get(key, []))
    roles = pd.DataFrame(
        [(r.key, r.name) for r in wave.published.definition.population.role_groupings],
        columns=["role", "name"],
    )
    return Population(teams=teams, roles=roles)


def successor_groups(teams: pd.DataFrame) -> dict[str, list[str]]:
    """Teams of this wave that together replace one earlier team (a split), keyed by that
    earlier team: shown as one group beside it, and protected as one in suppression."""
    by_predecessor: dict[str, list[str]] = {}
    for team, predecessors in zip(teams["team"], teams["predecessors"], strict=True):
        for before in predecessors:
            by_predecessor.setdefault(before, []).append(team)
    return {before: after for before, after in by_predecessor.items() if len(after) > 1}


def linked_teams(teams: pd.DataFrame) -> dict[str, list[str]]:
    """Each split team's successors, shown as one group keyed by their keys joined with "+"."""
    return {"+".join(members): members for members in successor_groups(teams).values()}
