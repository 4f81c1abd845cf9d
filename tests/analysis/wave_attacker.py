"""An attacker who holds every figure a release publishes for a wave, all questions at once.

It knows what anyone knows: the groups (teams, role groupings, team × role cells when shown,
linked teams), which groups add up to which, each question's options, and how the questionnaire
ties questions together: a question everyone answers has each group's respondents as its base;
a routed question's base is the count of its routing answer in the same group; any other
question's base is at most the group's respondents. With linear programmes over all of that and
every shown figure, it bounds each withheld figure. It is written from the published rows and
that public knowledge only, not from the internals of `analysis.disclosure`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.optimize import linprog

from analysis.disclosure import ALL

Group = tuple[str, str]


@dataclass(frozen=True)
class Questionnaire:
    options: dict[str, list[str]]
    """Each question's options in the base (not-applicable options are not published)."""
    everyone: set[str]
    """Questions every respondent answers with an option in the base."""
    routed: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    """A question answered by exactly those who gave one of these answers to that question."""


@dataclass(frozen=True)
class Wave:
    teams: list[str]
    roles: list[str]
    team_by_role: bool
    linked: dict[str, list[str]]
    questionnaire: Questionnaire
    respondents: str
    """The pseudo question whose one option counts each group's respondents."""

    @property
    def groups(self) -> list[Group]:
        cells = [(t, r) for t in self.teams for r in self.roles] if self.team_by_role else []
        return [
            (ALL, ALL),
            *[(t, ALL) for t in self.teams],
            *[(name, ALL) for name in self.linked],
            *[(ALL, r) for r in self.roles],
            *cells,
        ]

    @property
    def sums(self) -> list[tuple[Group, list[Group]]]:
        sums = [
            ((ALL, ALL), [(t, ALL) for t in self.teams]),
            ((ALL, ALL), [(ALL, r) for r in self.roles]),
            *[((name, ALL), [(t, ALL) for t in members]) for name, members in self.linked.items()],
        ]
        if self.linked:
            members = {t for group in self.linked.values() for t in group}
            stand_ins = [(t, ALL) for t in self.teams if t not in members]
            sums.append(((ALL, ALL), stand_ins + [(name, ALL) for name in self.linked]))
        if self.team_by_role:
            sums += [((t, ALL), [(t, r) for r in self.roles]) for t in self.teams]
            sums += [((ALL, r), [(t, r) for t in self.teams]) for r in self.roles]
        return sums


@dataclass(frozen=True)
class Finding:
    question: str
    group: Group
    option: str | None  # None: the base (for the respondents: their number)
    low: float
    high: float

    @property
    def width(self) -> float:
        return self.high - self.low


class _Model:
    """Variables: each group's respondents, and its count of each option of each question."""

    def __init__(self, wave: Wave) -> None:
        self.wave = wave
        names: list[tuple[str, Group, str]] = []
        for group in wave.groups:
            names.append((wave.respondents, group, wave.respondents))
            for question, options in wave.questionnaire.options.items():
                names += [(question, group, option) for option in options]
        self.index = {name: i for i, name in enumerate(names)}
        self.equal: list[tuple[dict[int, float], float]] = []
        self.at_most: list[tuple[dict[int, float], float]] = []

    def people(self, group: Group) -> int:
        return self.index[self.wave.respondents, group, self.wave.respondents]

    def base(self, question: str, group: Group) -> dict[int, float]:
        options = self.wave.questionnaire.options[question]
        return {self.index[question, group, o]: 1.0 for o in options}

    def structure(self) -> None:
        wave, questionnaire = self.wave, self.wave.questionnaire
        for total, parts in wave.sums:
            everything = [(wave.respondents, wave.respondents)] + [
                (q, o) for q, options in questionnaire.options.items() for o in options
            ]
            for question, option in everything:
                terms = {self.index[question, total, option]: 1.0}
                for part in parts:
                    terms[self.index[question, part, option]] = -1.0
                self.equal.append((terms, 0.0))
        for group in wave.groups:
            for question in questionnaire.options:
                base = self.base(question, group)
                if question in questionnaire.everyone:
                    self.equal.append((base | {self.people(group): -1.0}, 0.0))
                elif question in questionnaire.routed:
                    by, answers = questionnaire.routed[question]
                    routing = {self.index[by, group, a]: -1.0 for a in answers}
                    self.equal.append((base | routing, 0.0))
                else:
                    self.at_most.append((base | {self.people(group): -1.0}, 0.0))

    def shown(self, published: pd.DataFrame) -> None:
        rows = published.loc[~published["withheld"].astype(bool)]
        for row in rows.itertuples():
            variable = self.index[row.question, (row.team, row.role), row.option]
            self.equal.append(({variable: 1.0}, float(row.count)))

    def freeze(self) -> None:
        """The equations as matrices, once: every bound is then one programme each way."""
        self.a_eq, self.b_eq = _matrix(self.equal, len(self.index))
        self.a_ub, self.b_ub = _matrix(self.at_most, len(self.index))

    def bounds(self, objective: dict[int, float]) -> tuple[float, float]:
        cost = np.zeros(len(self.index))
        for j, value in objective.items():
            cost[j] = value
        ends = []
        for sign in (1.0, -1.0):
            result = linprog(
                sign * cost,
                A_eq=self.a_eq,
                b_eq=self.b_eq,
                A_ub=self.a_ub if len(self.b_ub) else None,
                b_ub=self.b_ub if len(self.b_ub) else None,
                bounds=(0, None),
                method="highs",
            )
            if result.status == 3:
                ends.append(-sign * np.inf)
                continue
            assert result.status == 0, result.message
            ends.append(sign * float(result.fun))
        return ends[0], ends[1]


def _matrix(
    rows: list[tuple[dict[int, float], float]], size: int
) -> tuple[sparse.csr_array, np.ndarray]:
    matrix = sparse.lil_array((len(rows), size))
    for i, (terms, _) in enumerate(rows):
        for j, value in terms.items():
            matrix[i, j] = value
    return matrix.tocsr(), np.array([value for _, value in rows], dtype=float)


def attack(published: pd.DataFrame, wave: Wave) -> list[Finding]:
    """The range of every withheld figure: each withheld group's respondents, and for every
    withheld (question, group) its base and each option's count.

    `published`: the release's rows, `question`, `team`, `role`, `option`, `count`, `withheld`,
    for the groups `wave.groups` (and no others).
    """
    model = _Model(wave)
    model.structure()
    model.shown(published)
    model.freeze()
    withheld = published.loc[published["withheld"].astype(bool)]
    findings = []
    for (question, team, role), _ in withheld.groupby(["question", "team", "role"], sort=False):
        group = (team, role)
        if question == wave.respondents:
            targets = {None: {model.people(group): 1.0}}
        else:
            targets = {None: model.base(question, group)} | {
                option: {model.index[question, group, option]: 1.0}
                for option in wave.questionnaire.options[question]
            }
        for option, objective in targets.items():
            low, high = model.bounds(objective)
            findings.append(Finding(question, group, option, low, high))
    return findings
