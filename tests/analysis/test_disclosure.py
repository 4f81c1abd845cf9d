"""Suppression rules, as tables: sizes in, what a reader sees out (a number, or the marker)."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis.disclosure import (
    ALL,
    BELOW_THRESHOLD,
    COMPLEMENTARY,
    MARKER,
    METHOD_GREEDY,
    WITHHELD,
    RemainderBelowThreshold,
    audit,
    for_readers,
    refuse_small_remainder,
    suppress,
)
from tests.analysis.attacker import Population, attack

Shown = int | str


def teams_beside_overall(*sizes: int, k: int = 5) -> tuple[Shown, ...]:
    """Teams of these sizes, shown beside their overall: what each team's row shows."""
    teams = [f"team {i}" for i in range(len(sizes))]
    table = pd.DataFrame({"team": [ALL, *teams], "role": ALL, "count": [sum(sizes), *sizes]})
    shown = suppress(table, k=k).set_index("team")
    return tuple(_shown(shown.loc[team]) for team in teams)


def two_way(cells: list[list[int]], k: int = 5) -> list[list[Shown]]:
    """A team × role grouping table of these sizes, with its margins (last row and column),
    checked by the attacker: no withheld size can be narrowed to fewer than `k` values."""
    suppressed = suppress(_two_way_table(cells), k=k)
    teams = [f"t{t}" for t in range(len(cells))]
    roles = [f"r{r}" for r in range(len(cells[0]))]
    findings = attack(
        suppressed.assign(option="n", banded=False, base=suppressed["count"]),
        Population(teams, roles, ["n"]),
    )
    assert all(f.width >= k for f in findings if f.option is None), findings
    shown = suppressed.set_index(["team", "role"])
    return [[_shown(shown.loc[(t, r)]) for r in [*roles, ALL]] for t in [*teams, ALL]]


def _two_way_table(cells: list[list[int]]) -> pd.DataFrame:
    rows = [(f"t{t}", f"r{r}", n) for t, row in enumerate(cells) for r, n in enumerate(row)]
    rows += [(f"t{t}", ALL, sum(row)) for t, row in enumerate(cells)]
    rows += [(ALL, f"r{r}", sum(column)) for r, column in enumerate(zip(*cells, strict=True))]
    rows += [(ALL, ALL, sum(map(sum, cells)))]
    return pd.DataFrame(rows, columns=["team", "role", "count"])


def _shown(row: pd.Series) -> Shown:
    return MARKER if row["withheld"] else int(row["count"])


# Primary suppression at the threshold: k - 1, k, k + 1, each beside two larger teams.
@pytest.mark.parametrize(
    ("k", "sizes", "shown"),
    [
        (5, (4, 20, 30), (MARKER, MARKER, 30)),
        (5, (5, 20, 30), (5, 20, 30)),
        (5, (6, 20, 30), (6, 20, 30)),
        (10, (9, 20, 30), (MARKER, MARKER, 30)),
        (10, (10, 20, 30), (10, 20, 30)),
        (10, (11, 20, 30), (11, 20, 30)),
    ],
)
def test_a_group_under_k_is_withheld(
    k: int, sizes: tuple[int, ...], shown: tuple[Shown, ...]
) -> None:
    assert teams_beside_overall(*sizes, k=k) == shown


# Complementary suppression beside a shown overall, k = 5.
@pytest.mark.parametrize(
    ("sizes", "shown"),
    [
        # One withheld team: the next smallest goes with it, the others stay.
        ((3, 8, 9, 30), (MARKER, MARKER, 9, 30)),
        # Withheld teams must number k together: 1 + 2 is 3, so the next smallest goes too.
        ((1, 2, 9, 30), (MARKER, MARKER, MARKER, 30)),
        # Two under k that number k together need nothing more.
        ((2, 3, 9, 30), (MARKER, MARKER, 9, 30)),
        # Nobody is still a group under k: withheld, never 0, and never alone.
        ((0, 9, 30), (MARKER, MARKER, 30)),
        # A tie for next smallest: the first in the wave's order.
        ((3, 8, 8, 30), (MARKER, MARKER, 8, 30)),
        # Every team withheld: the overall is shown alone.
        ((2, 3), (MARKER, MARKER)),
        # Nobody under k: everything shown.
        ((5, 5), (5, 5)),
    ],
)
def test_a_withheld_group_cannot_be_worked_out_from_the_overall(
    sizes: tuple[int, ...], shown: tuple[Shown, ...]
) -> None:
    assert teams_beside_overall(*sizes) == shown


@pytest.mark.parametrize("sizes", [(1, 2), (0, 0), ()])
def test_an_overall_under_k_is_withheld_with_everything_in_it(sizes: tuple[int, ...]) -> None:
    table = pd.DataFrame({"team": [ALL], "role": ALL, "count": [sum(sizes)]})
    assert teams_beside_overall(*sizes) == (MARKER,) * len(sizes)
    assert suppress(table)["reason"].tolist() == [BELOW_THRESHOLD]


@pytest.mark.parametrize(
    ("k", "cells", "shown"),
    [
        # One small cell: its row and column partners go with it, and then the fourth cell, so
        # that no row or column has a withheld cell alone. The margins stay.
        (
            5,
            [[2, 6], [6, 20]],
            [[MARKER, MARKER, 8], [MARKER, MARKER, 26], [8, 26, 34]],
        ),
        # Rows and columns each pass rule 2 with six withheld cells in a cycle, in which the
        # cell of 1 could only be 0 or 1 (see the next test). The audit's cut asks for one more
        # withheld cell beside it, the 6, and the cycle opens.
        (
            5,
            [[4, 1, 6], [6, 4, 5], [5, 6, 0]],
            [
                [MARKER, MARKER, MARKER, 11],
                [6, MARKER, MARKER, 15],
                [MARKER, 6, MARKER, 11],
                [15, 11, 11, 37],
            ],
        ),
        # One cell is the whole wave: showing it would show that every other cell is empty.
        # Nothing around it is shown but the overall.
        (
            3,
            [[0, 0], [0, 3]],
            [[MARKER, MARKER, MARKER], [MARKER, MARKER, MARKER], [MARKER, MARKER, 3]],
        ),
        # Rule 2 alone would show the 6 in t1's last cell beside team t0's total (6): then the 4
        # could only be 3 to 6. The least-loss pattern that protects it withholds five cells and
        # two role margins, where rule 2 with the audit's next smallest withheld six cells and
        # four margins.
        (
            5,
            [[4, 2, 0], [5, 1, 6]],
            [[MARKER, MARKER, MARKER, 6], [5, MARKER, MARKER, 12], [MARKER, MARKER, 6, 18]],
        ),
    ],
)
def test_team_by_role_cells_cannot_be_worked_out_from_either_margin(
    k: int, cells: list[list[int]], shown: list[list[Shown]]
) -> None:
    assert two_way(cells, k=k) == shown


def test_rule_two_alone_leaves_a_cycle_that_pins_a_cell() -> None:
    """Why the audit exists: every row and column here has two withheld cells numbering 5 or
    more, yet an attacker solving the table finds the cell of 1 is 0 or 1, and the 4 beside it
    4 or 5."""
    cells = [[4, 1, 6], [6, 4, 5], [5, 6, 0]]
    withheld = {("t0", "r0"), ("t0", "r1"), ("t1", "r1"), ("t1", "r2"), ("t2", "r2"), ("t2", "r0")}
    table = _two_way_table(cells).assign(option="n", base=lambda t: t["count"], banded=False)
    table["withheld"] = [
        (t, r) in withheld for t, r in zip(table["team"], table["role"], strict=True)
    ]
    population = Population(["t0", "t1", "t2"], ["r0", "r1", "r2"], ["n"])
    ranges = {(f.group, f.option): (f.low, f.high) for f in attack(table, population)}
    assert ranges[("t0", "r1"), None] == (0, 1)
    assert ranges[("t0", "r0"), None] == (4, 5)


def test_the_mix_of_answers_is_protected_too() -> None:
    """Bases alone would pass here: the 2 + 6 cells of team t0 can trade people with team t1.
    But role r1 answered only "no" and role r0 only "yes", so any trade must swap a "yes" for
    a "no", which the shown team figures forbid: every cell would be pinned. The audit sees
    it, and the cheapest pattern that passes it withholds the team figures and shows the
    cells of role r1 instead: the 2 can then be anything from 0 to 8."""
    rows = []
    for t, (yes, no) in enumerate([(2, 6), (6, 20)]):
        rows += [(f"t{t}", "r0", "yes", yes), (f"t{t}", "r0", "no", 0)]
        rows += [(f"t{t}", "r1", "yes", 0), (f"t{t}", "r1", "no", no)]
    cells = pd.DataFrame(rows, columns=["team", "role", "option", "count"])
    table = pd.concat(
        [
            cells,
            cells.groupby(["team", "option"], as_index=False)["count"].sum().assign(role=ALL),
            cells.groupby(["role", "option"], as_index=False)["count"].sum().assign(team=ALL),
            cells.groupby("option", as_index=False)["count"].sum().assign(team=ALL, role=ALL),
        ]
    )
    shown = suppress(table).drop_duplicates(["team", "role"]).set_index(["team", "role"])
    assert shown["withheld"].to_dict() == {
        ("t0", "r0"): True,
        ("t0", "r1"): False,
        ("t1", "r0"): True,
        ("t1", "r1"): False,
        ("t0", ALL): True,
        ("t1", ALL): True,
        (ALL, "r0"): False,
        (ALL, "r1"): False,
        (ALL, ALL): False,
    }


SPLIT = pd.DataFrame(
    {
        "team": [ALL, "mash_cse", "referral", "other", "mash"],
        "role": ALL,
        "count": [18, 3, 9, 6, 12],
    }
)


def test_a_split_team_is_withheld_with_its_sibling_when_their_union_is_shown() -> None:
    """MASH – CSE (3) and Referral & Assessment (9) succeed one 2014 team, and are shown as one
    (12) beside it. Withheld with "other", MASH – CSE would be the union less Referral."""
    alone = suppress(SPLIT.loc[SPLIT["team"] != "mash"]).set_index("team")
    assert alone["withheld"].to_dict() == {
        ALL: False,
        "mash_cse": True,
        "referral": False,
        "other": True,
    }
    linked = suppress(SPLIT, linked_teams={"mash": ["mash_cse", "referral"]}).set_index("team")
    assert linked["withheld"].to_dict() == {
        ALL: False,
        "mash_cse": True,
        "referral": True,
        "other": False,
        "mash": False,
    }
    assert linked.loc["referral", "reason"] == COMPLEMENTARY


def test_every_question_is_suppressed_on_its_own() -> None:
    table = pd.concat(
        [
            SPLIT.assign(question="q1"),
            SPLIT.assign(question="q2", count=[30, 10, 10, 10, 20]),
        ]
    )
    shown = suppress(table, linked_teams={"mash": ["mash_cse", "referral"]})
    assert shown.groupby("question")["withheld"].sum().to_dict() == {"q1": 2, "q2": 0}


@pytest.mark.parametrize(
    ("view", "wave", "refused"),
    [
        (16, 20, True),  # the rest of the wave is 4: k - 1
        (15, 20, False),  # 5: k
        (14, 20, False),  # 6: k + 1
        (19, 20, True),  # 1
        (20, 20, False),  # the view is the whole wave: there is no rest to work out
    ],
)
def test_a_view_leaving_fewer_than_k_outside_it_is_refused(
    view: int, wave: int, refused: bool
) -> None:
    if refused:
        with pytest.raises(RemainderBelowThreshold, match=f"{wave - view} people"):
            refuse_small_remainder(view_respondents=view, wave_respondents=wave)
    else:
        refuse_small_remainder(view_respondents=view, wave_respondents=wave)


def banded(yes: int, no: int, *, k: int = 5) -> pd.DataFrame:
    """A team answering yes or no, beside two teams of 40 and the overall, with banding on."""
    teams = {"team": (yes, no), "big 1": (20, 20), "big 2": (25, 15)}
    rows = [
        (team, option, n)
        for team, counts in teams.items()
        for option, n in zip(("yes", "no"), counts, strict=True)
    ]
    rows += [(ALL, "yes", yes + 45), (ALL, "no", no + 35)]
    table = pd.DataFrame(rows, columns=["team", "option", "count"]).assign(
        role=ALL,
        positive=lambda t: t["option"] == "yes",
        base=lambda t: t.groupby("team")["count"].transform("sum"),
    )
    return suppress(table, k=k, band_under_2k=True).set_index(["team", "option"])


@pytest.mark.parametrize(
    ("yes", "no", "bands"),
    [
        # 100% and 0% of a group under 2k: no exact share says that everyone answered alike.
        (9, 0, ("all but fewer than 5", "fewer than 5")),
        (0, 9, ("fewer than 5", "all but fewer than 5")),
        (5, 0, ("all but fewer than 5", "fewer than 5")),
        # Not unanimous, and banded all the same: banding only unanimous groups would say which.
        (3, 3, ("fewer than 5", "fewer than 5")),
        (4, 3, ("all but fewer than 5", "fewer than 5")),
        # 2k and more: exact.
        (10, 0, (None, None)),
    ],
)
def test_a_group_under_2k_shows_bands_instead_of_shares(
    yes: int, no: int, bands: tuple[str | None, str | None]
) -> None:
    team = banded(yes, no).loc["team"]
    assert tuple(team["band"].where(team["banded"], None)) == bands
    assert team["banded"].all() == (bands[0] is not None)
    assert team["base"].tolist() == [yes + no] * 2  # the base is shown
    if bands[0] is not None:
        assert team["count"].isna().all()
        assert team["positive_band"].iloc[0] == bands[0]


def test_a_banded_group_is_never_alone_beside_an_exact_total() -> None:
    """The 7 would be the overall less the two teams of 40; so the smaller of those is banded
    too, its counts hidden (no band fits a group of 2k or more, so it shows the marker)."""
    shown = banded(4, 3)
    assert shown.loc[("big 1", "yes"), "band"] == MARKER
    assert bool(shown.loc[("big 2", "yes"), "banded"]) is False
    assert shown.loc[("big 1", "yes"), "base"] == 40


def test_without_banding_small_groups_show_exact_shares() -> None:
    table = pd.DataFrame(
        {
            "team": [ALL, ALL, "a", "a", "b", "b"],
            "role": ALL,
            "option": ["y", "n"] * 3,
            "count": [17, 0, 7, 0, 10, 0],
        }
    )
    shown = suppress(table)
    assert not shown["banded"].any()
    assert shown["count"].tolist() == [17, 0, 7, 0, 10, 0]


@pytest.mark.parametrize(
    ("table", "linked", "message"),
    [
        (pd.DataFrame({"team": [ALL], "role": ALL, "count": [-1]}), {}, "never negative"),
        (pd.DataFrame({"team": ["a"], "role": ALL, "count": [5]}), {}, "overall"),
        (pd.DataFrame({"team": [ALL, "a"], "role": ALL, "count": [5, 4]}), {}, "sum of its parts"),
        (pd.DataFrame({"team": [ALL, ALL], "role": ALL, "count": [5, 5]}), {}, "one row per"),
        (
            pd.DataFrame(
                {"team": [ALL, "a", "b", "u", "v"], "role": ALL, "count": [9, 4, 5, 9, 4]}
            ),
            {"u": ["a", "b"], "v": ["a"]},
            "do not overlap",
        ),
    ],
)
def test_malformed_input_is_refused(
    table: pd.DataFrame, linked: dict[str, list[str]], message: str
) -> None:
    with pytest.raises(AssertionError, match=message):
        suppress(table, linked_teams=linked)


def test_readers_see_one_reason_for_every_withheld_figure() -> None:
    """Below the threshold or complementary: telling them apart would tell on which side of k a
    withheld group lies."""
    table = pd.DataFrame(
        {"team": [ALL, "a", "b", "c", "d"], "role": [ALL] * 5, "count": [21, 10, 7, 3, 1]}
    )
    suppressed = suppress(table, k=5)
    assert set(suppressed["reason"].dropna()) == {BELOW_THRESHOLD, COMPLEMENTARY}
    readable = for_readers(suppressed)
    assert set(readable["reason"].dropna()) == {WITHHELD}
    assert list(readable["withheld"]) == list(suppressed["withheld"])
    assert readable["reason"].isna().tolist() == suppressed["reason"].isna().tolist()


def test_readers_see_one_reason_in_derived_tables_too() -> None:
    derived = pd.DataFrame(
        {
            "reason_before": [BELOW_THRESHOLD, COMPLEMENTARY, None],
            "reason": [COMPLEMENTARY, "banded", None],
            "no_test_reason": [BELOW_THRESHOLD, "not_comparable", "base_below_k"],
        }
    )
    readable = for_readers(derived)
    assert readable["reason_before"].tolist()[:2] == [WITHHELD, WITHHELD]
    assert readable["reason"].tolist()[:2] == [WITHHELD, "banded"]
    assert readable["no_test_reason"].tolist() == [WITHHELD, "not_comparable", "base_below_k"]


def test_without_a_programme_rule_two_and_the_audit_still_open_the_cycle() -> None:
    """The fallback when the programme runs out of time: the next smallest, line by line, then
    the audit's neighbours, until the attacker narrows nothing."""
    table = _two_way_table([[4, 1, 6], [6, 4, 5], [5, 6, 0]])
    greedy = suppress(table, k=5, time_limit=0)
    assert greedy.attrs["suppression_method"] == METHOD_GREEDY
    population = Population(["t0", "t1", "t2"], ["r0", "r1", "r2"], ["n"])
    findings = attack(greedy.assign(option="n", banded=False, base=greedy["count"]), population)
    assert all(f.width >= 5 for f in findings if f.option is None)
    assert audit(table, greedy, k=5) == []
