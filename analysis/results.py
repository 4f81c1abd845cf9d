"""Per-question results: each group's base, each option's count and share, the positive share.

The base of a question is the people who answered it with an option that counts: "not applicable"
and other options excluded from the base are left out, as are those who did not answer. Every
breakdown a user can ask for (overall, by team, by role grouping, by team × role grouping) is a
slice of one table that holds them all, so that suppression sees, once, every figure any of them
can show.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import pandas as pd

from analysis.disclosure import ALL, MARKER
from analysis.rounding import half_up_percent

GROUP = ["question", "team", "role"]


def tabulate(
    answers: pd.DataFrame,
    options: pd.DataFrame,
    *,
    teams: Sequence[str],
    roles: Sequence[str],
    linked_teams: Mapping[str, Collection[str]] | None = None,
    team_by_role: bool = True,
) -> pd.DataFrame:
    """Every group's exact results for every question, before suppression.

    `answers`: `team`, `role`, `question`, `option`, `count` (the database's answer counts).
    `options`: `question`, `option`, `label`, `positive`, `excluded_from_base`, `position`, for
    every option of every question to report. `teams` and `roles`: the wave's whole population,
    so that a group nobody answered for is a row too (withheld later, never missing, since a
    missing row would say 0). `linked_teams`: groups of teams also reported as one.
    `team_by_role`: whether the team × role grouping cells are rows too, or only the margins.

    Returns one row per (`question`, `team`, `role`, `option`) of the options in the base, with
    `label`, `position`, `positive`, `count`, `base`, `share` (count / base), `positive_count`,
    `positive_share`. `team` or `role` is `ALL` in the margins; both are in the overall.
    """
    known = answers.merge(options[["question", "option"]], how="left", indicator=True)
    assert (known["_merge"] == "both").all(), "every answered option is an option of its question"
    assert set(answers["team"]) <= set(teams) and set(answers["role"]) <= set(roles)
    counted = options.loc[~options["excluded_from_base"].astype(bool)]
    people = pd.MultiIndex.from_product([teams, roles], names=["team", "role"]).to_frame(
        index=False
    )
    cells = counted[["question", "option"]].merge(people, how="cross")
    cells = cells.merge(answers, on=["question", "option", "team", "role"], how="left")
    cells["count"] = cells["count"].fillna(0).astype("int64")
    linked = [
        _summed(cells.loc[cells["team"].isin(members)], [], team=name, role=ALL)
        for name, members in (linked_teams or {}).items()
    ]
    table = pd.concat(
        [
            _summed(cells, [], team=ALL, role=ALL),
            _summed(cells, ["team"], role=ALL),
            *linked,
            _summed(cells, ["role"], team=ALL),
            *([cells] if team_by_role else []),
        ],
        ignore_index=True,
    )
    table["group_order"] = table.groupby(["team", "role"], sort=False).ngroup()
    questions = counted["question"].drop_duplicates()
    table["question_order"] = table["question"].map(pd.Series(range(len(questions)), questions))
    table = counted[["question", "option", "label", "position", "positive"]].merge(
        table, on=["question", "option"]
    )
    table = table.sort_values(["question_order", "group_order", "position"], kind="stable")
    table["positive"] = table["positive"].astype(bool)
    group = table.groupby(GROUP, sort=False)["count"]
    table["base"] = group.transform("sum")
    table["positive_count"] = (
        (table["count"] * table["positive"])
        .groupby([table[c] for c in GROUP], sort=False)
        .transform("sum")
    )
    base = table["base"].astype("Float64").mask(table["base"] == 0)
    table["share"] = table["count"] / base
    table["positive_share"] = table["positive_count"] / base
    order = ["question", "team", "role", "option", "label", "position", "positive"]
    figures = ["count", "base", "share", "positive_count", "positive_share"]
    return table[order + figures].reset_index(drop=True)


def breakdown(results: pd.DataFrame, by: Collection[str]) -> pd.DataFrame:
    """One breakdown's rows, with the overall: `by` is empty, or holds `team`, `role` or both."""
    assert set(by) <= {"team", "role"}
    overall = (results["team"] == ALL) & (results["role"] == ALL)
    split = (results["team"] != ALL) == ("team" in by)
    split &= (results["role"] != ALL) == ("role" in by)
    return results.loc[overall | split]


def with_display(results: pd.DataFrame, *, decimals: int = 0) -> pd.DataFrame:
    """Adds the text a page shows: `share_pct`, `positive_pct` and `one_person_pct`.

    Takes suppressed results: a withheld figure shows `MARKER`, a banded share its band.
    """
    groups = list(zip(results["base"], results["withheld"], results["banded"], strict=True))

    def percents(numerators: pd.Series, bands: pd.Series) -> list[str]:
        return [
            MARKER
            if withheld
            else str(band)
            if banded
            else half_up_percent(int(numerator), int(base), decimals)
            for numerator, band, (base, withheld, banded) in zip(
                numerators, bands, groups, strict=True
            )
        ]

    return results.assign(
        share_pct=percents(results["count"], results["band"]),
        positive_pct=percents(results["positive_count"], results["positive_band"]),
        one_person_pct=[
            MARKER if withheld else half_up_percent(1, int(base), decimals)
            for base, withheld, _ in groups
        ],
    )


def _summed(cells: pd.DataFrame, keep: list[str], **fixed: str) -> pd.DataFrame:
    """Counts added up over every team or role grouping not kept, labelled with `fixed`."""
    summed = cells.groupby(["question", "option", *keep], sort=False)["count"].sum()
    return summed.reset_index().assign(**fixed)
