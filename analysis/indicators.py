"""Indicators: a question's positive share that scrutiny follows against a target, wave by wave.

Coventry's scrutiny set targets ("all staff to have a supervision agreement": Q4a Yes, 100%) and
needs to see, each year, how far off each one is. The value is the overall positive share from
the wave's SUPPRESSED table, so an indicator never shows a figure suppression withheld, and
whether the target is met is decided on exact counts, not on a rounded or floating percentage.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction

import pandas as pd

from analysis.compare import BANDED
from analysis.disclosure import ALL

SHOWN = "shown"
NOT_ASKED = "not_asked"
WITHHELD = "withheld"
"""`status` values, besides `BANDED` (the overall shows a band, not a share)."""


def indicator_values(
    indicators: pd.DataFrame, tables_by_wave: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Each indicator's value in each wave against its target.

    `indicators`: `indicator` (its key), `title`, `question`, `target_pct` (0 to 100); any
    other column (such as `source`) is carried through. `tables_by_wave`: wave key to that
    wave's suppressed table (`suppress(tabulate(...))`), in the order to show them. A question
    with no rows in a wave's table was not asked that year, so each table must hold every
    indicator's question that its wave asked.

    Returns one row per indicator and wave, indicators in order then waves: the indicator's
    columns, `wave`, `status` (`SHOWN`, `NOT_ASKED`, `WITHHELD`, `BANDED`), `reason` (why
    withheld), `base`, `value_pct` (the overall positive share, in percent), `gap_pp` (target
    less value, in percentage points: how far there is to go, negative when beyond it), `met`
    (value at or above target; NA unless shown) and `band` (the positive share's band, if any).
    """
    assert {"indicator", "title", "question", "target_pct"} <= set(indicators.columns)
    assert indicators["target_pct"].between(0, 100).all(), "a target is a percentage"
    overall = {
        wave: table.loc[(table["team"] == ALL) & (table["role"] == ALL)]
        for wave, table in tables_by_wave.items()
    }
    rows = []
    for indicator in indicators.to_dict("records"):
        target = Fraction(str(indicator["target_pct"]))  # 33.3 is 333/10, not the float nearest
        for wave, table in overall.items():
            answers = table.loc[table["question"] == indicator["question"]]
            row = {**indicator, "wave": wave, "status": NOT_ASKED, "reason": None}
            row |= {"base": None, "value_pct": None, "gap_pp": None, "met": None, "band": None}
            if answers.empty:
                rows.append(row)
                continue
            assert answers["positive"].any(), f"{indicator['question']} has a positive option"
            first = answers.iloc[0]
            if first["withheld"]:
                row |= {"status": WITHHELD, "reason": first["reason"]}
            elif first["banded"]:
                row |= {"status": BANDED, "reason": BANDED, "base": first["base"]}
                row["band"] = first["positive_band"]
            else:
                base, positive = int(first["base"]), int(first["positive_count"])
                value = Fraction(100 * positive, base)
                row |= {"status": SHOWN, "base": base, "value_pct": float(value)}
                row |= {"gap_pp": float(target - value), "met": value >= target}
            rows.append(row)
    columns = [*indicators.columns, "wave", "status", "reason", "base", "value_pct", "gap_pp"]
    return pd.DataFrame(rows, columns=[*columns, "met", "band"]).astype(
        {
            "status": "str",
            "reason": "str",
            "base": "Int64",
            "value_pct": "Float64",
            "gap_pp": "Float64",
            "met": "boolean",
        }
    )
