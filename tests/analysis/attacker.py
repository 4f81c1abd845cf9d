"""An attacker who sees every breakdown a user can ask for, and solves for what was withheld.

It knows what anyone knows: the population (teams, role groupings, linked teams, options), that
margins and linked groups are sums, and every figure shown. With a linear programme it finds how
low and how high each withheld base and option count can be. It is written from the shown
frames and that public knowledge only, not from the internals of `analysis.disclosure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linprog

from analysis.disclosure import ALL, BELOW_THRESHOLD

Group = tuple[str, str]


@dataclass(frozen=True)
class Population:
    teams: list[str]
    roles: list[str]
    options: list[str]
    linked: dict[str, list[str]] = field(default_factory=dict)

    @property
    def groups(self) -> list[Group]:
        return [
            (ALL, ALL),
            *[(t, ALL) for t in self.teams],
            *[(name, ALL) for name in self.linked],
            *[(ALL, r) for r in self.roles],
            *[(t, r) for t in self.teams for r in self.roles],
        ]

    @property
    def sums(self) -> list[tuple[Group, list[Group]]]:
        """Each total with the groups that add up to it."""
        return [
            ((ALL, ALL), [(t, ALL) for t in self.teams]),
            ((ALL, ALL), [(ALL, r) for r in self.roles]),
            *[((t, ALL), [(t, r) for r in self.roles]) for t in self.teams],
            *[((ALL, r), [(t, r) for t in self.teams]) for r in self.roles],
            *[((name, ALL), [(t, ALL) for t in members]) for name, members in self.linked.items()],
        ]


@dataclass(frozen=True)
class Finding:
    group: Group
    option: str | None  # None: the group's base
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


def attack(
    shown: pd.DataFrame, population: Population, *, reasons_under_k: int | None = None
) -> list[Finding]:
    """The range of every withheld base and option count, given the rows of `shown`.

    `shown` is every row any breakdown returned: `team`, `role`, `option`, `count`, `base`,
    `withheld`, and `banded` (a banded row shows its base but not its count). With
    `reasons_under_k`, the attacker also reads each withheld row's `reason`: a group withheld
    as below that threshold is smaller than it, a complementary one is not.
    """
    groups, options = population.groups, population.options
    variable = {(g, o): i for i, (g, o) in enumerate((g, o) for g in groups for o in options)}
    equations: list[tuple[dict[int, float], float]] = []
    for total, parts in population.sums:
        for o in options:
            terms = {variable[total, o]: 1.0} | {variable[p, o]: -1.0 for p in parts}
            equations.append((terms, 0.0))
    rows = shown.drop_duplicates(["team", "role", "option"])
    for row in rows.loc[~rows["withheld"]].itertuples():
        group = (row.team, row.role)
        if row.banded:
            equations.append(({variable[group, o]: 1.0 for o in options}, float(row.base)))
        else:
            equations.append(({variable[group, row.option]: 1.0}, float(row.count)))
    matrix = np.zeros((len(equations), len(variable)))
    for i, (terms, _) in enumerate(equations):
        for j, coefficient in terms.items():
            matrix[i, j] = coefficient
    values = np.array([value for _, value in equations])

    withheld = rows.loc[rows["withheld"]].drop_duplicates(["team", "role"])
    bounds = np.zeros((0, len(variable)))
    limits = np.zeros(0)
    if reasons_under_k is not None:
        bounds = np.zeros((len(withheld), len(variable)))
        for i, row in enumerate(withheld.itertuples()):
            below = row.reason == BELOW_THRESHOLD
            for o in options:  # base <= k - 1 below the threshold, base >= k otherwise
                bounds[i, variable[(row.team, row.role), o]] = 1.0 if below else -1.0
        limits = np.where(
            withheld["reason"] == BELOW_THRESHOLD, reasons_under_k - 1, -reasons_under_k
        )
    findings = []
    for group in zip(withheld["team"], withheld["role"], strict=True):
        for option in [None, *options]:
            objective = np.zeros(len(variable))
            for o in options if option is None else [option]:
                objective[variable[group, o]] = 1.0
            low = _optimum(objective, matrix, values, bounds, limits)
            high = -_optimum(-objective, matrix, values, bounds, limits)
            findings.append(Finding(group, option, low, high))
    return findings


def _optimum(
    objective: np.ndarray,
    matrix: np.ndarray,
    values: np.ndarray,
    bounds: np.ndarray,
    limits: np.ndarray,
) -> float:
    result = linprog(
        objective,
        A_eq=matrix,
        b_eq=values,
        A_ub=bounds if len(limits) else None,
        b_ub=limits if len(limits) else None,
        bounds=(0, None),
        method="highs",
    )
    if result.status == 3:  # unbounded
        return -np.inf
    assert result.status == 0, result.message
    return float(result.fun)


def open_counts(
    truth: pd.DataFrame, withheld: set[Group], population: Population, group: Group
) -> dict[str, int]:
    """Per option, how much of the group's count its lines leave open in any case: the withheld
    count of the tightest line it is part of (through withheld totals, up to the overall).

    Even a perfectly hidden group can be pinned this far: if the withheld cells of a team hold
    two "No" answers between them, no cell among them holds more than two.
    """
    count = truth.set_index(["team", "role", "option"])["count"]
    tightest = {o: int(count[ALL, ALL, o]) for o in population.options}
    for total, parts in population.sums:
        if group not in parts:
            continue
        if total in withheld:
            bound = open_counts(truth, withheld, population, total)
        else:
            bound = {
                o: sum(int(count[(p[0], p[1], o)]) for p in parts if p in withheld)
                for o in tightest
            }
        tightest = {o: min(tightest[o], bound[o]) for o in tightest}
    return tightest
