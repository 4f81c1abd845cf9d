"""Response profile: how many answered in each group, the response rate, and what one person is
worth ("1 person = 14.3%"), as the Coventry reports printed them, totals included.

A group's number of respondents is itself a figure about a small group, so it goes through the
same suppression as every result: under `k` it is withheld, and so is whatever would let a reader
work it out from the total.
"""

from __future__ import annotations

import pandas as pd

from analysis.disclosure import ALL, DEFAULT_THRESHOLD, MARKER, suppress
from analysis.rounding import half_up_percent


def response_profile(
    groups: pd.DataFrame,
    *,
    one_person_decimals: int = 0,
    k: int = DEFAULT_THRESHOLD,
    total_under_k_shown: bool = False,
) -> pd.DataFrame:
    """Per group, then in total: respondents, response rate and what one person is worth.

    `groups`: `group` (a team, or a role grouping), `respondents`, and optionally `headcount`.

    Returns the groups in their order and then the total (`group` = `ALL`), with `respondents`
    (nullable), `headcount` when given, `response_rate` (respondents / headcount, exact) and
    `rate_pct` (whole percent), `one_person` (1 / respondents, exact) and `one_person_pct`
    (`one_person_decimals` places: 0 in Coventry's 2014 report, 1 in 2015), `withheld` and
    `reason`. Percentages are text rounded half up, `MARKER` where withheld.

    `total_under_k_shown`: show the total even under `k`, as fieldwork progress does. Every
    group is then withheld too (none is larger than the total), so the total says only how many
    have answered in all, which the survey owner's staff list says anyway.
    """
    assert not groups["group"].duplicated().any() and ALL not in set(groups["group"])
    total = groups.drop(columns="group").sum().to_frame().T.assign(group=ALL)
    table = pd.concat([groups, total], ignore_index=True)
    table["respondents"] = table["respondents"].astype("int64")
    shown = suppress(table.assign(team=table["group"], role=ALL, count=table["respondents"]), k=k)
    if total_under_k_shown and table["respondents"].iloc[-1] < k:
        assert shown["withheld"].all(), "under k in all, every group is under k"
        shown.loc[shown.index[-1], ["count", "withheld", "reason"]] = [
            table["respondents"].iloc[-1],
            False,
            pd.NA,
        ]
    return released_profile(
        table.assign(
            respondents=shown["count"], withheld=shown["withheld"], reason=shown["reason"]
        ),
        one_person_decimals=one_person_decimals,
    )


def released_profile(table: pd.DataFrame, *, one_person_decimals: int = 0) -> pd.DataFrame:
    """`response_profile` of respondents already suppressed (a release's): `table` holds
    `group` (the total as `ALL`), `respondents` (NA where withheld), `withheld`, `reason`, and
    optionally `headcount`."""
    with_headcount = "headcount" in table
    assert not with_headcount or (table["headcount"] > 0).all(), "a team has staff"
    table = table.reset_index(drop=True)
    respondents = table["respondents"].astype("Int64")
    profile = pd.DataFrame(
        {
            "group": table["group"],
            "respondents": respondents,
            "one_person": 1 / respondents.astype("Float64").mask(respondents == 0),
            "one_person_pct": _percents(
                pd.Series(1, index=table.index), respondents, one_person_decimals
            ),
            "withheld": table["withheld"].astype(bool),
            "reason": table["reason"],
        }
    )
    if with_headcount:
        headcount = table["headcount"].astype("Int64")
        profile.insert(2, "headcount", headcount)
        profile.insert(3, "response_rate", respondents / headcount.astype("Float64"))
        profile.insert(4, "rate_pct", _percents(respondents, headcount, 0))
    return profile


def _percents(numerators: pd.Series, denominators: pd.Series, decimals: int) -> list[str]:
    """`MARKER` where either is withheld, and for "1 person =" of nobody (a fieldwork total of
    no responses yet)."""
    return [
        MARKER if pd.isna(n) or pd.isna(d) or d == 0 else half_up_percent(int(n), int(d), decimals)
        for n, d in zip(numerators, denominators, strict=True)
    ]
