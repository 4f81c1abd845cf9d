"""Per-question results: bases without "not applicable", exact shares, every breakdown."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import disclosure, results
from analysis.disclosure import ALL, MARKER

OPTIONS = pd.DataFrame(
    {
        "question": "4a",
        "option": ["yes", "no", "na"],
        "label": ["Yes", "No", "Not applicable to my role"],
        "positive": [True, False, False],
        "excluded_from_base": [False, False, True],
        "position": [1, 2, 3],
    }
)


def answers(*rows: tuple[str, str, str, int]) -> pd.DataFrame:
    return pd.DataFrame(
        [(team, role, "4a", option, count) for team, role, option, count in rows],
        columns=["team", "role", "question", "option", "count"],
    )


ANSWERS = answers(
    ("north", "sw", "yes", 10),
    ("north", "sw", "no", 5),
    ("north", "sw", "na", 3),
    ("north", "tm", "yes", 6),
    ("south", "sw", "yes", 7),
    ("south", "sw", "no", 1),
)


def table(**linked: list[str]) -> pd.DataFrame:
    return (
        results.tabulate(
            ANSWERS, OPTIONS, teams=["north", "south"], roles=["sw", "tm"], linked_teams=linked
        )
        .set_index(["team", "role", "option"])
        .sort_index()
    )


def test_the_base_leaves_out_not_applicable() -> None:
    north_sw = table().loc[("north", "sw")]
    assert set(north_sw.index) == {"yes", "no"}
    assert north_sw.loc["yes", "base"] == 15
    assert north_sw.loc["yes", "share"] == 10 / 15
    assert north_sw.loc["yes", "positive_share"] == 10 / 15


def test_margins_and_the_overall_add_up_the_cells() -> None:
    rows = table()
    assert rows.loc[(ALL, ALL, "yes"), "count"] == 23
    assert rows.loc[(ALL, ALL, "yes"), "base"] == 29
    assert rows.loc[("north", ALL, "no"), "count"] == 5
    assert rows.loc[(ALL, "tm", "yes"), "base"] == 6
    assert rows.loc[(ALL, "sw", "no"), "share"] == 6 / 23


def test_a_group_nobody_answered_for_is_a_row_with_base_0() -> None:
    south_tm = table().loc[("south", "tm")]
    assert list(south_tm["base"]) == [0, 0]
    assert south_tm["share"].isna().all()  # not 0%: there is no share of nobody


def test_linked_teams_are_their_members_added_up() -> None:
    rows = table(whole=["north", "south"])
    assert rows.loc[("whole", ALL, "yes"), "count"] == 23
    assert rows.loc[("whole", ALL, "yes"), "base"] == 29


@pytest.mark.parametrize(
    ("by", "groups"),
    [
        ((), {(ALL, ALL)}),
        (("team",), {(ALL, ALL), ("north", ALL), ("south", ALL)}),
        (("role",), {(ALL, ALL), (ALL, "sw"), (ALL, "tm")}),
        (
            ("team", "role"),
            {(ALL, ALL), ("north", "sw"), ("north", "tm"), ("south", "sw"), ("south", "tm")},
        ),
    ],
)
def test_each_breakdown_is_shown_with_the_overall(
    by: tuple[str, ...], groups: set[tuple[str, str]]
) -> None:
    rows = results.breakdown(table().reset_index(), by)
    assert set(zip(rows["team"], rows["role"], strict=True)) == groups


def test_display_rounds_half_up_and_never_shows_a_withheld_figure() -> None:
    suppressed = disclosure.suppress(table().reset_index(), k=5)
    shown = results.with_display(suppressed).set_index(["team", "role", "option"]).sort_index()
    # North: 16 yes and 5 no of 21; the cells under it are what suppression hides.
    assert tuple(shown.loc[("north", ALL, "yes"), ["share_pct", "positive_pct"]]) == ("76", "76")
    assert shown.loc[("north", ALL, "yes"), "one_person_pct"] == "5"
    withheld = shown.loc[shown["withheld"]]
    assert len(withheld) > 0
    assert (withheld[["share_pct", "positive_pct", "one_person_pct"]] == MARKER).all().all()
    assert withheld[["count", "base", "share"]].isna().all().all()


def test_display_of_a_banded_group_shows_bands() -> None:
    eight = answers(*[(team, "sw", "yes", 8) for team in ("a", "b", "c")])
    rows = results.tabulate(eight, OPTIONS, teams=["a", "b", "c"], roles=["sw"])
    shown = results.with_display(disclosure.suppress(rows, k=5, band_under_2k=True))
    team_a = shown.set_index(["team", "role", "option"]).sort_index().loc[("a", ALL)]
    assert team_a["share_pct"].to_dict() == {"yes": "all but fewer than 5", "no": "fewer than 5"}
    assert list(team_a["positive_pct"]) == ["all but fewer than 5"] * 2
    assert list(team_a["one_person_pct"]) == ["13", "13"]  # the base is shown
