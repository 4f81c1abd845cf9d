"""Small-cohort suppression: the one place that decides which figures may leave `analysis`.

A wave's figures for one question form one table of groups that add up: the overall is the sum of
the teams and the sum of the role groupings; a team, and a role grouping, is the sum of its team ×
role grouping cells (when those are shown); a linked group (the successors of a split team,
shown against their predecessor) is the sum of its member teams. A wave's questions are linked
too (`Links`): every base is at most the group's respondents, and equal to them for a question
everyone answers; a routed question's base is a count of the question that routes to it. So the
whole wave is suppressed together, once, and every breakdown shows part of one pattern:

1. Primary: a group whose base is under `k` is withheld, base and all.
2. Shared: the respondents' pattern is chosen first, and every question withholds at least what
   it does; questions linked by routing share one pattern.
3. Complementary, with the least loss: a mixed-integer programme chooses the fewest further
   groups (a large group costing more), such that wherever a total is shown the withheld groups
   under it are none, or two or more of `k` or more people together.
4. Audit: rule 3 alone is not enough. Cycles through the two-way table, the mix of answers
   within withheld cells, and the respondents' numbers can still pin a figure. So the pattern is
   attacked as an attacker would: each withheld figure's range, given every shown figure, by
   maximum flow per option, and by a linear programme (HiGHS) over the table and the
   respondents' beside it. Each way in becomes a cut (one more of the weak group's neighbours)
   for the next programme, until none is left. Past a time limit the programme gives way to
   rule 3's next smallest, audited the same way.

With banding on, groups under `2k` show their base but not their counts: every option's share is
a band ("fewer than 5", "all but fewer than 5"). Every option, not only a 0% or 100% one, since
banding only those would itself say which groups were unanimous. Rule 2 then runs once more at
`2k` over the groups whose counts are hidden, so no single banded group's counts are a difference
of shown ones.
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict, deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from threading import Lock
from typing import Any

import highspy
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

DEFAULT_THRESHOLD = 5
"""The smallest group whose figures may be shown, unless a survey sets its own `k`."""

ALL = "(all)"
"""In the `team` or `role` column: every team, or every role grouping (a margin of the table)."""

MARKER = "*"
"""What a display shows in place of a withheld figure: never a number, never 0."""

BELOW_THRESHOLD = "below_threshold"
COMPLEMENTARY = "complementary"
WITHHELD = "small_group"
"""The one reason a reader is given. Which rule withheld a group would tell them on which side of
`k` it lies: a group withheld as below the threshold next to one withheld as its complement,
under a shown total of `k`, could only be 0 and `k`."""

FIGURES = ("base", "count", "share", "positive_count", "positive_share")
"""Columns withheld with their group. All but `base` are hidden in a banded group too."""

METHOD_MILP = "milp"
"""Complements chosen by a mixed-integer programme that withholds as little as it can."""
METHOD_GREEDY = "greedy"
"""Complements chosen by rule 2's next smallest, where a programme ran out of time."""
MILP_TIME_LIMIT = 20.0
"""Seconds one programme may take before a pattern falls back to `METHOD_GREEDY`."""

Group = tuple[str, str]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Links:
    """Where one question's figures are another's, so that their patterns must agree.

    `respondents`: the pseudo question (in `table`) whose one option counts each group's
    respondents. Every question's base is at most that count, and equal to it for a question
    everyone answers, so a group withheld there is withheld in every question.

    `routed_by`: for each question shown only after certain answers (a routing condition, or an
    audience), the questions those answers are to. Its base in a group is (or is bounded by) a
    count of theirs in the same group, so each withheld group of either is withheld in both:
    questions linked this way share one pattern.
    """

    respondents: str | None = None
    routed_by: Mapping[str, Collection[str]] = field(default_factory=dict)
    everyone: Collection[str] = ()
    """Questions every respondent answers with an option in the base: their base in a group is
    its number of respondents."""
    several: Collection[str] = ()
    """Questions answered with several options at once: their counts add up to more than the
    respondents. Every other question's base is at most the group's respondents."""


class TookTooLong(Exception):
    """Suppression ran past its `give_up_after`: nothing was decided."""


@dataclass(frozen=True)
class _Deadline:
    at: float | None

    def check(self) -> None:
        if self.at is not None and time.monotonic() > self.at:
            raise TookTooLong("suppression ran past its time")


class RemainderBelowThreshold(Exception):
    """A filtered view whose remainder, the rest of the wave, is a group under `k`."""


def suppress(
    table: pd.DataFrame,
    *,
    k: int = DEFAULT_THRESHOLD,
    linked_teams: Mapping[str, Collection[str]] | None = None,
    band_under_2k: bool = False,
    links: Links | None = None,
    withhold: Collection[tuple[Any, str, str]] = (),
    time_limit: float = MILP_TIME_LIMIT,
    give_up_after: float | None = None,
) -> pd.DataFrame:
    """Withhold every figure that would show, or let a user work out, a group under `k`.

    `table` holds every group a user can see for a wave, one row per group (and option):

    - `team`, `role`: the group; `ALL` in either marks a margin, in both the overall.
      Team × role cells, when present, are present for every team and role grouping.
    - `count`: how many in the group chose the option (or the group's size, without `option`).
    - `option` (optional): the option; every group has a row for every option of its question,
      and the group's base is the sum of its counts (options outside the base left out).
    - `question` (optional): each question's rows are a table of their own.
    - `positive` (optional): whether the option counts as positive, to band the positive share.
    - any of `FIGURES`: withheld with the group; any other column passes through.

    `linked_teams` names groups of teams also shown as one (`team` = the name, `role` = `ALL`),
    such as the successors of a split team. Pass every linked group of the wave to every call,
    so that all of the wave's views share one pattern.

    `links` says which questions share numbers (see `Links`): their patterns are then chosen
    together. `withhold` names (question, team, role) groups to withhold whatever their size:
    an earlier release's, so that a later one shows nothing it did not. `time_limit` bounds
    each mixed-integer programme, in seconds; past it the pattern
    falls back to rule 2's next-smallest choice. `give_up_after` bounds the whole search, in
    seconds: past it `TookTooLong` is raised (a caller may then ask for fewer breakdowns).

    Returns `table` with `FIGURES` made nullable and set to NA where hidden, plus `withheld`
    (bool), `reason` (`BELOW_THRESHOLD`, `COMPLEMENTARY` or NA), `banded` (bool), `band` (the
    option's band, or `MARKER`, for a banded group) and, with `positive`, `positive_band`.
    `attrs["suppression_method"]` says how the complements were chosen: `METHOD_MILP`, or
    `METHOD_GREEDY` where a programme ran out of time.
    """
    assert isinstance(k, int) and k >= 1, "k is a whole number of people"
    assert {"team", "role", "count"} <= set(table.columns), "need team, role and count"
    assert pd.api.types.is_integer_dtype(table["count"]), "counts are whole numbers"
    assert table["count"].notna().all(), "every count is known"
    assert (table["count"] >= 0).all(), "counts are never negative"
    linked = {name: tuple(members) for name, members in (linked_teams or {}).items()}
    keys = [column for column in ("question", "team", "role", "option") if column in table]
    assert not table.duplicated(keys).any(), f"one row per {', '.join(keys)}"

    _NARROWED.clear()
    rows = table.reset_index(drop=True)
    questions: list[tuple[Any, pd.DataFrame]] = (
        list(rows.groupby("question", sort=False)) if "question" in rows else [(None, rows)]
    )
    parsed = {question: _parse(one, linked) for question, one in questions}
    forced: dict[object, set[int]] = defaultdict(set)
    for question, team, role in withhold:
        groups = parsed[question][0].groups if question in parsed else []
        if (team, role) in groups:
            forced[question].add(groups.index((team, role)))
    reasons, method = _patterns(
        {question: table_ for question, (table_, *_) in parsed.items()},
        k=k,
        links=links or Links(),
        forced=forced,
        time_limit=time_limit,
        deadline=_Deadline(None if give_up_after is None else time.monotonic() + give_up_after),
    )
    states = pd.concat(
        [
            _state(parsed[question], one, k=k, reasons=reasons[question], band=band_under_2k)
            for question, one in questions
        ]
    )
    suppressed = pd.concat([table, states.sort_index().set_axis(table.index)], axis=1)
    for column in FIGURES:
        if column in suppressed:
            hidden = suppressed["withheld"] | (suppressed["banded"] & (column != "base"))
            suppressed[column] = _nullable(suppressed[column]).mask(hidden)
    suppressed.attrs["suppression_method"] = method
    return suppressed


def audit(
    table: pd.DataFrame,
    suppressed: pd.DataFrame,
    *,
    k: int,
    linked_teams: Mapping[str, Collection[str]] | None = None,
    links: Links | None = None,
) -> list[str]:
    """What is wrong with a suppressed table, checked afresh against the exact one: a shown
    group under `k`, a withheld figure the maximum-flow attack narrows too far, or linked
    questions whose patterns differ. An empty list is a pass."""
    links = links or Links()
    linked = {name: tuple(members) for name, members in (linked_teams or {}).items()}
    by_question: list[tuple[Any, pd.DataFrame]] = (
        list(table.groupby("question", sort=False)) if "question" in table else [(None, table)]
    )
    withheld = suppressed["withheld"].astype(bool)
    hidden: dict[object, set[Group]] = {}
    tables: dict[object, _Table] = {}
    withheld_groups: dict[object, set[int]] = {}
    problems = []
    for question, rows in by_question:
        parsed = _parse(rows.reset_index(drop=True), linked)[0]
        mask = withheld.loc[rows.index]
        hidden[question] = set(zip(rows["team"][mask], rows["role"][mask], strict=True))
        index = {group: i for i, group in enumerate(parsed.groups)}
        reasons = {
            index[g]: BELOW_THRESHOLD if parsed.base[index[g]] < k else COMPLEMENTARY
            for g in hidden[question]
        }
        small = [g for g in np.flatnonzero(parsed.base < k) if int(g) not in reasons]
        if small:
            problems.append(f"{question}: {len(small)} groups under {k} shown")
        tables[question] = parsed
        withheld_groups[question] = set(reasons)
    respondents = None if links.respondents is None else tables.get(links.respondents)
    shown = None
    if respondents is not None:
        shown = _Respondents(respondents, withheld_groups[links.respondents])
    for question, parsed in tables.items():
        bounded = None
        if shown is not None and question != links.respondents and question not in links.several:
            bounded = _Bounded(parsed, shown, question in links.everyone)
        weak = _weakest([parsed], withheld_groups[question], k, [bounded])
        if weak is not None:
            problems.append(f"{question}: {parsed.groups[weak[1]]} can be narrowed too far")
    everywhere = hidden.get(links.respondents, set())
    for question, groups in hidden.items():
        if not everywhere <= groups:
            problems.append(f"{question}: shows a group whose number of respondents is withheld")
    for routed, by in links.routed_by.items():
        for question in by:
            if routed in hidden and question in hidden and hidden[routed] != hidden[question]:
                problems.append(f"{routed}: withholds other groups than {question}, its routing")
    return problems


def for_readers(suppressed: pd.DataFrame) -> pd.DataFrame:
    """A suppressed table, or anything computed from one, as scrutiny, HR and the API may see
    it: in every reason column (`reason`, `reason_*`, `no_test_reason`) the two suppression rules
    read the same, `WITHHELD`; other reasons (not comparable, banded) stay as they are."""
    readable = suppressed.copy()
    rules = {BELOW_THRESHOLD: WITHHELD, COMPLEMENTARY: WITHHELD}
    for column in readable.columns:
        if column == "reason" or column.startswith("reason_") or column == "no_test_reason":
            readable[column] = readable[column].replace(rules)
    return readable


def refuse_small_remainder(
    *, view_respondents: int, wave_respondents: int, k: int = DEFAULT_THRESHOLD
) -> None:
    """Refuse a filtered view when the wave less the view is a group of 1 to `k - 1`.

    Its figures would be the wave's figures less the view's, shown for fewer than `k` people.
    """
    assert 0 <= view_respondents <= wave_respondents, "a view is part of its wave"
    remainder = wave_respondents - view_respondents
    if 0 < remainder < k:
        raise RemainderBelowThreshold(
            f"the rest of the wave outside this view is {remainder} people, fewer than {k}"
        )


@dataclass(frozen=True)
class _Line:
    """A shown total and the groups that add up to it.

    `sign` orients the line in the flow network: every group then adds up in at most one line
    with +1 and one with -1, so the attacker's equations form a network.
    """

    total: int
    parts: tuple[int, ...]
    sign: int


@dataclass(frozen=True)
class _Table:
    groups: list[Group]
    counts: IntArray  # group × option
    lines: tuple[_Line, ...]
    overall: int

    @cached_property
    def base(self) -> IntArray:
        return np.asarray(self.counts.sum(axis=1), np.int64)

    @cached_property
    def ends(self) -> tuple[IntArray, IntArray]:
        """Each group's node with +1 and with -1 in the network (node 0: in no such line)."""
        plus, minus = np.zeros(len(self.counts), np.int64), np.zeros(len(self.counts), np.int64)
        for node, line in enumerate(self.lines, start=1):
            for group, coefficient in [(line.total, -line.sign)] + [
                (p, line.sign) for p in line.parts
            ]:
                end = plus if coefficient > 0 else minus
                assert end[group] == 0, "each group adds up in at most two lines, one each way"
                end[group] = node
        return plus, minus


_Parsed = tuple["_Table", npt.NDArray[np.int64], npt.NDArray[np.int64], list[object]]
"""A question's table, each row's group and option, and the options in order."""


def _parse(rows: pd.DataFrame, linked: dict[str, tuple[str, ...]]) -> _Parsed:
    keys = list(zip(rows["team"], rows["role"], strict=True))
    index = {key: i for i, key in enumerate(dict.fromkeys(keys))}
    groups, group_of_row = list(index), np.array([index[key] for key in keys])
    # Without options, a group's one row counts its people: as if all chose one option.
    option_keys = rows["option"].tolist() if "option" in rows else [None] * len(rows)
    options = {option: i for i, option in enumerate(dict.fromkeys(option_keys))}
    option_of_row = np.array([options[option] for option in option_keys])
    assert len(rows) == len(groups) * len(options), "every group has a row for every option"
    counts = np.zeros((len(groups), len(options)), np.int64)
    counts[group_of_row, option_of_row] = rows["count"].to_numpy()
    if "base" in rows:
        assert (rows["base"].to_numpy() == counts.sum(axis=1)[group_of_row]).all(), (
            "base = sum of counts"
        )
    return _table(groups, counts, linked), group_of_row, option_of_row, list(options)


def _state(
    parsed: _Parsed, rows: pd.DataFrame, *, k: int, reasons: dict[int, str], band: bool
) -> pd.DataFrame:
    """Each row's state, for one question's table and its chosen pattern."""
    table, group_of_row, option_of_row, options = parsed
    banded = _banded(table, k, reasons) if band else set()
    withheld_row = np.isin(group_of_row, list(reasons))
    banded_row = np.isin(group_of_row, list(banded))
    counts = table.counts
    state = pd.DataFrame(
        {
            "withheld": withheld_row,
            "reason": [reasons.get(int(g)) for g in group_of_row],
            "banded": banded_row,
            "band": _bands(
                counts[group_of_row, option_of_row], table.base[group_of_row], k, banded_row
            ),
        },
        index=rows.index,
    )
    if "positive" in rows:
        positive = np.zeros(len(options), bool)
        positive[option_of_row] = rows["positive"].to_numpy(bool)
        positive_count = counts[:, positive].sum(axis=1)
        state["positive_band"] = _bands(
            positive_count[group_of_row], table.base[group_of_row], k, banded_row
        )
    return state


def _table(groups: list[Group], counts: IntArray, linked: dict[str, tuple[str, ...]]) -> _Table:
    """The lines along which the groups add up, checked against the counts."""
    index = {group: i for i, group in enumerate(groups)}
    assert (ALL, ALL) in index, "the overall is always part of the table"
    member_of = {member: name for name, members in linked.items() for member in members}
    assert len(member_of) == sum(map(len, linked.values())), "linked groups do not overlap"
    teams = [t for t, r in groups if r == ALL and t != ALL and t not in linked]
    roles = [r for t, r in groups if t == ALL and r != ALL]
    cells = {(t, r) for t, r in groups if ALL not in (t, r)}
    assert not cells or cells == {(t, r) for t in teams for r in roles}, "cells for every pair"
    assert set(member_of) <= set(teams), "linked groups are made of the wave's teams"
    assert all((name, ALL) in index for name in linked), "every linked group is in the table"
    assert not cells & {(name, r) for name in linked for r in roles}, "linked groups by team only"

    lines = []

    def add(total: Group, parts: list[Group], sign: int) -> None:
        present = tuple(index[p] for p in parts if p in index)
        if present:
            assert (counts[list(present)].sum(axis=0) == counts[index[total]]).all(), (
                f"{total} is not the sum of its parts"
            )
            lines.append(_Line(index[total], present, sign))

    stand_ins = [(t, ALL) for t in teams if t not in member_of] + [(name, ALL) for name in linked]
    add((ALL, ALL), stand_ins, +1)
    for name, members in linked.items():
        add((name, ALL), [(member, ALL) for member in members], +1)
    add((ALL, ALL), [(ALL, r) for r in roles], -1)
    for t in teams:
        add((t, ALL), [(t, r) for r in roles], +1)
    for r in roles:
        add((ALL, r), [(t, r) for t in teams], -1)
    return _Table(groups, counts, tuple(lines), index[(ALL, ALL)])


def _patterns(
    tables: Mapping[object, _Table],
    *,
    k: int,
    links: Links,
    forced: Mapping[object, set[int]],
    time_limit: float,
    deadline: _Deadline,
) -> tuple[dict[object, dict[int, str]], str]:
    """Each question's withheld groups with their reasons, and the method that chose them.

    The respondents' pattern comes first, since every question must withhold what it
    withholds; then each set of questions linked by routing gets one pattern of its own.
    """
    respondents = links.respondents if links.respondents in tables else None
    others = [q for q in tables if respondents is None or q != respondents]
    chosen: dict[object, set[int]] = {}
    methods = set()
    if respondents is not None:
        hidden, method = _unit_pattern(
            [tables[respondents]], forced.get(respondents, set()), k, time_limit, deadline
        )
        chosen[respondents] = hidden
        methods.add(method)
    everywhere = chosen.get(respondents, set())
    shown = None if respondents is None else _Respondents(tables[respondents], everywhere)
    for unit in _linked_units(others, links.routed_by):
        must = everywhere.union(*(forced.get(q, set()) for q in unit))
        bounded = [
            _Bounded(tables[q], shown, q in links.everyone)
            if shown and q not in links.several
            else None
            for q in unit
        ]
        hidden, method = _unit_pattern(
            [tables[q] for q in unit], must, k, time_limit, deadline, bounded
        )
        chosen |= dict.fromkeys(unit, hidden)
        methods.add(method)
    reasons = {
        question: {
            g: BELOW_THRESHOLD if tables[question].base[g] < k else COMPLEMENTARY
            for g in sorted(hidden)
        }
        for question, hidden in chosen.items()
    }
    return reasons, METHOD_GREEDY if METHOD_GREEDY in methods else METHOD_MILP


def _linked_units(
    questions: list[object], routed_by: Mapping[str, Collection[str]]
) -> list[list[object]]:
    """The questions in sets joined by routing, each set in questionnaire order."""
    parent = {q: q for q in questions}

    def root(q: object) -> object:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    for routed, by in routed_by.items():
        for question in by:
            if routed in parent and question in parent:
                parent[root(routed)] = root(question)
    units: dict[object, list[object]] = {}
    for q in questions:
        units.setdefault(root(q), []).append(q)
    return list(units.values())


@dataclass(frozen=True)
class _Respondents:
    """The respondents' table and the groups it withholds."""

    table: _Table
    hidden: set[int]


@dataclass(frozen=True)
class _Bounded:
    """A question's table beside the respondents': each group's base is at most its number of
    respondents (equal to it for a question everyone answers), shown or withheld."""

    table: _Table
    respondents: _Respondents
    everyone: bool


def _unit_pattern(
    tables: list[_Table],
    forced: set[int],
    k: int,
    time_limit: float,
    deadline: _Deadline,
    bounded: list[_Bounded | None] | None = None,
) -> tuple[set[int], str]:
    """One pattern for tables of the same groups: primary (a base under `k` in any of them),
    the least-loss complements, then the audit of each table, whose every failure becomes a
    cut (one more of the weak group's shown neighbours) for the next programme."""
    primary = forced | {int(g) for t in tables for g in np.flatnonzero(t.base < k)}
    deadline.check()
    if len(primary) == len(tables[0].counts):
        return primary, METHOD_MILP  # every group withheld: nothing shown to attack
    cuts: list[list[int]] = []
    while True:
        hidden = _least_loss(tables, primary, k, cuts, time_limit)
        if hidden is None:
            return _next_smallest(tables, primary, k, deadline, bounded), METHOD_GREEDY
        weak = _weakest(tables, hidden, k, bounded, deadline)
        if weak is None:
            return hidden, METHOD_MILP
        table, group = weak
        cuts.append(_shown_neighbours(table, group, hidden))


def _weakest(
    tables: list[_Table],
    hidden: set[int],
    k: int,
    bounded: list[_Bounded | None] | None = None,
    deadline: _Deadline = _Deadline(None),
) -> tuple[_Table, int] | None:
    """The first table and withheld group an attacker narrows too far: by maximum flow, then
    by linear programme over the table and the respondents', whose numbers bound its bases."""
    for i, table in enumerate(tables):
        deadline.check()
        reasons = {g: BELOW_THRESHOLD if table.base[g] < k else COMPLEMENTARY for g in hidden}
        weak = _first_unprotected(table, k, reasons)
        beside = bounded[i] if bounded else None
        if weak is None and beside is not None:
            weak = _first_narrowed(beside, hidden, k)
        if weak is not None:
            return table, weak
    return None


def _first_narrowed(bounded: _Bounded, hidden: set[int], k: int) -> int | None:
    """The first withheld group under `k` whose base moves by less than `k`, or an option's
    count by less than its lines leave open (`k` at most), given both tables' shown figures and
    that no base exceeds its group's respondents. A question some do not
    answer (or answer "not applicable") has bases below the respondents: a small one beside a
    withheld group with little room left can be pinned from both sides."""
    table, people = bounded.table, bounded.respondents
    small = [g for g in sorted(hidden) if table.base[g] < k]
    if not small or len(hidden) == len(table.counts):
        return None  # nothing under k withheld, or nothing shown at all
    if bounded.everyone and hidden == people.hidden:
        # Each withheld base is a withheld number of respondents, bound by nothing but the
        # respondents' lines, which the table's own lines already imply: the flows saw it all.
        return None
    key = (
        table.counts.tobytes(),
        people.table.counts.tobytes(),
        table.lines,
        frozenset(hidden),
        frozenset(people.hidden),
        bounded.everyone,
        k,
    )
    if key in _NARROWED:
        return _NARROWED[key]
    found = _NARROWED[key] = _narrowed(bounded, hidden, small, k)
    return found


_NARROWED: dict[tuple[object, ...], int | None] = {}
"""`_first_narrowed`'s answers since the last `suppress` began: its audit asks again what its
search asked."""


def _narrowed(bounded: _Bounded, hidden: set[int], small: list[int], k: int) -> int | None:
    table, people = bounded.table, bounded.respondents
    counts = _Unknowns(table, hidden)
    respondents = _Unknowns(people.table, people.hidden, offset=counts.size)
    equal = counts.lines() + respondents.lines()
    at_most: list[tuple[dict[int, float], float]] = []
    for group in sorted(hidden):
        base = dict.fromkeys(counts.of(group), 1.0)
        if group in people.hidden:
            row = base | {respondents.of(group)[0]: -1.0}, 0.0
        else:
            row = base, float(people.table.base[group])
        (equal if bounded.everyone else at_most).append(row)
    ranges = _Ranges(counts.size + respondents.size, equal, at_most)
    attack = _Attack(table, frozenset(hidden), k)
    for group in small:
        if ranges.width(counts.of(group)) < k:
            return group
        need = np.minimum(k, attack.open_counts(group))
        for option, column in enumerate(counts.of(group)):
            if need[option] > 0 and ranges.width([column]) < need[option]:
                return group
    return None


class _Ranges:
    """How far sums of unknowns (all at least 0) can move under linear equations and upper
    bounds: one HiGHS model, its objective changed for each sum, so each range is two warm
    solves."""

    def __init__(
        self,
        size: int,
        equal: list[tuple[dict[int, float], float]],
        at_most: list[tuple[dict[int, float], float]],
    ) -> None:
        self.highs = _quiet_highs()
        infinity = highspy.kHighsInf
        self.highs.addVars(size, np.zeros(size), np.full(size, infinity))
        rows = equal + at_most
        lower = [value for _, value in equal] + [-infinity] * len(at_most)
        upper = [value for _, value in rows]
        matrix = _sparse([terms for terms, _ in rows], size)
        self.highs.addRows(
            len(rows),
            np.array(lower, dtype=float),
            np.array(upper, dtype=float),
            matrix.nnz,
            matrix.indptr[:-1].astype(np.int32),
            matrix.indices.astype(np.int32),
            matrix.data.astype(float),
        )
        self.costed: list[int] = []

    def width(self, columns: list[int]) -> float:
        if self.costed:
            self.highs.changeColsCost(
                len(self.costed), np.array(self.costed, np.int32), np.zeros(len(self.costed))
            )
        self.highs.changeColsCost(len(columns), np.array(columns, np.int32), np.ones(len(columns)))
        self.costed = columns
        ends = []
        for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
            self.highs.changeObjectiveSense(sense)
            self.highs.run()
            status = self.highs.getModelStatus()
            if status == highspy.HighsModelStatus.kUnbounded:
                return np.inf  # under a withheld total, with no shown number above it
            assert status == highspy.HighsModelStatus.kOptimal, status
            ends.append(self.highs.getInfo().objective_function_value)
        return float(ends[1] - ends[0])


class _Unknowns:
    """A table's withheld counts as the variables of a linear programme, from `offset` on."""

    def __init__(self, table: _Table, hidden: set[int], offset: int = 0) -> None:
        self.table, self.options = table, table.counts.shape[1]
        self.column = {g: offset + i * self.options for i, g in enumerate(sorted(hidden))}
        self.size = len(hidden) * self.options

    def of(self, group: int) -> list[int]:
        start = self.column[group]
        return list(range(start, start + self.options))

    def lines(self) -> list[tuple[dict[int, float], float]]:
        """Each line, option by option: its withheld terms, equal to what its shown ones leave."""
        rows = []
        for line in self.table.lines:
            for option in range(self.options):
                terms: dict[int, float] = {}
                known = 0.0
                for group, sign in [(line.total, -1.0)] + [(p, 1.0) for p in line.parts]:
                    if group in self.column:
                        terms[self.column[group] + option] = sign
                    else:
                        known += sign * float(self.table.counts[group, option])
                if terms:
                    rows.append((terms, -known))
        return rows


_FIRST_HIGHS = Lock()
_highs_made = False


def _quiet_highs() -> highspy.Highs:
    """A HiGHS model that prints nothing. HiGHS prints a banner to standard output when a
    process makes its first model, which would land in the command line's CSV or JSON."""
    global _highs_made
    with _FIRST_HIGHS:
        if _highs_made:
            highs = highspy.Highs()  # type: ignore[no-untyped-call]
        else:
            sys.stdout.flush()
            saved = os.dup(1)
            try:
                with open(os.devnull, "w") as devnull:
                    os.dup2(devnull.fileno(), 1)
                    highs = highspy.Highs()  # type: ignore[no-untyped-call]
            finally:
                os.dup2(saved, 1)
                os.close(saved)
            _highs_made = True
    highs.setOptionValue("output_flag", False)
    return highs


def _sparse(rows: list[dict[int, float]], size: int) -> sparse.csr_array:
    entries = [(i, j, value) for i, row in enumerate(rows) for j, value in row.items()]
    i, j, value = zip(*entries, strict=True) if entries else ((), (), ())
    return sparse.csr_array((value, (i, j)), shape=(len(rows), size))


def _least_loss(
    tables: list[_Table], primary: set[int], k: int, cuts: list[list[int]], time_limit: float
) -> set[int] | None:
    """The cheapest set of groups to withhold, `primary` among them, such that in every line
    of every table whose total is shown the withheld parts are none, or two or more of `k` or
    more people together; a withheld total has a withheld part; and each cut has a withheld
    group. A group costs one, plus its share of the overall: a large group costs more.
    None when the programme did not finish in time."""
    first = tables[0]
    size = len(first.counts)
    rows: list[dict[int, float]] = []
    for table in tables:
        for line in table.lines:
            total, parts = line.total, line.parts
            for part in parts:
                others = {p: 1.0 for p in parts if p != part}
                rows.append(others | {part: -1.0, total: others.get(total, 0.0) + 1.0})
                if table.base[part] < k or part in primary:
                    weights = {p: float(table.base[p]) for p in parts}
                    weights[part] = weights[part] - k
                    weights[total] = weights.get(total, 0.0) + k
                    rows.append(weights)
            rows.append(dict.fromkeys(parts, 1.0) | {total: -1.0})
    needs = {tuple(sorted(row.items())): (row, 0.0) for row in rows}
    needs |= {
        tuple(sorted(dict.fromkeys(cut, 1.0).items())): (dict.fromkeys(cut, 1.0), 1.0)
        for cut in cuts
    }
    matrix = sparse.lil_array((len(needs), size))
    bound = np.zeros(len(needs))
    for i, (row, at_least) in enumerate(needs.values()):
        bound[i] = at_least
        for j, value in row.items():
            matrix[i, j] = value
    people = np.sum([table.base for table in tables], axis=0).astype(float)
    # Less than one person's share apart, ties go to the group first in the wave's order.
    order = np.arange(size) / (size * (people[first.overall] + 2.0))
    cost = 1.0 + (people + order) / (people[first.overall] + 1.0)
    cost[first.overall] += size  # the overall only when nothing less will do
    fixed = np.zeros(size)
    fixed[sorted(primary)] = 1.0
    result = milp(
        cost,
        integrality=np.ones(size, dtype=np.int64),
        bounds=Bounds(fixed, np.ones(size)),
        constraints=LinearConstraint(matrix.tocsr(), bound, np.inf),
        options={"time_limit": time_limit, "mip_rel_gap": 0.0},
    )
    if result.status != 0 or result.x is None:
        return None
    return {int(g) for g in np.flatnonzero(result.x > 0.5)}


def _next_smallest(
    tables: list[_Table],
    primary: set[int],
    k: int,
    deadline: _Deadline,
    bounded: list[_Bounded | None] | None = None,
) -> set[int]:
    """Rules 2 and 3 without a programme: the next smallest, line by line, until the audit
    of every table passes."""
    reasons = dict.fromkeys(primary, BELOW_THRESHOLD)
    while True:
        for table in tables:
            _complete_lines(table, k, reasons)
        weak = _weakest(tables, set(reasons), k, bounded, deadline)
        if weak is None:
            return set(reasons)
        table, group = weak
        reasons[_smallest_shown_neighbour(table, group, reasons)] = COMPLEMENTARY


def _shown_neighbours(table: _Table, group: int, hidden: Collection[int]) -> list[int]:
    """The shown groups sharing a line with `group` (every shown group, if none does)."""
    shown = [g for g in range(len(table.counts)) if g not in hidden]
    near = {
        p
        for line in table.lines
        if group in (line.total, *line.parts)
        for p in (line.total, *line.parts)
    }
    return [g for g in shown if g in near] or shown


def _complete_lines(table: _Table, threshold: int, hidden: dict[int, str]) -> None:
    """Rule 2, to a fixpoint: the hidden parts of a shown total are 2 or more, of `threshold`
    or more people together."""
    changed = True
    while changed:
        changed = False
        for line in table.lines:
            withheld = [p for p in line.parts if p in hidden]
            enough = len(withheld) >= 2 and table.base[withheld].sum() >= threshold
            if line.total in hidden or not withheld or enough:
                continue
            shown = [p for p in line.parts if p not in hidden]
            hidden[min(shown, key=lambda p: (table.base[p], p)) if shown else line.total] = (
                COMPLEMENTARY
            )
            changed = True


def _first_unprotected(table: _Table, k: int, reasons: Mapping[int, str]) -> int | None:
    """The first withheld group an attacker could narrow too far, if any.

    Every withheld base must keep a range of `k`. Option counts must stay open only in groups
    under `k`: a complementary group has `k` or more people, and its counts matter only as a
    way to a small group's, which are checked themselves.
    """
    attack = _Attack(table, frozenset(reasons), k)
    for group in sorted(reasons):
        need = np.minimum(k, attack.open_counts(group))
        if reasons[group] == COMPLEMENTARY:
            need[:] = 0
        if not attack.protects(group, need):
            return group
    return None


def _smallest_shown_neighbour(table: _Table, group: int, hidden: Collection[int]) -> int:
    """The next group to withhold to widen `group`'s range: the smallest sharing a line with it."""
    shown = [g for g in range(len(table.counts)) if g not in hidden and g != table.overall]
    near = {
        p
        for line in table.lines
        if group in (line.total, *line.parts)
        for p in (line.total, *line.parts)
    }
    candidates = [g for g in shown if g in near] or shown
    assert candidates, "with all but the overall withheld, every range spans the overall"
    return min(candidates, key=lambda g: (table.base[g], g))


class _Attack:
    """What an attacker who knows every shown figure can learn about the withheld ones.

    For each option, the equations between a table's groups form a network (lines are nodes,
    groups are arcs), so the range of a withheld count is two maximum flows: how much can be
    moved into it, and out of it, through the other withheld counts. Flows stop at what the
    decision needs (`k` more than the count), which keeps them to a few augmenting paths.
    """

    def __init__(self, table: _Table, hidden: frozenset[int], k: int) -> None:
        self.table, self.hidden, self.k = table, hidden, k
        self.plus, self.minus = (ends.tolist() for ends in table.ends)
        # More than any flow is ever asked for: no flow goes beyond `k` more than a count.
        self.unbounded = int(table.counts[sorted(hidden)].sum()) + k + 1
        self.neighbours: dict[int, set[int]] = defaultdict(set)
        self.capacity: list[dict[tuple[int, int], int]] = [
            defaultdict(int) for _ in range(table.counts.shape[1])
        ]
        for group in hidden:
            plus, minus = self.plus[group], self.minus[group]
            self.neighbours[plus].add(minus)
            self.neighbours[minus].add(plus)
            for option, count in enumerate(table.counts[group].tolist()):
                # A withheld count can grow without bound, and shrink to zero.
                self.capacity[option][minus, plus] += self.unbounded
                self.capacity[option][plus, minus] += count
        self.flows: dict[tuple[int, int, int, int], int] = {}

    def protects(self, group: int, need: IntArray) -> bool:
        """Whether each option's count can move by its `need`, and the base by `k`."""
        # A group in no line is the overall of a table of nothing else: withheld only with
        # everything, which is never attacked.
        assert self.plus[group] != self.minus[group], "a withheld group is part of a line"
        width = 0
        for option in np.argsort(-need, kind="stable").tolist():
            if need[option] == 0 and width >= self.k:
                break
            option_width = self._up(group, option) + self._down(group, option)
            if option_width < need[option]:
                return False
            width += option_width
        return width >= self.k

    def _up(self, group: int, option: int) -> int:
        """How much more the count can be, `k` at most. The group's own arc runs straight from
        source to sink, so the flow without it is the flow with it less its capacity: one flow
        serves every group between the same two lines."""
        count = int(self.table.counts[group, option])
        key = (self.plus[group], self.minus[group], option, self.k + count)
        if key not in self.flows:
            self.flows[key] = self._flow(option, key[0], key[1], limit=key[3])
        return self.flows[key] - count

    def _down(self, group: int, option: int) -> int:
        """How much less the count can be: down to zero at most."""
        count = int(self.table.counts[group, option])
        if count == 0:
            return 0
        arc = (self.minus[group], self.plus[group])
        return self._flow(option, *arc, limit=count, closed=arc)

    def _flow(
        self,
        option: int,
        source: int,
        sink: int,
        *,
        limit: int,
        closed: tuple[int, int] | None = None,
    ) -> int:
        """Maximum flow from `source` to `sink`, up to `limit`, without the group on `closed`."""
        residual = defaultdict(int, self.capacity[option])
        if closed:
            residual[closed] -= self.unbounded
        flow = 0
        while flow < limit:
            came_from = {source: source}
            queue = deque([source])
            while queue and sink not in came_from:
                node = queue.popleft()
                for step in self.neighbours[node]:
                    if step not in came_from and residual[node, step] > 0:
                        came_from[step] = node
                        queue.append(step)
            if sink not in came_from:
                return flow
            path = [(came_from[node], node) for node in self._back_from(sink, came_from)]
            push = min(limit - flow, *(residual[arc] for arc in path))
            for start, end in path:
                residual[start, end] -= push
                residual[end, start] += push
            flow += push
        return flow

    @staticmethod
    def _back_from(node: int, came_from: dict[int, int]) -> list[int]:
        """The nodes of the path found, from the sink back to just after the source."""
        nodes = []
        while came_from[node] != node:
            nodes.append(node)
            node = came_from[node]
        return nodes

    def open_counts(self, group: int) -> IntArray:
        """Per option, what the group's lines leave open: the withheld count of its tightest
        line, the overall's at most. An attacker learns that much however it is hidden."""
        table, tightest = self.table, self.table.counts[self.table.overall]
        for line in table.lines:
            if group in line.parts:
                if line.total in self.hidden:
                    bound = self.open_counts(line.total)
                else:
                    bound = table.counts[[p for p in line.parts if p in self.hidden]].sum(axis=0)
                tightest = np.minimum(tightest, bound)
        return np.asarray(tightest, np.int64)


def _banded(table: _Table, k: int, withheld: Mapping[int, str]) -> set[int]:
    """Shown groups under `2k`, and the groups rule 2 at `2k` hides with them."""
    hidden = dict(withheld) | {
        int(g): "" for g in np.flatnonzero(table.base < 2 * k) if g not in withheld
    }
    _complete_lines(table, 2 * k, hidden)
    return set(hidden) - set(withheld)


def _bands(
    counts: IntArray, bases: IntArray, k: int, banded: npt.NDArray[np.bool_]
) -> list[str | None]:
    """Each banded count's band; None for a count shown exactly or withheld."""
    return [
        _band(int(count), int(base), k) if is_banded else None
        for count, base, is_banded in zip(counts, bases, banded, strict=True)
    ]


def _band(count: int, base: int, k: int) -> str:
    """A true statement that says neither whether a count is 0 or all, nor what it is.

    Which half of the group the count falls in: at most half is fewer than `k`, more than half
    is all but fewer than `k`, in any group under `2k`. Split at `k` instead, a group of exactly
    `k` would show "all but fewer than `k`" only when all of it answered alike. No band is true
    of every count in a group of `2k` or more, which shows `MARKER`.
    """
    if base >= 2 * k:
        return MARKER
    return f"fewer than {k}" if 2 * count <= base else f"all but fewer than {k}"


def _nullable(column: pd.Series) -> pd.Series:
    """The column in a dtype that can hold NA, so a withheld figure is never a number."""
    return column.astype("Int64" if pd.api.types.is_integer_dtype(column) else "Float64")
