"""Proof by attack: every breakdown of a wave, solved for what it withholds, gives nothing away.

For a generated population and its answers to one question, the attacker sees every breakdown a
user can ask for (overall, by team, by role grouping, by team × role grouping, each with the
overall, and a split team's successors as one) and, by linear programming, bounds each withheld
figure. No withheld base may be narrowed to fewer than `k` values' spread, and no withheld
option count further than the lines it sits in leave open anyway.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import disclosure, results
from analysis.disclosure import ALL
from tests.analysis.attacker import Finding, Population, attack, open_counts

BREAKDOWNS: list[tuple[str, ...]] = [(), ("team",), ("role",), ("team", "role")]
NOT_APPLICABLE = "na"

Suppressor = Callable[..., pd.DataFrame]


def primary_only(table: pd.DataFrame, *, k: int, **_: object) -> pd.DataFrame:
    """The naive rule: withhold a group under `k`, and nothing else."""
    withheld = table["base"] < k
    return table.assign(
        withheld=withheld,
        reason=withheld.map({True: disclosure.BELOW_THRESHOLD, False: None}),
        banded=False,
        count=table["count"].astype("Int64").mask(withheld),
        base=table["base"].astype("Int64").mask(withheld),
    )


def leaks(
    answers: pd.DataFrame,
    population: Population,
    k: int,
    suppressor: Suppressor,
    *,
    banding: bool = False,
) -> list[Finding]:
    """Every withheld figure the attacker narrows more than the rules allow. Banding hides more
    (counts of groups under 2k), and must not undo any of it."""
    truth = results.tabulate(
        answers,
        _options(population),
        teams=population.teams,
        roles=population.roles,
        linked_teams=population.linked,
    )
    suppressed = suppressor(truth, k=k, linked_teams=population.linked, band_under_2k=banding)
    shown = pd.concat([results.breakdown(suppressed, by) for by in BREAKDOWNS])
    linked_rows = suppressed.loc[suppressed["team"].isin(population.linked.keys())]
    shown = pd.concat([shown, linked_rows])
    withheld = set(
        zip(shown.loc[shown["withheld"], "team"], shown.loc[shown["withheld"], "role"], strict=True)
    )
    small = shown.loc[shown["reason"] == disclosure.BELOW_THRESHOLD]
    under_k = set(zip(small["team"], small["role"], strict=True))
    found = []
    for finding in attack(shown, population):
        if finding.option is None:
            need = k
        elif finding.group in under_k:
            need = min(k, open_counts(truth, withheld, population, finding.group)[finding.option])
        else:
            continue  # a complementary group of k or more: its counts only matter as a way in
        if finding.width < need - 1e-6:
            found.append(finding)
    return found


def _options(population: Population) -> pd.DataFrame:
    """The population's options, the first positive, and a "not applicable" outside the base."""
    return pd.DataFrame(
        {
            "question": "q",
            "option": [*population.options, NOT_APPLICABLE],
            "label": [*population.options, "Not applicable"],
            "positive": [True] + [False] * len(population.options),
            "excluded_from_base": [False] * len(population.options) + [True],
            "position": range(len(population.options) + 1),
        }
    )


@st.composite
def waves(draw: st.DrawFn) -> tuple[pd.DataFrame, Population, int, bool]:
    """A few teams × a few role groupings of 0 to 12 people, answering one question."""
    k = draw(st.sampled_from([3, 5]))
    teams = [f"team {i}" for i in range(draw(st.integers(1, 3)))]
    roles = [f"role {i}" for i in range(draw(st.integers(1, 3)))]
    options = [f"option {i}" for i in range(draw(st.integers(2, 4)))]
    answerable = options + ([NOT_APPLICABLE] if draw(st.booleans()) else [])
    linked = {"split team": teams[:2]} if len(teams) == 3 and draw(st.booleans()) else {}
    rows = []
    for team in teams:
        for role in roles:
            chosen = draw(st.lists(st.sampled_from(answerable), max_size=12))
            rows += [(team, role, "q", option, chosen.count(option)) for option in set(chosen)]
    answers = pd.DataFrame(rows, columns=["team", "role", "question", "option", "count"])
    return answers, Population(teams, roles, options, linked), k, draw(st.booleans())


@settings(max_examples=100, deadline=None)
@given(waves())
def test_no_withheld_figure_can_be_narrowed(
    wave: tuple[pd.DataFrame, Population, int, bool],
) -> None:
    answers, population, k, banding = wave
    assert leaks(answers, population, k, disclosure.suppress, banding=banding) == []


# Two teams × two role groupings; one cell of 2 people. Shown beside its team's total and its
# neighbour, that cell is a subtraction away under primary suppression alone.
SMALL_CELL = pd.DataFrame(
    [
        ("team 0", "role 0", "q", "option 0", 4),
        ("team 0", "role 0", "q", "option 1", 2),
        ("team 0", "role 1", "q", "option 0", 2),
        ("team 1", "role 0", "q", "option 0", 3),
        ("team 1", "role 0", "q", "option 1", 4),
        ("team 1", "role 1", "q", "option 1", 8),
    ],
    columns=["team", "role", "question", "option", "count"],
)
TWO_BY_TWO = Population(["team 0", "team 1"], ["role 0", "role 1"], ["option 0", "option 1"])


@pytest.mark.parametrize(
    ("suppressor", "attacker_succeeds"),
    [(primary_only, True), (disclosure.suppress, False)],
    ids=["primary suppression alone", "suppress"],
)
def test_the_attack_defeats_primary_suppression_alone(
    suppressor: Suppressor, attacker_succeeds: bool
) -> None:
    found = leaks(SMALL_CELL, TWO_BY_TWO, 5, suppressor)
    assert bool(found) is attacker_succeeds
    if attacker_succeeds:
        base = next(f for f in found if f.option is None and f.group == ("team 0", "role 1"))
        assert base.low == base.high == 2


def test_a_split_team_cannot_be_recovered_from_its_successors_union() -> None:
    """2015's MASH – CSE (3 people) and Referral & Assessment (9), shown as one beside 2014's
    MASH – Referral & Assessment, must not give MASH – CSE away by subtraction."""
    answers = pd.DataFrame(
        [
            ("mash_cse", "sw", "q", "option 0", 2),
            ("mash_cse", "sw", "q", "option 1", 1),
            ("referral", "sw", "q", "option 0", 5),
            ("referral", "sw", "q", "option 1", 4),
            ("other", "sw", "q", "option 0", 3),
            ("other", "sw", "q", "option 1", 3),
        ],
        columns=["team", "role", "question", "option", "count"],
    )
    population = Population(
        ["mash_cse", "referral", "other"],
        ["sw"],
        ["option 0", "option 1"],
        {"mash": ["mash_cse", "referral"]},
    )
    assert leaks(answers, population, 5, disclosure.suppress) == []
    # Told nothing of the link, suppression pairs MASH – CSE with the smaller "other" team and
    # shows Referral & Assessment: the union less Referral & Assessment is MASH – CSE, and the
    # overall less the union is "other".
    found = leaks(answers, population, 5, _ignoring_links(disclosure.suppress))
    assert {f.group[0] for f in found} == {"mash_cse", "other"}


def _ignoring_links(suppressor: Suppressor) -> Suppressor:
    """A suppressor told nothing of linked groups, whose rows are then shown unsuppressed."""

    def suppress(
        table: pd.DataFrame, *, k: int, linked_teams: dict[str, list[str]], **_: object
    ) -> pd.DataFrame:
        linked = table["team"].isin(linked_teams.keys())
        alone = suppressor(table.loc[~linked], k=k)
        return pd.concat([alone, table.loc[linked].assign(withheld=False, banded=False)])

    return suppress


def test_publishing_each_withheld_cells_reason_would_give_cells_away() -> None:
    """A team of nobody is withheld as below the threshold, with the next smallest (5) as its
    complement. Told only "withheld", an attacker knows the two add up to 5 and no more. Told
    which is which, the complement must be 5 or more, so it is 5 and the other is 0. So the
    reasons are for the survey owner, not for every reader."""
    answers = pd.DataFrame(
        [("team 1", "sw", "q", "option 0", 5), ("team 2", "sw", "q", "option 0", 30)],
        columns=["team", "role", "question", "option", "count"],
    )
    population = Population(["team 0", "team 1", "team 2"], ["sw"], ["option 0"])
    assert leaks(answers, population, 5, disclosure.suppress) == []
    suppressed = disclosure.suppress(
        results.tabulate(answers, _options(population), teams=population.teams, roles=["sw"]),
        k=5,
    )
    told_reasons = attack(suppressed, population, reasons_under_k=5)
    pinned = {f.group for f in told_reasons if f.option is None and f.low == f.high}
    assert ("team 0", ALL) in pinned
