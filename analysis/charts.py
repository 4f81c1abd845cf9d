"""Charts of the reports: plotly figures drawn from the report tables, and nothing else.

Each function takes a table as `app.reports.service` returns it (already suppressed and made
fit for readers) and draws only the figures it holds. A withheld figure is never a bar of
height zero, nor 0%: its point has no value at all (`None`), its text says `WITHHELD_LABEL`, and
a grey, outlined placeholder with that label stands where the bar would be, so the chart says
"withheld" where a reader looks for the number. Percentages are drawn from the exact shares and
labelled rounded half up, as the tables print them.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real

import pandas as pd
import plotly.graph_objects as go

from analysis.compare import NO_POSITIVE_OPTION, NOT_COMPARABLE
from analysis.disclosure import ALL
from analysis.rounding import half_up

WITHHELD_LABEL = "withheld: small group"
"""What a chart says where a figure is withheld (the tables say "withheld (small group)")."""

PALETTE = ("#12436d", "#28a197", "#801650", "#f46a25", "#3d3d3d", "#a285d1")
"""The UK Government Analysis Function's categorical colours: distinct, and each at least 3:1
against white, one per wave or series."""

PLACEHOLDER_FILL = "#f3f2f1"
PLACEHOLDER_LINE = "#505a5f"
TEXT_COLOUR = "#0b0c0c"
BAR_GAP = 0.3
"""Fixed, so a placeholder can be put exactly where its bar would stand."""
LABEL_WIDTH = 22
"""Characters per line of a horizontal chart's category labels: narrow enough to leave the bars
room on a 320 px phone."""
FONT = {"family": 'Arial, "Helvetica Neue", sans-serif', "size": 14, "color": TEXT_COLOUR}


def percent_text(share: float, decimals: int = 0) -> str:
    """A share (0 to 1) as a percentage, rounded half up as the published reports round."""
    return f"{half_up(share, decimals, scale=100)}%"


@dataclass
class _Series:
    """One trace of a bar chart: a value (in percent) or a hidden point's label per category."""

    name: str
    values: list[float | None] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    hidden: list[str | None] = field(default_factory=list)
    """Per category: why no bar is drawn there (a placeholder's label), or None."""

    def add(self, share: object, hidden: str | None = None) -> None:
        """A point: the share (0 to 1) unless `hidden` says why it is not drawn."""
        value = None if hidden is not None else _number(share)
        self.values.append(None if value is None else value * 100)
        self.texts.append(hidden or "" if value is None else percent_text(value))
        self.hidden.append(hidden)

    def skip(self) -> None:
        """No point at all: the category does not exist for this series (a team not yet
        formed, a wave's option the other wave did not have)."""
        self.values.append(None)
        self.texts.append("")
        self.hidden.append(None)


def _number(value: object) -> float | None:
    """A figure as a float, or None when it is missing (None, NA or NaN)."""
    if isinstance(value, Real) and not math.isnan(float(value)):
        return float(value)
    return None


def _bars(
    categories: Sequence[str],
    series: Sequence[_Series],
    *,
    title: str,
    axis_title: str,
    horizontal: bool = False,
    overlay: bool = False,
) -> go.Figure:
    """Bars per category, one trace per series, placeholders where a series hides a point."""
    labels = [_wrap(c, LABEL_WIDTH) if horizontal else c for c in categories]
    figure = go.Figure()
    for index, one in enumerate(series):
        values: dict[str, object] = {"x": one.values, "y": labels}
        if not horizontal:
            values = {"x": labels, "y": one.values}
        figure.add_trace(
            go.Bar(
                name=one.name,
                orientation="h" if horizontal else "v",
                text=one.texts,
                textposition="outside",
                cliponaxis=False,
                marker={"color": PALETTE[index % len(PALETTE)]},
                hovertemplate="%{text}<extra>" + one.name + "</extra>",
                **values,
            )
        )
    slots = 1 if overlay else len(series)
    width = (1 - BAR_GAP) / slots
    for index, one in enumerate(series):
        offset = 0.0 if overlay else -(1 - BAR_GAP) / 2 + width * (index + 0.5)
        for position, label in enumerate(one.hidden):
            if label is not None:
                _placeholder(figure, position + offset, width, label, horizontal=horizontal)
    _style(
        figure,
        title=title,
        axis_title=axis_title,
        horizontal=horizontal,
        height=_height(len(categories), len(series), horizontal),
    )
    figure.update_layout(barmode="overlay" if overlay else "group", bargap=BAR_GAP, bargroupgap=0)
    return figure


def _style(
    figure: go.Figure,
    *,
    title: str,
    axis_title: str,
    horizontal: bool,
    height: int,
    categories: Sequence[str] | None = None,
) -> None:
    """The look every chart shares: plain white, a percentage axis from 0 to 100 with room for
    the labels, the legend above, categories in the order given (top down when horizontal)."""
    value_axis = {
        "title": {"text": axis_title},
        "range": [0, 112],
        "tickvals": [0, 25, 50, 75, 100],
        "gridcolor": "#dcdcdc",
        "zeroline": True,
        "zerolinecolor": PLACEHOLDER_LINE,
        "automargin": True,
    }
    category_axis: dict[str, object] = {"type": "category", "automargin": True}
    if categories is not None:
        category_axis |= {"categoryorder": "array", "categoryarray": list(categories)}
    if horizontal:
        category_axis["autorange"] = "reversed"
    figure.update_layout(
        template="none",
        title={"text": title, "x": 0, "xanchor": "left"},
        font=FONT,
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        height=height,
        xaxis=value_axis if horizontal else category_axis,
        yaxis=category_axis if horizontal else value_axis,
    )


def _placeholder(
    figure: go.Figure, centre: float, width: float, label: str, *, horizontal: bool
) -> None:
    """A grey, dashed, labelled box from 0 to 100% where a bar would stand."""
    low, high = centre - width / 2, centre + width / 2
    box = (
        {"x0": 0, "x1": 100, "y0": low, "y1": high}
        if horizontal
        else {"x0": low, "x1": high, "y0": 0, "y1": 100}
    )
    figure.add_shape(
        type="rect",
        xref="x",
        yref="y",
        fillcolor=PLACEHOLDER_FILL,
        line={"color": PLACEHOLDER_LINE, "width": 1, "dash": "dot"},
        layer="below",
        **box,
    )
    point = {"x": 50, "y": centre} if horizontal else {"x": centre, "y": 50}
    figure.add_annotation(
        text=label,
        showarrow=False,
        textangle=0 if horizontal else -90,
        font={"size": 12, "color": TEXT_COLOUR},
        xref="x",
        yref="y",
        **point,
    )


def _height(categories: int, series: int, horizontal: bool) -> int:
    if horizontal:
        return max(260, 120 + categories * max(series, 1) * 22)
    return 420


def _wrap(text: str, width: int) -> str:
    return "<br>".join(textwrap.wrap(text, width)) or text


def _hidden_label(withheld: object, band: object) -> str | None:
    """Why one side's figure is not drawn: withheld, or shown as a band instead of a share."""
    if withheld is True:
        return WITHHELD_LABEL
    if isinstance(band, str):
        return f"band: {band}"
    return None


def positive_share_by_wave(
    compared: pd.DataFrame,
    *,
    waves: tuple[str, str],
    title: str,
    labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """Each comparable question's positive share in both waves, side by side, for one group.

    `compared`: `year_on_year_report` rows of one group (one or more rows per question).
    Questions not comparable, or with no positive option, are left out: they have no change
    to show. `labels`: the category text per later-wave question key (default its number).
    """
    rows = compared.drop_duplicates("question_after")
    rows = rows[
        (rows["comparability"] != NOT_COMPARABLE)
        & (rows["no_test_reason"].astype(object) != NO_POSITIVE_OPTION)
    ]
    series = [_Series(f"{waves[0]}"), _Series(f"{waves[1]}")]
    for row in rows.to_dict("records"):
        for side, one in zip(("before", "after"), series, strict=True):
            one.add(
                row[f"positive_share_{side}"],
                _hidden_label(row[f"withheld_{side}"], row[f"positive_band_{side}"]),
            )
    categories = [
        (labels or {}).get(key, number)
        for key, number in zip(rows["question_after"], rows["number"], strict=True)
    ]
    return _bars(categories, series, title=title, axis_title="Answering positively (%)")


def not_comparable_side_by_side(
    compared: pd.DataFrame, *, waves: tuple[str, str], title: str
) -> go.Figure:
    """One not-comparable question's answers in each wave, side by side: each wave's own
    options, since the options changed. `compared`: its `year_on_year_report` rows, one group."""
    categories: list[str] = []
    series = [_Series(waves[0]), _Series(waves[1])]
    for side, wave, one, other in (
        ("before", waves[0], series[0], series[1]),
        ("after", waves[1], series[1], series[0]),
    ):
        asked = compared[compared[f"label_{side}"].notna()]
        for row in asked.to_dict("records"):
            categories.append(f"{wave}: {row[f'label_{side}']}")
            one.add(
                row[f"share_{side}"], _hidden_label(row[f"withheld_{side}"], row[f"band_{side}"])
            )
            other.skip()
    return _bars(
        categories,
        series,
        title=title,
        axis_title="Share of answers (%)",
        horizontal=True,
        overlay=True,
    )


def team_against_overall(
    team_rows: pd.DataFrame, *, team: str, title: str, labels: Mapping[str, str] | None = None
) -> go.Figure:
    """A team's positive share beside the whole wave's, question by question ("Report 1").

    `team_rows`: `team_report` rows of one team. Questions with no positive share at all (no
    positive option) are left out; a team's withheld share is a placeholder.
    """
    rows = team_rows[team_rows["withheld"] | team_rows["overall_positive_share"].notna()]
    series = [_Series(team), _Series("All teams")]
    for row in rows.to_dict("records"):
        series[0].add(row["positive_share"], WITHHELD_LABEL if row["withheld"] else None)
        series[1].add(row["overall_positive_share"])
    categories = [
        (labels or {}).get(key, number)
        for key, number in zip(rows["question"], rows["number"], strict=True)
    ]
    return _bars(
        categories, series, title=title, axis_title="Answering positively (%)", horizontal=True
    )


def indicators_against_targets(indicators: pd.DataFrame, *, title: str) -> go.Figure:
    """Each indicator's value per wave, with its target marked.

    `indicators`: `indicators_report` rows. A wave that did not ask the question shows "not
    asked", a withheld value the withheld placeholder.
    """
    titles = list(dict.fromkeys(indicators["title"]))
    waves = list(dict.fromkeys(indicators["wave"]))
    series = {wave: _Series(wave) for wave in waves}
    by_key = {(row["title"], row["wave"]): row for row in indicators.to_dict("records")}
    for indicator in titles:
        for wave, one in series.items():
            row = by_key[(indicator, wave)]
            if row["status"] == "not_asked":
                one.add(None, "not asked")
            else:
                value = _number(row["value_pct"])
                one.add(
                    None if value is None else value / 100,
                    _hidden_label(row["status"] == "withheld", row["band"]),
                )
    figure = _bars(
        titles,
        list(series.values()),
        title=title,
        axis_title="Value (%)",
        horizontal=True,
    )
    targets = indicators.drop_duplicates("title")
    figure.add_trace(
        go.Scatter(
            name="Target",
            x=list(targets["target_pct"]),
            y=[_wrap(t, LABEL_WIDTH) for t in targets["title"]],
            mode="markers",
            marker={
                "symbol": "line-ns-open",
                "size": 28,
                "color": TEXT_COLOUR,
                "line": {"width": 3, "color": TEXT_COLOUR},
            },
            hovertemplate="Target %{x}%<extra></extra>",
        )
    )
    return figure


def consistency_spread(
    spread: pd.DataFrame, *, title: str, labels: Mapping[str, str] | None = None
) -> go.Figure:
    """Per question, the lowest and highest team's positive share, and the whole wave's.

    `spread`: `consistency_report` rows. Questions with no positive share are left out; where
    fewer than two teams are shown there is no range, and the chart says so.
    """
    rows = spread[spread["overall_positive_share"].notna()]
    categories = [
        (labels or {}).get(key, number)
        for key, number in zip(rows["question"], rows["number"], strict=True)
    ]
    ranged = rows["range_pp"].notna().tolist()
    lines_x: list[str | None] = []
    lines_y: list[float | None] = []
    for category, low, high, has_range in zip(
        categories, rows["lowest"], rows["highest"], ranged, strict=True
    ):
        if has_range:
            lines_x += [category, category, None]
            lines_y += [float(low) * 100, float(high) * 100, None]
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            name="Lowest to highest team",
            x=lines_x,
            y=lines_y,
            mode="lines+markers",
            line={"color": PALETTE[0], "width": 3},
            marker={"size": 8, "color": PALETTE[0]},
            hovertemplate="%{y:.0f}%<extra>%{x}</extra>",
        )
    )
    figure.add_trace(
        go.Scatter(
            name="All teams",
            x=categories,
            y=[float(v) * 100 for v in rows["overall_positive_share"]],
            mode="markers",
            marker={
                "symbol": "diamond",
                "size": 11,
                "color": PALETTE[3],
                "line": {"width": 1, "color": TEXT_COLOUR},
            },
            hovertemplate="All teams %{y:.0f}%<extra>%{x}</extra>",
        )
    )
    for position, has_range in enumerate(ranged):
        if not has_range:
            figure.add_annotation(
                x=position, y=50, text="fewer than two teams shown", textangle=-90,
                showarrow=False, font={"size": 12, "color": TEXT_COLOUR},
            )  # fmt: skip
    _style(
        figure,
        title=title,
        axis_title="Answering positively (%)",
        horizontal=False,
        height=420,
        categories=categories,
    )
    return figure


def response_rates_by_wave(profile: pd.DataFrame, *, title: str, total_label: str) -> go.Figure:
    """Each team's response rate in each wave: a team missing from a wave has no bar there,
    a withheld rate the placeholder. `profile`: `response_profile_by_wave` rows; the total
    (team `ALL`) is drawn as `total_label`."""
    keys = [key for key in dict.fromkeys(profile["team"]) if key != ALL] + [ALL]
    names = dict(zip(profile["team"], profile["group"], strict=False))
    names[ALL] = total_label
    waves = list(dict.fromkeys(profile["wave"]))
    series = {wave: _Series(wave) for wave in waves}
    by_key = {(row["team"], row["wave"]): row for row in profile.to_dict("records")}
    for key in keys:
        for wave, one in series.items():
            row = by_key.get((key, wave))
            if row is None:
                one.skip()
            else:
                one.add(row["response_rate"], WITHHELD_LABEL if row["withheld"] else None)
    return _bars(
        [names[key] for key in keys],
        list(series.values()),
        title=title,
        axis_title="Response rate (%)",
        horizontal=True,
    )
