"""Comparisons between groups: year on year, each team against its wave, and the spread of teams.

Every comparison takes SUPPRESSED tables, the output of `disclosure.suppress` over `tabulate`, and
only ever combines figures that suppression let through: a change, a difference or a test is a
function of shown figures (and of headcounts, which are published), so it shows nothing new. A
figure withheld (or banded) on either side withholds what is computed from it, with the reason.

Significance is a two-proportion z-test at 95% with the finite population correction. The pooled
proportion estimates the variance under "no difference"; each side's variance is scaled by
(N - n) / (N - 1), N the group's headcount and n its base, because a team is a small, known
population and most of it answers: 20 of 25 is nearly the whole team, and the plain test, which
treats them as a sample from an endless population, would call real differences chance. With
n = N (a census) that side has no sampling error at all. The headcount is the team's, not the
question's audience (supervisors only, say), so for a filtered question the correction is
smaller than it could be: the test errs on the side of "not significant". Responses are
anonymous and unlinked across waves, so the two waves are treated as independent samples;
the people who answer both years make the true variance of a change smaller, so this errs the
same way.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import norm

from analysis.disclosure import ALL, BELOW_THRESHOLD, COMPLEMENTARY, DEFAULT_THRESHOLD, MARKER

ALPHA = 0.05
"""Significance level: 95%."""

BANDED = "banded"
"""Why a figure is not compared: its group shows bands, not shares (`band_under_2k`)."""

COMPARABLE = "comparable"
COMPARABLE_WITH_NOTE = "comparable_with_note"
NOT_COMPARABLE = "not_comparable"

# Why a row has no test, besides BELOW_THRESHOLD, COMPLEMENTARY and BANDED carried over.
NO_COUNTERPART = "no_counterpart"
NO_POSITIVE_OPTION = "no_positive_option"
BASE_BELOW_K = "base_below_k"
HEADCOUNT_BELOW_BASE = "headcount_below_base"

# How a group of the later wave relates to the earlier one.
OVERALL = "overall"
CONTINUES = "continues"
SPLIT = "split"
MERGED = "merged"
REGROUPED = "regrouped"
NEW = "new"
ENDED = "ended"

OVERALL_LABEL = "All teams"

FloatArray = npt.NDArray[np.float64]

_GROUP_COLUMNS = [
    "question",
    "team",
    "base",
    "positive_count",
    "positive_share",
    "withheld",
    "reason",
    "banded",
    "positive_band",
    "has_positive",
]
_OPTION_COLUMNS = ["question", "team", "option", "label", "position", "count", "share", "band"]
_OPTION_FIGURES = ["question", "team", "option", "share", "band"]
_HIDING = [BELOW_THRESHOLD, COMPLEMENTARY, BANDED]
"""Reasons a figure is hidden, strongest first: the one a combined figure reports."""


def proportion_test(
    x1: npt.ArrayLike,
    n1: npt.ArrayLike,
    x2: npt.ArrayLike,
    n2: npt.ArrayLike,
    *,
    headcount1: npt.ArrayLike | None = None,
    headcount2: npt.ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """z and two-sided p for x2/n2 - x1/n1, pooled, each side corrected for its headcount.

    A headcount of NaN (or None) means unknown: that side is not corrected, as if endless.
    Variance 0 (a census on both sides, or everyone giving the same answer) makes an equal
    pair z = 0, p = 1, and an unequal pair z = ±inf, p = 0: with no sampling error left, any
    difference is real.
    """
    a1, b1, a2, b2 = (np.asarray(v, dtype=np.float64) for v in (x1, n1, x2, n2))
    assert (b1 > 0).all() and (b2 > 0).all(), "a share of nobody has no test"
    f1 = _correction(b1, headcount1)
    f2 = _correction(b2, headcount2)
    pooled = (a1 + a2) / (b1 + b2)
    variance = pooled * (1 - pooled) * (f1 / b1 + f2 / b2)
    difference = a2 / b2 - a1 / b1
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(
            variance > 0,
            difference / np.sqrt(variance),
            np.where(difference == 0, 0.0, np.copysign(np.inf, difference)),
        )
    p = np.asarray(2 * norm.sf(np.abs(z)), dtype=np.float64)
    return np.asarray(z, dtype=np.float64), p


def _correction(base: FloatArray, headcount: npt.ArrayLike | None) -> FloatArray:
    """(N - n) / (N - 1): 1 when N is unknown, 0 for a census."""
    if headcount is None:
        return np.ones_like(base)
    big = np.broadcast_to(np.asarray(headcount, dtype=np.float64), base.shape)
    assert (np.isnan(big) | (big >= base)).all(), "a group has no more answers than staff"
    with np.errstate(divide="ignore", invalid="ignore"):
        corrected = np.where(big > base, (big - base) / (big - 1), 0.0)
    return np.where(np.isnan(big), 1.0, corrected)


def year_on_year(
    before: pd.DataFrame,
    after: pd.DataFrame,
    *,
    pairs: pd.DataFrame,
    headcounts_before: pd.DataFrame,
    headcounts_after: pd.DataFrame,
    k: int = DEFAULT_THRESHOLD,
    lineage: pd.DataFrame | None = None,
    linked_before: Mapping[str, Collection[str]] | None = None,
    linked_after: Mapping[str, Collection[str]] | None = None,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Each paired question's options and positive share, per group, in two waves, and the change.

    `before`, `after`: each wave's suppressed table (`suppress(tabulate(...))`, `band_under_2k`
    either way); only its team rows (`role` = `ALL`) are used. `pairs`: `question_before`,
    `question_after`, `comparability` (`COMPARABLE`, `COMPARABLE_WITH_NOTE`, `NOT_COMPARABLE`),
    `note` (optional). `headcounts_*`: `team`, `headcount` (NA if unknown: no correction),
    optionally `name` for labels. `k`: the larger of the two waves' thresholds.

    `lineage`: `team_before`, `team_after`, one row per succession (every team's predecessors,
    as the app stores them). A team in no row continues the team with its key, if any. Teams
    linked together are compared as unions: 2015's successors of a split 2014 team together
    against it, labelled "A + B (successors of C)". A union must be a linked group of its wave
    (`linked_*`, as passed to `suppress`), or else it is added up here from its members, shown
    only when every member is shown (then it adds nothing to what is shown).

    Returns one row per pair, group and option (options of either wave, matched by code):
    `question_before`, `question_after`, `comparability`, `note`, `group` (label), `lineage`
    (`OVERALL`, `CONTINUES`, `SPLIT`, `MERGED`, `REGROUPED`, `NEW`, `ENDED`), `team_before`,
    `team_after` (keys; `ALL` for the overall, NA where absent), `option`, `label_before`,
    `label_after`, `base_*`, `share_*`, `change_pp`, `positive_share_*`,
    `positive_change_pp`, `band_*`, `positive_band_*`, `withheld_*`, `reason_*`, `withheld`
    and `reason` (either side's, below threshold first), `headcount_*`, `fpc` (both sides
    corrected), `z`, `p_value`, `significant` (of the positive share's change, after less
    before) and `no_test_reason`. Changes are in percentage points, after less before; a
    not-comparable pair shows both waves' shares with no change and no test.
    """
    assert {"question_before", "question_after", "comparability"} <= set(pairs.columns)
    kinds = {COMPARABLE, COMPARABLE_WITH_NOTE, NOT_COMPARABLE}
    assert set(pairs["comparability"]) <= kinds, f"comparability is one of {sorted(kinds)}"
    pairs = pairs.reset_index(drop=True)
    note = pairs["note"] if "note" in pairs else pd.Series(None, index=pairs.index, dtype=object)
    pairs = pairs.assign(note=note.astype("str"), pair_order=range(len(pairs)))
    pairs = pairs[["question_before", "question_after", "comparability", "note", "pair_order"]]
    early = _Wave.of(before, headcounts_before, linked_before)
    late = _Wave.of(after, headcounts_after, linked_after)
    assert set(pairs["question_before"]) <= set(early.groups["question"]), "asked before"
    assert set(pairs["question_after"]) <= set(late.groups["question"]), "asked after"
    groups = _lineage(early, late, lineage)

    compared = pairs.merge(groups, how="cross")
    compared = compared.merge(early.side("before", _GROUP_COLUMNS), how="left")
    compared = compared.merge(late.side("after", _GROUP_COLUMNS), how="left")
    compared = _compare_groups(compared, k=k, alpha=alpha)

    options = _paired_options(pairs, early, late).merge(compared, how="left")
    options = options.merge(early.side("before", _OPTION_FIGURES), how="left")
    options = options.merge(late.side("after", _OPTION_FIGURES), how="left")
    change = (options["share_after"] - options["share_before"]) * 100
    options["change_pp"] = change.mask(options["no_change"])
    options = options.sort_values(
        ["pair_order", "group_order", "option_order"], kind="stable", ignore_index=True
    )
    columns = [
        "question_before",
        "question_after",
        "comparability",
        "note",
        "group",
        "lineage",
        "team_before",
        "team_after",
        "option",
        "label_before",
        "label_after",
        "base_before",
        "base_after",
        "share_before",
        "share_after",
        "change_pp",
        "positive_share_before",
        "positive_share_after",
        "positive_change_pp",
        "band_before",
        "band_after",
        "positive_band_before",
        "positive_band_after",
        "withheld_before",
        "reason_before",
        "withheld_after",
        "reason_after",
        "withheld",
        "reason",
        "headcount_before",
        "headcount_after",
        "fpc",
        "z",
        "p_value",
        "significant",
        "no_test_reason",
    ]
    return options[columns]


def _compare_groups(rows: pd.DataFrame, *, k: int, alpha: float) -> pd.DataFrame:
    """Per pair and group: the positive share's change, why anything is hidden, and the test."""
    absent = rows["team_before"].isna() | rows["team_after"].isna()
    hidden = {side: _hidden(rows, "{}_" + side) for side in ("before", "after")}
    for side in ("before", "after"):
        rows[f"withheld_{side}"] = rows[f"withheld_{side}"].astype("boolean")
        has_positive = rows[f"has_positive_{side}"].astype("boolean").fillna(False)
        share = rows[f"positive_share_{side}"].astype("Float64")
        rows[f"positive_share_{side}"] = share.where(has_positive)
    rows["reason"] = _strongest(hidden["before"], hidden["after"])
    rows["withheld"] = rows["reason"].notna()
    not_comparable = rows["comparability"] == NOT_COMPARABLE
    rows["no_change"] = not_comparable | absent | rows["withheld"]
    change = (rows["positive_share_after"] - rows["positive_share_before"]) * 100
    rows["positive_change_pp"] = change.mask(rows["no_change"])
    has_positive = rows["positive_share_before"].notna() & rows["positive_share_after"].notna()
    bases = [_floats(rows[f"base_{side}"]) for side in ("before", "after")]
    counts = [_floats(rows[f"headcount_{side}"]) for side in ("before", "after")]
    small = (bases[0] < k) | (bases[1] < k)
    over = (counts[0] < bases[0]) | (counts[1] < bases[1])
    rows["no_test_reason"] = _first_reason(
        [
            (not_comparable.to_numpy(), NOT_COMPARABLE),
            (absent.to_numpy(), NO_COUNTERPART),
            (rows["withheld"].to_numpy(), rows["reason"].to_numpy(dtype=object)),
            (~has_positive.to_numpy(), NO_POSITIVE_OPTION),
            (small, BASE_BELOW_K),
            (over, HEADCOUNT_BELOW_BASE),
        ],
        rows.index,
    )
    rows["fpc"] = ~np.isnan(counts[0]) & ~np.isnan(counts[1])
    positives = [_floats(rows[f"positive_count_{side}"]) for side in ("before", "after")]
    return _with_test(rows, positives, bases, counts, alpha)


def _with_test(
    rows: pd.DataFrame,
    positives: Sequence[FloatArray],
    bases: Sequence[FloatArray],
    headcounts: Sequence[FloatArray],
    alpha: float,
) -> pd.DataFrame:
    """`z`, `p_value` and `significant` where `no_test_reason` is NA: second side less first."""
    tested = rows["no_test_reason"].isna().to_numpy()
    z = np.full(len(rows), np.nan)
    p = np.full(len(rows), np.nan)
    if tested.any():
        z[tested], p[tested] = proportion_test(
            positives[0][tested],
            bases[0][tested],
            positives[1][tested],
            bases[1][tested],
            headcount1=headcounts[0][tested],
            headcount2=headcounts[1][tested],
        )
    rows["z"] = _nullable(z, index=rows.index)
    rows["p_value"] = _nullable(p, index=rows.index)
    rows["significant"] = (rows["p_value"] < alpha).astype("boolean")
    rows["fpc"] = rows["fpc"].astype("boolean").where(tested)
    return rows


def against_overall(
    table: pd.DataFrame,
    *,
    headcounts: pd.DataFrame,
    k: int = DEFAULT_THRESHOLD,
    linked_teams: Mapping[str, Collection[str]] | None = None,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Each team's positive share against the overall of its wave (Coventry's "Report 1").

    The difference shown is team less overall, as the report printed them side by side. The
    test is team against the REST of the wave (the overall less the team): the team is part of
    the overall, so the two are not independent samples and a two-sample test of team against
    overall would understate the difference. Team = overall exactly when team = rest, so the
    test answers the same question, correctly. The rest's figures are the overall's less the
    team's, both shown, so they show nothing new.

    `table`: one wave's suppressed table. `headcounts`: `team`, `headcount`, optionally `name`.
    `linked_teams`: as passed to `suppress`; linked groups are compared too, flagged `linked`.

    Returns one row per question and team (role `ALL`), in table order: `question`, `team`,
    `group` (label), `linked`, `base`, `positive_share`, `overall_base`,
    `overall_positive_share`, `difference_pp`, `rest_base`, `rest_positive_share`,
    `headcount`, `rest_headcount`, `withheld`, `reason`, `fpc`, `z`, `p_value`, `significant`
    (team against the rest) and `no_test_reason`.
    """
    wave = _Wave.of(table, headcounts, linked_teams)
    groups = wave.groups
    overall = groups.loc[groups["team"] == ALL]
    overall = overall.rename(columns={c: f"overall_{c}" for c in overall if c != "question"})
    rows = groups.loc[groups["team"] != ALL].merge(overall.drop(columns="overall_team"))
    rows = rows.reset_index(drop=True)
    rows["group"] = [wave.label(wave.members(team)) for team in rows["team"]]
    rows["linked"] = rows["team"].isin(list(wave.linked))
    rows["headcount"] = [wave.headcount(wave.members(team)) for team in rows["team"]]
    rows["rest_headcount"] = wave.headcount(wave.teams) - rows["headcount"]

    team_hidden, overall_hidden = _hidden(rows, "{}"), _hidden(rows, "overall_{}")
    rows["reason"] = _strongest(team_hidden, overall_hidden)
    rows["withheld"] = rows["reason"].notna()
    has_positive = rows["has_positive"].to_numpy(bool)
    shown = ~rows["withheld"].to_numpy() & has_positive
    positive_share = rows["positive_share"].astype("Float64").where(has_positive)
    overall_share = rows["overall_positive_share"].astype("Float64").where(has_positive)
    rows["positive_share"], rows["overall_positive_share"] = positive_share, overall_share
    rows["difference_pp"] = ((positive_share - overall_share) * 100).where(shown)

    base, overall_base = _floats(rows["base"]), _floats(rows["overall_base"])
    positive, overall_positive = (
        _floats(rows["positive_count"]),
        _floats(rows["overall_positive_count"]),
    )
    rest_base = overall_base - base
    small = (base < k) | (rest_base < k)
    rest_shown = shown & ~small
    rows["rest_base"] = _nullable(rest_base, index=rows.index, integer=True).where(
        ~rows["withheld"]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rest_share = (overall_positive - positive) / rest_base
    rows["rest_positive_share"] = _nullable(
        np.where(rest_shown, rest_share, np.nan), index=rows.index
    )
    headcount, rest_headcount = _floats(rows["headcount"]), _floats(rows["rest_headcount"])
    over = (headcount < base) | (rest_headcount < rest_base)
    rows["no_test_reason"] = _first_reason(
        [
            (rows["withheld"].to_numpy(), rows["reason"].to_numpy(dtype=object)),
            (~has_positive, NO_POSITIVE_OPTION),
            (small, BASE_BELOW_K),
            (over, HEADCOUNT_BELOW_BASE),
        ],
        rows.index,
    )
    rows["fpc"] = ~np.isnan(headcount) & ~np.isnan(rest_headcount)
    rows = _with_test(
        rows,
        [overall_positive - positive, positive],
        [rest_base, base],
        [rest_headcount, headcount],
        alpha,
    )
    rows["headcount"] = _nullable(headcount, index=rows.index, integer=True)
    rows["rest_headcount"] = _nullable(rest_headcount, index=rows.index, integer=True)
    columns = [
        "question",
        "team",
        "group",
        "linked",
        "base",
        "positive_share",
        "overall_base",
        "overall_positive_share",
        "difference_pp",
        "rest_base",
        "rest_positive_share",
        "headcount",
        "rest_headcount",
        "withheld",
        "reason",
        "fpc",
        "z",
        "p_value",
        "significant",
        "no_test_reason",
    ]
    return rows[columns]


def consistency(
    table: pd.DataFrame,
    *,
    headcounts: pd.DataFrame,
    k: int = DEFAULT_THRESHOLD,
    linked_teams: Mapping[str, Collection[str]] | None = None,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Per question, how far apart the teams are: scrutiny's first finding was inconsistency.

    Over the teams whose positive share is shown (linked groups left out: their members are
    teams already), with the tests of `against_overall` (team against the rest of the wave).

    Returns one row per question: `question`, `overall_positive_share`, `teams`,
    `teams_shown`, `lowest`, `highest` (positive shares), `range_pp` (NA under two teams shown),
    `teams_tested`, `teams_significant`, `teams_above`, `teams_below` (significantly above or
    below the rest of the wave).
    """
    rows = against_overall(
        table, headcounts=headcounts, k=k, linked_teams=linked_teams, alpha=alpha
    )
    rows = rows.loc[~rows["linked"]]
    significant = rows["significant"].fillna(False).astype(bool)
    rows = rows.assign(
        shown=rows["positive_share"].notna(),
        tested=rows["z"].notna(),
        significant=significant,
        above=significant & (rows["z"] > 0).fillna(False).astype(bool),
        below=significant & (rows["z"] < 0).fillna(False).astype(bool),
    )
    by_question = rows.groupby("question", sort=False)
    spread = by_question.agg(
        overall_positive_share=("overall_positive_share", "first"),
        teams=("team", "size"),
        teams_shown=("shown", "sum"),
        lowest=("positive_share", "min"),
        highest=("positive_share", "max"),
        teams_tested=("tested", "sum"),
        teams_significant=("significant", "sum"),
        teams_above=("above", "sum"),
        teams_below=("below", "sum"),
    )
    spread["range_pp"] = ((spread["highest"] - spread["lowest"]) * 100).where(
        spread["teams_shown"] >= 2
    )
    columns = [
        "overall_positive_share",
        "teams",
        "teams_shown",
        "lowest",
        "highest",
        "range_pp",
        "teams_tested",
        "teams_significant",
        "teams_above",
        "teams_below",
    ]
    return spread[columns].reset_index()


@dataclass
class _Wave:
    """One wave's team-level figures, with what is needed to find and label any union."""

    groups: pd.DataFrame
    options: pd.DataFrame
    teams: list[str]
    linked: dict[str, frozenset[str]]
    names: dict[str, str]
    headcounts: dict[str, float]
    added: set[str] = field(default_factory=set)

    @classmethod
    def of(
        cls,
        table: pd.DataFrame,
        headcounts: pd.DataFrame,
        linked: Mapping[str, Collection[str]] | None,
    ) -> _Wave:
        needed = {"question", "team", "role", "option", "positive", "base", "withheld", "banded"}
        assert needed <= set(table.columns), "a suppressed table from tabulate"
        assert {"team", "headcount"} <= set(headcounts.columns)
        rows = table.loc[table["role"] == ALL]
        has_positive = rows.groupby("question", sort=False)["positive"].transform("any")
        rows = rows.assign(has_positive=has_positive)
        groups = rows.drop_duplicates(["question", "team"])[_GROUP_COLUMNS]
        links = {name: frozenset(members) for name, members in (linked or {}).items()}
        teams = [t for t in dict.fromkeys(groups["team"]) if t != ALL and t not in links]
        names = dict(
            zip(headcounts["team"], headcounts.get("name", headcounts["team"]), strict=True)
        )
        known = headcounts["headcount"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        return cls(
            groups=groups.reset_index(drop=True),
            options=rows[_OPTION_COLUMNS].reset_index(drop=True),
            teams=teams,
            linked=links,
            names={str(k): str(v) for k, v in names.items()},
            headcounts=dict(zip(map(str, headcounts["team"]), known.tolist(), strict=True)),
        )

    def members(self, team: str) -> list[str]:
        members = self.linked.get(team)
        return [t for t in self.teams if t in members] if members else [team]

    def label(self, members: Sequence[str]) -> str:
        return " + ".join(self.names.get(m, m) for m in members)

    def headcount(self, members: Sequence[str]) -> float:
        return float(sum(self.headcounts.get(m, np.nan) for m in members))

    def key(self, members: Sequence[str]) -> str:
        """The group that is these teams together: a team, a linked group, or one added up."""
        if len(members) == 1:
            return members[0]
        for name, linked in self.linked.items():
            if linked == set(members):
                return name
        name = "+".join(members)
        if name not in self.added:
            self._add_union(name, members)
            self.added.add(name)
        return name

    def _add_union(self, name: str, members: Sequence[str]) -> None:
        """A union no suppression saw: shown only if all its members are, as their sum."""
        parts = self.groups.loc[self.groups["team"].isin(members)]
        by_question = parts.groupby("question", sort=False)
        union = by_question.agg(
            base=("base", "sum"),
            positive_count=("positive_count", "sum"),
            withheld=("withheld", "any"),
            banded=("banded", "any"),
            below=("reason", lambda r: (r == BELOW_THRESHOLD).any()),
            has_positive=("has_positive", "first"),
        ).reset_index()
        union["reason"] = pd.Series(
            np.where(union["below"], BELOW_THRESHOLD, COMPLEMENTARY), dtype="str"
        ).where(union["withheld"])
        union["banded"] &= ~union["withheld"]
        union["base"] = union["base"].astype("Int64").mask(union["withheld"])
        hidden = union["withheld"] | union["banded"]
        union["positive_count"] = union["positive_count"].astype("Int64").mask(hidden)
        union["positive_share"] = union["positive_count"] / union["base"].astype("Float64")
        union["positive_band"] = pd.Series(MARKER, index=union.index, dtype=object).where(
            union["banded"], None
        )
        union["team"] = name
        self.groups = pd.concat([self.groups, union[_GROUP_COLUMNS]], ignore_index=True)

        options = self.options.loc[self.options["team"].isin(members)]
        summed = options.groupby(["question", "option"], sort=False).agg(
            label=("label", "first"), position=("position", "first"), count=("count", "sum")
        )
        summed = summed.reset_index().merge(union[["question", "base", "withheld", "banded"]])
        hidden_options = summed["withheld"] | summed["banded"]
        summed["count"] = summed["count"].astype("Int64").mask(hidden_options)
        summed["share"] = summed["count"] / summed["base"].astype("Float64")
        summed["band"] = pd.Series(MARKER, index=summed.index, dtype=object).where(
            summed["banded"], None
        )
        summed["team"] = name
        self.options = pd.concat([self.options, summed[_OPTION_COLUMNS]], ignore_index=True)

    def side(self, side: str, columns: list[str]) -> pd.DataFrame:
        """Columns for one side of a comparison: keys renamed, figures suffixed."""
        frame = self.groups if "has_positive" in columns else self.options
        keys = {"question": f"question_{side}", "team": f"team_{side}"}
        shared = {"option"}
        return frame[columns].rename(
            columns={c: keys.get(c, c if c in shared else f"{c}_{side}") for c in columns}
        )


def _lineage(early: _Wave, late: _Wave, links: pd.DataFrame | None) -> pd.DataFrame:
    """The groups to compare: the overall, then the later wave's teams (or unions) in order,
    each beside what it continues, then the earlier teams that have no successor."""
    explicit = (
        [] if links is None else list(zip(links["team_before"], links["team_after"], strict=True))
    )
    assert all(b in early.teams and a in late.teams for b, a in explicit), "links between teams"
    mentioned = {b for b, _ in explicit} | {a for _, a in explicit}
    same = [(t, t) for t in late.teams if t in early.teams and t not in mentioned]
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(node: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    for b, a in explicit + same:
        parent[root(("before", b))] = root(("after", a))
    components: dict[tuple[str, str], tuple[list[str], list[str]]] = {}
    for side, teams in (("before", early.teams), ("after", late.teams)):
        for team in teams:
            if (side, team) in parent:
                befores, afters = components.setdefault(root((side, team)), ([], []))
                (befores if side == "before" else afters).append(team)

    rows = [(OVERALL, [ALL], [ALL])]
    emitted: set[tuple[str, str]] = set()
    for team in late.teams:
        if ("after", team) not in parent:
            rows.append((NEW, [], [team]))
        elif (found := root(("after", team))) not in emitted:
            emitted.add(found)
            befores, afters = components[found]
            kind = [[CONTINUES, SPLIT], [MERGED, REGROUPED]][len(befores) > 1][len(afters) > 1]
            rows.append((kind, befores, afters))
    rows += [(ENDED, [t], []) for t in early.teams if ("before", t) not in parent]

    def described(kind: str, befores: list[str], afters: list[str]) -> str:
        if kind == OVERALL:
            return OVERALL_LABEL
        if kind in (NEW, ENDED):
            return late.label(afters) if afters else early.label(befores)
        if kind == CONTINUES and befores == afters:
            return late.label(afters)
        plural = "successors" if len(afters) > 1 else "successor"
        return f"{late.label(afters)} ({plural} of {early.label(befores)})"

    def headcount(wave: _Wave, members: list[str]) -> float:
        return wave.headcount(wave.teams if members == [ALL] else members)

    return pd.DataFrame(
        {
            "group": [described(*row) for row in rows],
            "lineage": [kind for kind, _, _ in rows],
            "team_before": [early.key(b) if b else None for _, b, _ in rows],
            "team_after": [late.key(a) if a else None for _, _, a in rows],
            "headcount_before": [headcount(early, b) if b else np.nan for _, b, _ in rows],
            "headcount_after": [headcount(late, a) if a else np.nan for _, _, a in rows],
            "group_order": range(len(rows)),
        }
    ).astype({"headcount_before": "Int64", "headcount_after": "Int64"})


def _paired_options(pairs: pd.DataFrame, early: _Wave, late: _Wave) -> pd.DataFrame:
    """Each pair's options, matched by code: the later wave's in order, then any only earlier."""
    sides = []
    for side, wave in (("before", early), ("after", late)):
        options = wave.options.drop_duplicates(["question", "option"])
        options = options[["question", "option", "label", "position"]].rename(
            columns={"question": f"question_{side}", "label": f"label_{side}", "position": side}
        )
        sides.append(pairs[["question_before", "question_after"]].merge(options))
    both = sides[0].merge(sides[1], how="outer", on=["question_before", "question_after", "option"])
    first_after = both["after"].notna()
    both["option_order"] = np.where(first_after, both["after"], 1_000_000 + both["before"])
    return both.drop(columns=["before", "after"])


def _hidden(rows: pd.DataFrame, column: str) -> pd.Series:
    """Per row, why one side's figures are hidden (None when shown). `column`: a format for
    that side's column names, such as "{}_before"."""
    withheld = rows[column.format("withheld")].astype("boolean").fillna(False).astype(bool)
    banded = rows[column.format("banded")].astype("boolean").fillna(False).astype(bool)
    reason = rows[column.format("reason")].astype(object).where(withheld, None)
    return reason.mask(~withheld & banded, BANDED)


def _strongest(*reasons: pd.Series) -> pd.Series:
    """The strongest reason among the sides' (below threshold, then complementary, then banded)."""
    strongest = pd.Series(None, index=reasons[0].index, dtype=object)
    for reason in reversed(_HIDING):
        strongest = strongest.mask(np.logical_or.reduce([r == reason for r in reasons]), reason)
    return strongest.astype("str")


def _first_reason(
    cases: Sequence[tuple[npt.NDArray[np.bool_], str | npt.NDArray[np.object_]]], index: pd.Index
) -> pd.Series:
    """The first case that holds, per row; NA when none does (then the row is tested)."""
    reasons = np.full(len(index), None, dtype=object)
    for condition, reason in reversed(cases):
        reasons = np.where(np.asarray(condition, dtype=bool), reason, reasons)
    return pd.Series(reasons, index=index, dtype="str")


def _floats(column: pd.Series) -> FloatArray:
    return np.asarray(column.astype("Float64").to_numpy(na_value=np.nan), dtype=np.float64)


def _nullable(values: FloatArray, *, index: pd.Index, integer: bool = False) -> pd.Series:
    """NaN as NA, so a missing figure is never a number."""
    series = pd.Series(values, index=index, dtype="Float64").mask(np.isnan(values))
    return series.astype("Int64") if integer else series
