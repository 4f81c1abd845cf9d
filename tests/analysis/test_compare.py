"""Comparisons of suppressed tables: year on year with lineage, team against its wave, spread.

Every table here goes through `tabulate` and `suppress` first, as in the app: a comparison only
ever sees what suppression let through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from math import sqrt
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import compare, disclosure, results
from analysis.compare import (
    BANDED,
    BASE_BELOW_K,
    CONTINUES,
    ENDED,
    MERGED,
    NEW,
    NO_COUNTERPART,
    NOT_COMPARABLE,
    OVERALL,
    SPLIT,
    proportion_test,
)
from analysis.disclosure import ALL, BELOW_THRESHOLD, COMPLEMENTARY

YES_NO = ["yes", "no"]


def wave(
    counts: Mapping[str, Sequence[int]],
    *,
    question: str = "agreement",
    options: Sequence[str] = YES_NO,
    positive: Sequence[str] = ("yes",),
    linked: Mapping[str, list[str]] | None = None,
    k: int = 5,
    band: bool = False,
) -> pd.DataFrame:
    """One question's suppressed table: each team's count per option, one role grouping."""
    frame = pd.DataFrame(
        {
            "question": question,
            "option": list(options),
            "label": [o.replace("_", " ").capitalize() for o in options],
            "positive": [o in positive for o in options],
            "excluded_from_base": False,
            "position": range(len(options)),
        }
    )
    answers = pd.DataFrame(
        [
            (team, "sw", question, option, n)
            for team, row in counts.items()
            for option, n in zip(options, row, strict=True)
        ],
        columns=["team", "role", "question", "option", "count"],
    )
    table = results.tabulate(answers, frame, teams=list(counts), roles=["sw"], linked_teams=linked)
    return disclosure.suppress(table, k=k, linked_teams=linked, band_under_2k=band)


def heads(**headcounts: int) -> pd.DataFrame:
    return pd.DataFrame({"team": list(headcounts), "headcount": list(headcounts.values())})


def pair(
    before: str = "agreement",
    after: str = "agreement",
    comparability: str = "comparable",
    note: str | None = None,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "question_before": [before],
            "question_after": [after],
            "comparability": [comparability],
            "note": [note],
        }
    )


def by_group(frame: pd.DataFrame, option: str = "yes") -> pd.DataFrame:
    return frame.loc[frame["option"] == option].set_index("group")


def na_or(value: object) -> object:
    return None if pd.isna(value) else value


# 10 of 20 answered Yes in 2014, 18 of 24 in 2015; North had 25 staff, then 30.
NORTH_BEFORE, NORTH_AFTER = {"north": (10, 10)}, {"north": (18, 6)}


def test_a_change_is_tested_with_the_finite_population_correction() -> None:
    """pooled p = (10 + 18) / (20 + 24) = 7/11
    corrections (N - n) / (N - 1): 2014 (25 - 20) / 24 = 5/24, 2015 (30 - 24) / 29 = 6/29
    variance = 7/11 × 4/11 × (5/24 / 20 + 6/29 / 24) = 28/121 × (1/96 + 1/116) = 371/84216
    z = (18/24 - 10/20) / √(371/84216) = 0.25 / 0.066373 = 3.7666; p = 2 (1 - Φ(z)) = 0.00017
    Without the correction: variance = 28/121 × (1/20 + 1/24) = 7/330, z = 1.7165, p = 0.086,
    not significant: most of each team answered, and the plain test ignores that.
    """
    variance = Fraction(7, 11) * Fraction(4, 11) * (Fraction(5, 24) / 20 + Fraction(6, 29) / 24)
    assert (
        variance == Fraction(28, 121) * (Fraction(1, 96) + Fraction(1, 116)) == Fraction(371, 84216)
    )
    z = 0.25 / sqrt(variance)
    p = 2 * (1 - NormalDist().cdf(z))
    assert (round(z, 4), round(p, 5)) == (3.7666, 0.00017)

    got_z, got_p = proportion_test(10, 20, 18, 24, headcount1=25, headcount2=30)
    assert (float(got_z[()]), float(got_p[()])) == pytest.approx((z, p), rel=1e-9)
    plain_z, plain_p = proportion_test(10, 20, 18, 24)
    assert (round(float(plain_z[()]), 4), round(float(plain_p[()]), 3)) == (1.7165, 0.086)

    rows = compare.year_on_year(
        wave(NORTH_BEFORE),
        wave(NORTH_AFTER),
        pairs=pair(),
        headcounts_before=heads(north=25),
        headcounts_after=heads(north=30),
    )
    north = by_group(rows).loc["north"]
    assert (north["share_before"], north["share_after"], north["change_pp"]) == (0.5, 0.75, 25.0)
    assert (north["positive_share_before"], north["positive_share_after"]) == (0.5, 0.75)
    assert north["positive_change_pp"] == 25.0
    assert (north["z"], north["p_value"]) == pytest.approx((z, p), rel=1e-9)
    assert north["significant"] and north["fpc"] and pd.isna(north["no_test_reason"])
    no_option = by_group(rows, "no").loc["north"]
    assert no_option["change_pp"] == -25.0 and no_option["z"] == north["z"]


# Three teams beside their overall; only South changes between the cases. The tables are
# suppressed at k = 5 (the app's), the comparison uses `compare_k`.
@pytest.mark.parametrize(
    ("south_after", "band", "compare_k", "expected"),
    [
        # South has 3 in 2015: withheld; West, the next smallest, withheld with it.
        (
            (2, 1),
            False,
            5,
            {
                "north": (False, None, None),
                "south": (True, BELOW_THRESHOLD, BELOW_THRESHOLD),
                "west": (True, COMPLEMENTARY, COMPLEMENTARY),
            },
        ),
        # South has 7 and groups under 2k show bands: no share, so no change and no test.
        (
            (4, 3),
            True,
            5,
            {
                "north": (False, None, None),
                "south": (True, BANDED, BANDED),
                "west": (True, BANDED, BANDED),
            },
        ),
        # Shown at k = 5, but compared at k = 10: South's 7 gets a change and no test.
        (
            (4, 3),
            False,
            10,
            {
                "north": (False, None, None),
                "south": (False, None, BASE_BELOW_K),
                "west": (False, None, None),
            },
        ),
    ],
    ids=["below threshold", "banded", "base under k"],
)
def test_a_hidden_figure_on_either_side_hides_the_change(
    south_after: tuple[int, int],
    band: bool,
    compare_k: int,
    expected: dict[str, tuple[bool, str | None, str | None]],
) -> None:
    before = wave({"north": (30, 10), "south": (12, 8), "west": (9, 6)}, band=band)
    after = wave({"north": (32, 8), "south": south_after, "west": (10, 5)}, band=band)
    rows = compare.year_on_year(
        before,
        after,
        pairs=pair(),
        headcounts_before=heads(north=45, south=25, west=20),
        headcounts_after=heads(north=45, south=25, west=20),
        k=compare_k,
    )
    yes = by_group(rows)
    got = {
        team: (
            bool(yes.loc[team, "withheld"]),
            na_or(yes.loc[team, "reason"]),
            na_or(yes.loc[team, "no_test_reason"]),
        )
        for team in expected
    }
    assert got == expected
    for team, (withheld, _, no_test) in expected.items():
        row = yes.loc[team]
        assert pd.isna(row["change_pp"]) is withheld
        assert pd.isna(row["positive_change_pp"]) is withheld
        assert pd.isna(row["z"]) is (no_test is not None)
        assert pd.notna(row["share_before"])  # 2014 is shown whatever 2015 hides
    if band:
        assert yes.loc["south", "band_after"] == "all but fewer than 5"


def test_the_earlier_side_hides_the_change_too() -> None:
    before = wave({"north": (30, 10), "south": (1, 2), "west": (9, 6)})
    after = wave({"north": (32, 8), "south": (10, 10), "west": (10, 5)})
    rows = compare.year_on_year(
        before,
        after,
        pairs=pair(),
        headcounts_before=heads(north=45, south=25, west=20),
        headcounts_after=heads(north=45, south=25, west=20),
    )
    south = by_group(rows).loc["south"]
    assert (south["withheld_before"], south["reason_before"], south["withheld_after"]) == (
        True,
        BELOW_THRESHOLD,
        False,
    )
    assert (south["withheld"], south["reason"], south["no_test_reason"]) == (
        True,
        BELOW_THRESHOLD,
        BELOW_THRESHOLD,
    )
    assert (
        pd.isna(south["share_before"])
        and south["share_after"] == 0.5
        and pd.isna(south["change_pp"])
    )


COVENTRY_BEFORE = pd.DataFrame(
    {
        "team": ["cf_first", "mash_referral_assessment", "youth_offending"],
        "name": [
            "Children & Families First Service",
            "MASH – Referral & Assessment Service",
            "Youth Offending Service",
        ],
        "headcount": [98, 60, 12],
    }
)
COVENTRY_AFTER = pd.DataFrame(
    {
        "team": ["cf_first", "mash_cse", "referral_assessment", "route_21"],
        "name": [
            "Children & Families First Service",
            "MASH – CSE",
            "Referral & Assessment Service",
            "Route 21 Team",
        ],
        "headcount": [98, 17, 50, 45],
    }
)
# As the app stores them: every 2015 team's predecessors, the same key included.
COVENTRY_LINEAGE = pd.DataFrame(
    {
        "team_before": ["cf_first", "mash_referral_assessment", "mash_referral_assessment"],
        "team_after": ["cf_first", "mash_cse", "referral_assessment"],
    }
)
SUCCESSORS = {"mash_cse+referral_assessment": ["mash_cse", "referral_assessment"]}


def test_a_split_team_is_compared_with_its_successors_together_labelled() -> None:
    """MASH – CSE had 3 answers in 2015: withheld, and Referral & Assessment with it; their union
    (39) is shown, suppressed as one with them, and compared with 2014's MASH – R&A."""
    before = wave(
        {"cf_first": (40, 30), "mash_referral_assessment": (20, 20), "youth_offending": (6, 4)}
    )
    after = wave(
        {
            "cf_first": (50, 20),
            "mash_cse": (2, 1),
            "referral_assessment": (30, 6),
            "route_21": (30, 10),
        },
        linked=SUCCESSORS,
    )
    rows = compare.year_on_year(
        before,
        after,
        pairs=pair(),
        headcounts_before=COVENTRY_BEFORE,
        headcounts_after=COVENTRY_AFTER,
        lineage=COVENTRY_LINEAGE,
        linked_after=SUCCESSORS,
    )
    yes = rows.loc[rows["option"] == "yes"]
    table = [
        (g, lineage, na_or(b), na_or(a), na_or(hb), na_or(ha), na_or(nb), na_or(na))
        for g, lineage, b, a, hb, ha, nb, na in yes[
            [
                "group",
                "lineage",
                "team_before",
                "team_after",
                "headcount_before",
                "headcount_after",
                "base_before",
                "base_after",
            ]
        ].itertuples(index=False)
    ]
    assert table == [
        ("All teams", OVERALL, ALL, ALL, 170, 210, 120, 149),
        ("Children & Families First Service", CONTINUES, "cf_first", "cf_first", 98, 98, 70, 70),
        (
            "MASH – CSE + Referral & Assessment Service (successors of MASH – Referral & Assessment Service)",
            SPLIT,
            "mash_referral_assessment",
            "mash_cse+referral_assessment",
            60,
            67,
            40,
            39,
        ),
        ("Route 21 Team", NEW, None, "route_21", None, 45, None, 40),
        ("Youth Offending Service", ENDED, "youth_offending", None, 12, None, 10, None),
    ]
    mash = yes.set_index("lineage").loc[SPLIT]
    assert (mash["positive_share_before"], mash["positive_share_after"]) == (0.5, 32 / 39)
    assert mash["positive_change_pp"] == pytest.approx((32 / 39 - 0.5) * 100)
    z, p = proportion_test(20, 40, 32, 39, headcount1=60, headcount2=67)
    assert (mash["z"], mash["p_value"]) == (float(z[()]), float(p[()]))
    # The successors on their own are withheld, and are not compared one by one.
    assert set(after.loc[after["team"].isin(["mash_cse", "referral_assessment"]), "withheld"]) == {
        True
    }
    assert not set(rows["team_after"].dropna()) & {"mash_cse", "referral_assessment"}
    new, ended = yes.set_index("lineage").loc[NEW], yes.set_index("lineage").loc[ENDED]
    assert (new["no_test_reason"], ended["no_test_reason"]) == (NO_COUNTERPART, NO_COUNTERPART)
    assert pd.isna(new["change_pp"]) and new["share_after"] == 30 / 40


@pytest.mark.parametrize(
    ("b_before", "expected"),
    [
        # Both predecessors shown: their union adds up shown figures, so it shows nothing new.
        ((8, 4), (False, None, 32, 18 / 32)),
        # One withheld: a union no suppression saw would give it away, so it is withheld.
        ((3, 1), (True, BELOW_THRESHOLD, None, None)),
    ],
    ids=["both shown", "one withheld"],
)
def test_a_merged_team_is_compared_with_its_predecessors_added_up(
    b_before: tuple[int, int], expected: tuple[bool, str | None, int | None, float | None]
) -> None:
    before = wave({"a": (10, 10), "b": b_before, "c": (20, 5)})
    after = wave({"ab": (30, 10), "c": (20, 5)})
    names = {"a": "Team A", "b": "Team B", "c": "Team C", "ab": "Team AB"}
    rows = compare.year_on_year(
        before,
        after,
        pairs=pair(),
        headcounts_before=heads(a=25, b=15, c=30).assign(name=lambda f: f["team"].map(names)),
        headcounts_after=heads(ab=45, c=30).assign(name=lambda f: f["team"].map(names)),
        lineage=pd.DataFrame({"team_before": ["a", "b", "c"], "team_after": ["ab", "ab", "c"]}),
    )
    merged = by_group(rows).loc["Team AB (successor of Team A + Team B)"]
    assert (merged["lineage"], merged["team_before"], merged["headcount_before"]) == (
        MERGED,
        "a+b",
        40,
    )
    got = (
        bool(merged["withheld_before"]),
        na_or(merged["reason_before"]),
        na_or(merged["base_before"]),
        na_or(merged["positive_share_before"]),
    )
    assert got == expected
    assert pd.isna(merged["z"]) is expected[0]


def test_a_not_comparable_question_is_shown_side_by_side_without_a_change() -> None:
    """2014 Q5 asked "at least three dates booked?" (Yes / No), 2015 Q5 "how many?"."""
    before = wave({"north": (12, 8)}, question="dates_booked")
    after = wave(
        {"north": (2, 5, 6, 7)},
        question="dates_booked",
        options=["none", "one", "two", "three_or_more"],
        positive=["three_or_more"],
    )
    note = "2014 asked 'at least three dates booked?'; 2015 asks how many"
    rows = compare.year_on_year(
        before,
        after,
        pairs=pair("dates_booked", "dates_booked", NOT_COMPARABLE, note),
        headcounts_before=heads(north=25),
        headcounts_after=heads(north=25),
    )
    north = rows.loc[rows["group"] == "north"]
    got = [
        (o, na_or(lb), na_or(la), na_or(sb), na_or(sa))
        for o, lb, la, sb, sa in north[
            ["option", "label_before", "label_after", "share_before", "share_after"]
        ].itertuples(index=False)
    ]
    assert got == [
        ("none", None, "None", None, 2 / 20),
        ("one", None, "One", None, 5 / 20),
        ("two", None, "Two", None, 6 / 20),
        ("three_or_more", None, "Three or more", None, 7 / 20),
        ("yes", "Yes", None, 12 / 20, None),
        ("no", "No", None, 8 / 20, None),
    ]
    assert set(north["comparability"]) == {NOT_COMPARABLE} and set(north["note"]) == {note}
    assert (north["positive_share_before"].tolist(), north["positive_share_after"].tolist()) == (
        [0.6] * 6,
        [0.35] * 6,
    )
    assert north["change_pp"].isna().all() and north["positive_change_pp"].isna().all()
    assert north["z"].isna().all() and set(north["no_test_reason"]) == {NOT_COMPARABLE}


def test_a_pair_comparable_with_a_note_is_tested_and_carries_its_note() -> None:
    note = "The policy asked about changed"
    rows = compare.year_on_year(
        wave(NORTH_BEFORE),
        wave(NORTH_AFTER),
        pairs=pair(comparability="comparable_with_note", note=note),
        headcounts_before=heads(north=25),
        headcounts_after=heads(north=30),
    )
    assert set(rows["note"]) == {note} and set(rows["comparability"]) == {"comparable_with_note"}
    assert rows["z"].notna().all()


def test_raw_tables_are_refused() -> None:
    raw = results.tabulate(
        pd.DataFrame(
            [("north", "sw", "agreement", "yes", 3)],
            columns=["team", "role", "question", "option", "count"],
        ),
        pd.DataFrame(
            {
                "question": "agreement",
                "option": ["yes"],
                "label": ["Yes"],
                "positive": True,
                "excluded_from_base": False,
                "position": [0],
            }
        ),
        teams=["north"],
        roles=["sw"],
    )
    with pytest.raises(AssertionError, match="suppressed"):
        compare.against_overall(raw, headcounts=heads(north=5))


def test_a_team_is_tested_against_the_rest_of_its_wave() -> None:
    """North 18 of 24 (30 staff), South 10 of 20 (25 staff): the overall is 28 of 44. North
    less the overall is 75% - 63.6% = 11.4 points; the test is North against the rest (South),
    the same arithmetic as the year-on-year test above: z = 3.7666."""
    table = wave({"north": (18, 6), "south": (10, 10), "west": (2, 1)})
    rows = compare.against_overall(table, headcounts=heads(north=30, south=25, west=5)).set_index(
        "team"
    )
    north, south = rows.loc["north"], rows.loc["south"]
    # West (3) is withheld, and South with it: North's rest would be South and West together.
    assert (south["withheld"], south["reason"], rows.loc["west", "reason"]) == (
        True,
        COMPLEMENTARY,
        BELOW_THRESHOLD,
    )
    assert (north["base"], north["overall_base"], north["rest_base"]) == (24, 47, 23)
    assert north["difference_pp"] == pytest.approx((0.75 - 30 / 47) * 100)
    assert north["rest_positive_share"] == 12 / 23
    z, p = proportion_test(12, 23, 18, 24, headcount1=30, headcount2=30)
    assert (north["z"], north["p_value"], north["significant"]) == (
        float(z[()]),
        float(p[()]),
        bool(p[()] < 0.05),
    )

    two = compare.against_overall(
        wave({"north": (18, 6), "south": (10, 10)}), headcounts=heads(north=30, south=25)
    )
    north = two.set_index("team").loc["north"]
    assert north["difference_pp"] == pytest.approx((0.75 - 28 / 44) * 100)
    assert round(north["difference_pp"], 1) == 11.4
    assert round(north["z"], 4) == 3.7666 and north["significant"]
    assert round(two.set_index("team").loc["south", "z"], 4) == -3.7666


def test_consistency_is_the_spread_of_shown_teams_and_how_many_differ() -> None:
    table = wave(
        {"a": (19, 1), "b": (10, 10), "c": (12, 8), "d": (2, 18), "e": (1, 2), "f": (3, 2)}
    )
    hc = heads(a=20, b=24, c=22, d=20, e=4, f=6)
    rows = compare.against_overall(table, headcounts=hc).set_index("team")
    shown = rows["positive_share"].dropna()
    assert shown.to_dict() == {"a": 0.95, "b": 0.5, "c": 0.6, "d": 0.1}
    spread = compare.consistency(table, headcounts=hc).iloc[0]
    assert (spread["teams"], spread["teams_shown"], spread["lowest"], spread["highest"]) == (
        6,
        4,
        0.1,
        0.95,
    )
    assert spread["range_pp"] == pytest.approx(85.0)
    significant = rows["significant"].fillna(False)
    # A and D answered to a person (censuses): any difference from the rest is real. C is 20
    # of 22 staff against 68 of 76: 60% against 51.5% is significant with the correction.
    assert significant.to_dict() == {
        "a": True,
        "b": False,
        "c": True,
        "d": True,
        "e": False,
        "f": False,
    }
    assert rows.loc["a", "p_value"] < 1e-100 and rows.loc["d", "p_value"] < 1e-100
    assert (spread["teams_tested"], spread["teams_significant"]) == (4, 3)
    assert (spread["teams_above"], spread["teams_below"]) == (2, 1)


# Properties of the test itself: counts x of n answering, in a group of N staff.
@st.composite
def groups(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(1, 200))
    return draw(st.integers(0, n)), n, n + draw(st.integers(0, 300))


@settings(max_examples=300, deadline=None)
@given(groups(), groups())
def test_the_correction_never_makes_a_difference_less_significant(
    first: tuple[int, int, int], second: tuple[int, int, int]
) -> None:
    (x1, n1, big1), (x2, n2, big2) = first, second
    _, p_fpc = proportion_test(x1, n1, x2, n2, headcount1=big1, headcount2=big2)
    _, p_plain = proportion_test(x1, n1, x2, n2)
    assert p_fpc[()] <= p_plain[()]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 200), st.integers(1, 200), st.data())
def test_a_census_on_both_sides_has_no_sampling_error(
    n1: int, n2: int, data: st.DataObject
) -> None:
    """With n = N the correction is 0: the variance is 0, the shares are the teams' true
    shares, and any difference between them is real (p = 0), none is none (p = 1)."""
    x1, x2 = data.draw(st.integers(0, n1)), data.draw(st.integers(0, n2))
    z, p = proportion_test(x1, n1, x2, n2, headcount1=n1, headcount2=n2)
    if Fraction(x1, n1) == Fraction(x2, n2):
        assert (z[()], p[()]) == (0.0, 1.0)
    else:
        assert p[()] == 0.0 and np.sign(z[()]) == np.sign(x2 / n2 - x1 / n1)
