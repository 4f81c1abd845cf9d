"""The response profile reproduces Coventry's published tables cell for cell, totals included."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.disclosure import ALL, BELOW_THRESHOLD, COMPLEMENTARY, MARKER
from analysis.profile import response_profile
from analysis.rounding import half_up_percent

REFERENCE = Path(__file__).parents[1] / "data" / "reference"


def published(name: str) -> pd.DataFrame:
    """A reference table, its published percentages kept as the text printed."""
    return pd.read_csv(REFERENCE / name, dtype={"published_one_person_pct": str})


def profile_of(table: pd.DataFrame, group: str, **settings: int) -> pd.DataFrame:
    groups = table.rename(columns={group: "group", "responses": "respondents"})
    columns = ["group", "respondents"] + (["headcount"] if "headcount" in groups else [])
    return response_profile(groups[columns], **settings).set_index("group")


@pytest.mark.parametrize(
    ("numerator", "denominator", "decimals", "printed"),
    [
        (15, 24, 0, "63"),  # 62.5: half to even would print 62
        (21, 24, 0, "88"),  # 87.5
        (1, 16, 1, "6.3"),  # 6.25
        (1, 8, 0, "13"),  # 12.5
        (1, 10, 1, "10.0"),
        (2, 3, 0, "67"),
        (0, 7, 0, "0"),
    ],
)
def test_percentages_round_half_up(
    numerator: int, denominator: int, decimals: int, printed: str
) -> None:
    assert half_up_percent(numerator, denominator, decimals) == printed


@pytest.mark.parametrize(
    ("reference", "decimals"),
    [("coventry_2014_response_profile.csv", 0), ("coventry_2015_response_profile.csv", 1)],
)
def test_team_profile_reproduces_the_published_tables(reference: str, decimals: int) -> None:
    table = published(reference)
    profile = profile_of(table, "team", one_person_decimals=decimals)
    teams = profile.drop(index=ALL)
    assert list(teams.index) == list(table["team"])
    assert list(teams["rate_pct"]) == [str(rate) for rate in table["published_rate_pct"]]
    assert list(teams["respondents"]) == list(table["responses"])
    if "published_one_person_pct" in table:
        assert list(teams["one_person_pct"]) == list(table["published_one_person_pct"])
    assert not profile["withheld"].any()  # every Coventry team had 7 or more responses


@pytest.mark.parametrize(
    ("reference", "respondents", "headcount", "rate_pct"),
    [
        ("coventry_2014_response_profile.csv", 370, 509, "73"),
        ("coventry_2015_response_profile.csv", 387, 570, "68"),
    ],
)
def test_totals_match_the_published_totals(
    reference: str, respondents: int, headcount: int, rate_pct: str
) -> None:
    total = profile_of(published(reference), "team").loc[ALL]
    assert (total["respondents"], total["headcount"], total["rate_pct"]) == (
        respondents,
        headcount,
        rate_pct,
    )
    assert total["response_rate"] == pytest.approx(respondents / headcount)


def test_role_groupings_one_person_matches_2014() -> None:
    table = published("coventry_2014_role_groupings.csv")
    profile = profile_of(table, "role_grouping", one_person_decimals=0)
    assert list(profile.drop(index=ALL)["one_person_pct"]) == list(
        table["published_one_person_pct"]
    )
    assert profile.loc[ALL, "respondents"] == 370
    assert "headcount" not in profile


def test_exact_values_are_kept_beside_the_rounded_text() -> None:
    profile = profile_of(
        pd.DataFrame({"team": ["a"], "responses": [15], "headcount": [24]}), "team"
    )
    assert profile.loc["a", "response_rate"] == 15 / 24
    assert profile.loc["a", "one_person"] == 1 / 15
    assert (profile.loc["a", "rate_pct"], profile.loc["a", "one_person_pct"]) == ("63", "7")


def test_a_small_group_and_what_would_reveal_it_are_withheld() -> None:
    """4 respondents is under k; the total would give them away, unless the next smallest
    group (9) is withheld too. Rates and "1 person" would reveal them just as well."""
    groups = pd.DataFrame(
        {"team": ["a", "b", "c"], "responses": [4, 9, 30], "headcount": [10, 12, 40]}
    )
    profile = profile_of(groups, "team")
    assert list(profile["reason"].fillna("")) == [BELOW_THRESHOLD, COMPLEMENTARY, "", ""]
    assert list(profile["rate_pct"]) == [MARKER, MARKER, "75", "69"]
    assert list(profile["one_person_pct"]) == [MARKER, MARKER, "3", "2"]
    assert profile[["respondents", "response_rate", "one_person"]].iloc[:2].isna().all().all()
    assert list(profile["headcount"]) == [10, 12, 40, 62]  # staff numbers are public


@pytest.mark.parametrize("shown", [False, True])
def test_a_fieldwork_total_under_k_is_shown_only_with_every_group_withheld(shown: bool) -> None:
    """Three answers so far in all: the teams (3, 0, 0) are all withheld; the total is shown
    only when asked for, and then tells no team's count."""
    groups = pd.DataFrame(
        {"group": ["a", "b", "c"], "respondents": [3, 0, 0], "headcount": [10, 12, 40]}
    )
    profile = response_profile(groups, k=5, total_under_k_shown=shown)
    assert profile["withheld"].iloc[:3].all()
    assert profile["respondents"].iloc[:3].isna().all()
    total = profile.iloc[-1]
    if shown:
        assert (total["respondents"], total["rate_pct"], total["withheld"]) == (3, "5", False)
    else:
        assert pd.isna(total["respondents"]) and total["withheld"]
    nobody = response_profile(groups.assign(respondents=0), k=5, total_under_k_shown=True)
    assert (nobody["respondents"].iloc[-1], nobody["rate_pct"].iloc[-1]) == (0, "0")
    assert nobody["one_person_pct"].iloc[-1] == MARKER and pd.isna(nobody["one_person"].iloc[-1])
    at_k = response_profile(groups.assign(respondents=[5, 0, 0]), k=5, total_under_k_shown=True)
    assert at_k["withheld"].iloc[:3].all() and not at_k["withheld"].iloc[-1]
