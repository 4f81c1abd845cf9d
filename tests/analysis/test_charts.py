"""Charts draw the report tables' figures, and a withheld figure as withheld: no value at all,
the withheld label where the bar would be, never a bar of height zero or 0%."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pytest

from analysis import charts, compare, disclosure, results
from analysis.charts import WITHHELD_LABEL, percent_text
from analysis.compare import NOT_COMPARABLE
from analysis.disclosure import ALL, for_readers
from analysis.indicators import indicator_values
from analysis.profile import response_profile


def wave(
    counts: Mapping[str, Sequence[int]],
    *,
    question: str = "agreement",
    options: Sequence[str] = ("yes", "no"),
) -> pd.DataFrame:
    """One question's suppressed table: each team's count per option, "yes" positive."""
    frame = pd.DataFrame(
        {
            "question": question,
            "option": list(options),
            "label": [o.capitalize() for o in options],
            "positive": [o == "yes" for o in options],
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
    table = results.tabulate(answers, frame, teams=list(counts), roles=["sw"])
    return disclosure.suppress(table, k=5)


def heads(**headcounts: int) -> pd.DataFrame:
    return pd.DataFrame({"team": list(headcounts), "headcount": list(headcounts.values())})


# North is shown in both waves; South (3 people in 2015) and, to protect it, East are withheld.
BEFORE = {"north": (16, 4), "south": (6, 4), "east": (7, 3)}
AFTER = {"north": (18, 2), "south": (2, 1), "east": (5, 1)}


def yearly(
    pairs: pd.DataFrame | None = None, after: Mapping[str, Sequence[int]] = AFTER
) -> pd.DataFrame:
    pairs = (
        pairs
        if pairs is not None
        else pd.DataFrame(
            {
                "question_before": ["agreement"],
                "question_after": ["agreement"],
                "comparability": ["comparable"],
            }
        )
    )
    compared = compare.year_on_year(
        wave(BEFORE),
        wave(after),
        pairs=pairs,
        headcounts_before=heads(north=25, south=12, east=12),
        headcounts_after=heads(north=25, south=12, east=12),
    )
    compared.insert(0, "number", "4a")
    return for_readers(compared)


def trace(figure: Any, name: str) -> dict[str, Any]:
    data = json.loads(figure.to_json())["data"]
    return next(t for t in data if t["name"] == name)


def annotations(figure: Any) -> list[str]:
    return [a["text"] for a in json.loads(figure.to_json())["layout"].get("annotations", [])]


def test_a_shown_share_is_drawn_as_its_percentage() -> None:
    compared = yearly()
    north = compared[compared["team_after"] == "north"]
    figure = charts.positive_share_by_wave(north, waves=("2014", "2015"), title="North")
    assert trace(figure, "2014")["y"] == [pytest.approx(80.0)]
    assert trace(figure, "2015")["y"] == [pytest.approx(90.0)]
    assert trace(figure, "2015")["text"] == ["90%"]
    assert annotations(figure) == []


def test_a_withheld_share_has_no_value_and_carries_the_withheld_label() -> None:
    compared = yearly()
    south = compared[compared["team_after"] == "south"]
    assert south["withheld_after"].all() and not south["withheld_before"].any()
    figure = charts.positive_share_by_wave(south, waves=("2014", "2015"), title="South")
    before, after = trace(figure, "2014"), trace(figure, "2015")
    assert before["y"] == [pytest.approx(60.0)] and before["text"] == ["60%"]
    assert after["y"] == [None]  # no number at all: not 0, not a bar
    assert after["text"] == [WITHHELD_LABEL]
    assert annotations(figure) == [WITHHELD_LABEL]
    (box,) = json.loads(figure.to_json())["layout"]["shapes"]
    # The placeholder stands where 2015's bar would: the right half of the category's bars.
    assert (box["x0"], box["x1"]) == (pytest.approx(0, abs=1e-9), pytest.approx(0.35))
    assert (box["y0"], box["y1"]) == (0, 100)


def test_the_json_of_a_withheld_chart_holds_no_withheld_figure() -> None:
    compared = yearly()
    south = compared[compared["team_after"] == "south"]
    text = charts.positive_share_by_wave(south, waves=("2014", "2015"), title="South").to_json()
    assert "66.6" not in text and "66.7" not in text  # South's 2 of 3 in 2015


def test_not_comparable_questions_are_left_out_of_the_change_chart_and_drawn_side_by_side() -> None:
    pairs = pd.DataFrame(
        {
            "question_before": ["agreement"],
            "question_after": ["agreement"],
            "comparability": [NOT_COMPARABLE],
            "note": ["The options changed."],
        }
    )
    compared = yearly(pairs)
    overall = compared[compared["team_after"] == ALL]
    changes = charts.positive_share_by_wave(overall, waves=("2014", "2015"), title="All")
    assert all(t["y"] == [] for t in json.loads(changes.to_json())["data"])
    side_by_side = charts.not_comparable_side_by_side(overall, waves=("2014", "2015"), title="5")
    assert trace(side_by_side, "2014")["y"] == ["2014: Yes", "2014: No", "2015: Yes", "2015: No"]
    assert trace(side_by_side, "2014")["x"][:2] == [
        pytest.approx(72.5),
        pytest.approx(27.5),
    ]
    assert trace(side_by_side, "2014")["x"][2:] == [None, None]
    assert trace(side_by_side, "2015")["x"][2:] == [
        pytest.approx(25 / 29 * 100),
        pytest.approx(4 / 29 * 100),
    ]


def test_a_team_against_the_whole_wave_draws_its_withheld_share_as_withheld() -> None:
    table = compare.against_overall(wave(AFTER), headcounts=heads(north=25, south=12, east=12))
    table.insert(0, "number", "4a")
    south = for_readers(table[table["team"] == "south"])
    figure = charts.team_against_overall(south, team="South", title="South against all")
    assert trace(figure, "South")["x"] == [None]
    assert trace(figure, "South")["text"] == [WITHHELD_LABEL]
    assert trace(figure, "All teams")["x"] == [pytest.approx(25 / 29 * 100)]
    assert annotations(figure) == [WITHHELD_LABEL]


def test_indicators_show_each_wave_against_the_target_and_say_not_asked() -> None:
    indicators = pd.DataFrame(
        {
            "indicator": ["agreement", "training"],
            "title": ["Staff with an agreement", "Supervisors trained"],
            "question": ["agreement", "training"],
            "target_pct": [100.0, 90.0],
        }
    )
    values = indicator_values(indicators, {"2014": wave(BEFORE), "2015": wave(AFTER)})
    figure = charts.indicators_against_targets(values, title="Indicators")
    assert trace(figure, "2014")["x"][0] == pytest.approx(72.5)
    assert trace(figure, "2014")["x"][1] is None and trace(figure, "2014")["text"][1] == "not asked"
    assert trace(figure, "Target")["x"] == [100.0, 90.0]
    assert "not asked" in annotations(figure) and WITHHELD_LABEL not in annotations(figure)


def test_the_consistency_spread_runs_from_the_lowest_to_the_highest_team() -> None:
    spread = compare.consistency(wave(BEFORE), headcounts=heads(north=25, south=12, east=12))
    spread.insert(0, "number", "4a")
    figure = charts.consistency_spread(spread, title="Spread")
    assert trace(figure, "Lowest to highest team")["y"] == [60.0, 80.0, None]
    assert trace(figure, "All teams")["y"] == [pytest.approx(72.5)]


def test_response_rates_mark_withheld_teams_and_leave_absent_teams_empty() -> None:
    frames = []
    for wave_key, groups in (
        ("2014", {"north": (20, 25), "old": (8, 12), "east": (9, 12)}),
        ("2015", {"north": (21, 25), "east": (9, 12), "new": (3, 12)}),
    ):
        profile = response_profile(
            pd.DataFrame(
                {
                    "group": list(groups),
                    "respondents": [r for r, _ in groups.values()],
                    "headcount": [h for _, h in groups.values()],
                }
            )
        )
        profile.insert(0, "team", [*groups, ALL])
        profile.insert(1, "wave", wave_key)
        frames.append(profile)
    figure = charts.response_rates_by_wave(
        pd.concat(frames, ignore_index=True), title="Rates", total_label="All teams"
    )
    before, after = trace(figure, "2014"), trace(figure, "2015")
    assert before["y"] == ["north", "old", "east", "new", "All teams"]
    assert before["x"] == [80.0, pytest.approx(800 / 12), 75.0, None, pytest.approx(3700 / 49)]
    assert before["text"][3] == ""  # not a team yet: nothing to draw, nothing withheld
    # 2015's new team (3 people) is withheld, and the next smallest with it.
    assert after["x"] == [84.0, None, None, None, pytest.approx(3300 / 49)]
    assert after["text"] == ["84%", "", WITHHELD_LABEL, WITHHELD_LABEL, "67%"]
    assert annotations(figure) == [WITHHELD_LABEL, WITHHELD_LABEL]


@pytest.mark.parametrize(
    ("share", "text"), [(0.625, "63%"), (0.125, "13%"), (0.7949, "79%"), (1.0, "100%"), (0.0, "0%")]
)
def test_percentages_are_rounded_half_up(share: float, text: str) -> None:
    assert percent_text(share) == text
