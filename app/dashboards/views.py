"""What the scrutiny pages show, as text: tables, charts and summaries from the report frames.

Nothing here computes a figure. Every number is one the report service returned, rounded half up
for reading; a withheld figure is the words "withheld (small group)", never a number or a blank.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from analysis.charts import percent_text
from analysis.compare import (
    BANDED,
    BASE_BELOW_K,
    HEADCOUNT_BELOW_BASE,
    NO_COUNTERPART,
    NO_POSITIVE_OPTION,
    NOT_COMPARABLE,
)
from analysis.disclosure import ALL, WITHHELD
from analysis.rounding import half_up
from app.reports.progress import WaveProgress
from app.reports.service import TeamLineage

Record = Mapping[Hashable, Any]
"""A report row, as `DataFrame.to_dict("records")` gives it."""

WITHHELD_TEXT = "withheld (small group)"
NO_TEST = {
    NOT_COMPARABLE: "not comparable",
    NO_COUNTERPART: "no team to compare with",
    WITHHELD: WITHHELD_TEXT,
    BANDED: "shown as a band: no test",
    NO_POSITIVE_OPTION: "no positive answer to count",
    BASE_BELOW_K: "too few answers to test",
    HEADCOUNT_BELOW_BASE: "headcount out of date: no test",
}
"""Why a comparison has no significance test, for readers."""


@dataclass(frozen=True)
class Cell:
    text: str
    withheld: bool = False
    href: str | None = None
    numeric: bool = True


@dataclass(frozen=True)
class Row:
    header: Cell
    cells: list[Cell]
    total: bool = False


@dataclass(frozen=True)
class Table:
    id: str
    caption: str
    columns: list[str]
    """Every column's heading, the row headings' first."""
    rows: list[Row]
    groups: list[tuple[str, int]] = field(default_factory=list)
    """Headings over groups of columns after the first: (heading, how many columns)."""


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    figure: str
    """The figure's JSON, safe inside a <script type="application/json"> element."""
    summary: str


def chart(chart_id: str, figure: go.Figure, summary: str) -> Chart:
    """`figure` as JSON that cannot end its script element (no "<", ">" or "&" left raw)."""
    title = figure.layout.title.text or ""
    # The page's caption carries the title, outside the picture, where it can be read.
    figure.update_layout(title=None, margin={"t": 30})
    text = figure.to_json()
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    return Chart(id=chart_id, title=re.sub(r"<[^>]+>", " ", title), figure=text, summary=summary)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _number(value: object) -> float | None:
    if isinstance(value, Real) and not math.isnan(float(value)):
        return float(value)
    return None


def percent(share: object) -> str:
    """A share (0 to 1) as "79%"; "" when missing."""
    value = _number(share)
    return "" if value is None else percent_text(value)


def points(change: object) -> str:
    """A change in percentage points as "+10.5", "−4.1" or "0.0" (one place, half up): the
    exact change, which may differ by a point from the difference of two rounded shares."""
    value = _number(change)
    if value is None:
        return ""
    size = half_up(abs(value), 1)
    return "0.0" if size == "0.0" else f"{'+' if value > 0 else '−'}{size}"


def _direction(change: object, up: str, down: str) -> str:
    """ "up 10.5 points" or "down 4.1 points" (or "no change")."""
    text = points(change)
    if text in ("", "0.0"):
        return "no change" if text else ""
    return f"{up if text.startswith('+') else down} {text[1:]} points"


def share_cell(share: object, *, withheld: object = False, band: object = None) -> Cell:
    if withheld is True:
        return Cell(WITHHELD_TEXT, withheld=True)
    if isinstance(band, str):
        return Cell(f"band: {band}")
    return Cell(percent(share) or "–")


def significance_text(significant: object, no_test_reason: object) -> str:
    if isinstance(no_test_reason, str):
        return NO_TEST.get(no_test_reason, no_test_reason.replace("_", " "))
    return "significant" if significant is True else "not significant"


def count_text(value: object) -> str:
    number = _number(value)
    return "" if number is None else f"{int(number):,}"


# --------------------------------------------------------------------------- year on year


def question_rows(compared: pd.DataFrame) -> list[Record]:
    """One record per question of a one-group comparison, in order."""
    return list(compared.drop_duplicates("question_after").to_dict("records"))


def _side_text(row: Record, side: str) -> str:
    cell = share_cell(
        row[f"positive_share_{side}"],
        withheld=row[f"withheld_{side}"],
        band=row[f"positive_band_{side}"],
    )
    return cell.text


def change_sentence(row: Record, waves: tuple[str, str]) -> str:
    """ "4a: 79% in 2014, 89% in 2015, up 10 points, a significant change"."""
    before, after = waves
    head = f"{row['number']}: {_side_text(row, 'before')} in {before}, "
    head += f"{_side_text(row, 'after')} in {after}"
    reason = row["no_test_reason"]
    if reason == NOT_COMPARABLE:
        return f"{head}; the question changed, so the two are not comparable"
    if row["withheld"]:
        return f"{head}; no change is shown"
    moved = _direction(row["positive_change_pp"], "up", "down")
    if isinstance(reason, str):
        return f"{head}, {moved}, {NO_TEST.get(reason, reason)}"
    kind = "a significant change" if row["significant"] is True else "not a significant change"
    return f"{head}, {moved}, {kind}"


def changes_table(
    table_id: str,
    caption: str,
    compared: pd.DataFrame,
    *,
    waves: tuple[str, str],
    texts: Mapping[str, str],
    link: Mapping[str, str] | None = None,
) -> Table:
    """Per question: positive share in each wave, change in points and significance."""
    rows = []
    for row in question_rows(compared):
        key = row["question_after"]
        rows.append(
            Row(
                header=Cell(
                    f"{row['number']} {texts.get(key, '')}".strip(),
                    href=(link or {}).get(key),
                    numeric=False,
                ),
                cells=[
                    share_cell(
                        row["positive_share_before"],
                        withheld=row["withheld_before"],
                        band=row["positive_band_before"],
                    ),
                    share_cell(
                        row["positive_share_after"],
                        withheld=row["withheld_after"],
                        band=row["positive_band_after"],
                    ),
                    Cell(points(row["positive_change_pp"]) or "–"),
                    Cell(
                        significance_text(row["significant"], row["no_test_reason"]), numeric=False
                    ),
                ],
            )
        )
    return Table(
        id=table_id,
        caption=caption,
        columns=[
            "Question",
            f"{waves[0]} positive",
            f"{waves[1]} positive",
            "Change (points)",
            "Significance at 95%",
        ],
        rows=rows,
    )


def options_table(
    table_id: str, caption: str, compared: pd.DataFrame, waves: tuple[str, str]
) -> Table:
    """One question's options in each wave, side by side (for a question not comparable)."""
    rows = []
    for side, wave in zip(("before", "after"), waves, strict=True):
        asked = compared[compared[f"label_{side}"].notna()]
        for row in asked.to_dict("records"):
            rows.append(
                Row(
                    header=Cell(f"{wave}: {row[f'label_{side}']}", numeric=False),
                    cells=[
                        share_cell(
                            row[f"share_{side}"],
                            withheld=row[f"withheld_{side}"],
                            band=row[f"band_{side}"],
                        ),
                        Cell(
                            count_text(row[f"base_{side}"]) or WITHHELD_TEXT,
                            withheld=row[f"withheld_{side}"] is True,
                        ),
                    ],
                )
            )
    return Table(id=table_id, caption=caption, columns=["Answer", "Share", "Answered"], rows=rows)


# --------------------------------------------------------------------------- profile


def profile_table(profile: pd.DataFrame, *, total_label: str) -> Table:
    """Response profile by wave: one row per team, for each wave its responses, headcount,
    rate and "1 person =", the row's heading saying what a split or merged team became."""
    waves = list(dict.fromkeys(profile["wave"]))
    by_key = {(row["team"], row["wave"]): row for row in profile.to_dict("records")}
    successors = {(row["wave"], row["group"]): len(row["went_to"]) for row in by_key.values()}
    rows = []
    for team in dict.fromkeys(profile["team"]):
        records = [by_key.get((team, wave)) for wave in waves]
        present = [record for record in records if record is not None]
        notes = []
        for record in present:
            came, went, wave = record["came_from"], record["went_to"], record["wave"]
            if len(came) > 1:
                notes.append(f"formed in {wave} from {_names(came)}")
            elif came:
                earlier = waves[waves.index(wave) - 1]
                split = successors.get((earlier, came[0]), 0) > 1
                notes.append(f"{'split from' if split else 'formerly'} {came[0]} in {wave}")
            if len(went) > 1:
                notes.append(f"split after {wave} into {_names(went)}")
            elif went:
                notes.append(f"became {went[0]} after {wave}")
        name = total_label if team == ALL else present[-1]["group"]
        header = name + (f" ({'; '.join(notes)})" if notes else "")
        cells: list[Cell] = []
        for wave, in_wave in zip(waves, records, strict=True):
            if in_wave is None:
                cells += [Cell(f"not a team in {wave}", numeric=False)] + [Cell("–")] * 3
            else:
                cells += _profile_cells(in_wave)
        rows.append(Row(header=Cell(header, numeric=False), cells=cells, total=team == ALL))
    states = dict(zip(profile["wave"], profile["state"], strict=False))
    return Table(
        id="response-profile",
        caption="Responses by team and wave, with what one person is worth",
        columns=["Team"] + ["Responses", "Headcount", "Response rate", "1 person ="] * len(waves),
        groups=[
            (f"{wave}{' (open: so far)' if states[wave] == 'open' else ''}", 4) for wave in waves
        ],
        rows=rows,
    )


def _profile_cells(record: Record) -> list[Cell]:
    """Responses, headcount, response rate and "1 person =" (the headcount is published)."""
    if record["withheld"]:
        withheld = Cell(WITHHELD_TEXT, withheld=True)
        return [withheld, Cell(count_text(record["headcount"])), withheld, withheld]
    return [
        Cell(count_text(record["respondents"])),
        Cell(count_text(record["headcount"])),
        Cell(f"{record['rate_pct']}%"),
        Cell(f"{record['one_person_pct']}%"),
    ]


def _names(names: Iterable[str]) -> str:
    listed = list(names)
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


def so_far(total: Record) -> Cell:
    """An open wave's responses so far: "120 of 570 (21%)", or withheld."""
    if total["withheld"]:
        return Cell(WITHHELD_TEXT, withheld=True)
    return Cell(
        f"{count_text(total['respondents'])} of {count_text(total['headcount'])} "
        f"({total['rate_pct']}%)"
    )


def profile_summary(profile: pd.DataFrame) -> str:
    totals = profile[profile["team"] == ALL]
    parts = []
    for row in totals.to_dict("records"):
        if row["withheld"]:
            parts.append(f"in {row['wave']} (open) the number so far is withheld (small group)")
        else:
            parts.append(
                f"in {row['wave']}{' (open, so far)' if row['state'] == 'open' else ''} "
                f"{count_text(row['respondents'])} of {count_text(row['headcount'])} staff "
                f"responded ({row['rate_pct']}%; 1 person = {row['one_person_pct']}%)"
            )
    changed = [
        f"{row['group']} became {_names(row['went_to'])} after {row['wave']}"
        for row in profile.to_dict("records")
        if row["went_to"]
    ]
    text = "Overall, " + "; ".join(parts) + "."
    if changed:
        text += " Teams changed: " + "; ".join(changed) + "."
    return text


# --------------------------------------------------------------------------- indicators


def indicators_table(indicators: pd.DataFrame) -> Table:
    waves = list(dict.fromkeys(indicators["wave"]))
    rows = []
    for title, rows_of in indicators.groupby("title", sort=False):
        by_wave = {row["wave"]: row for row in rows_of.to_dict("records")}
        first = next(iter(by_wave.values()))
        cells = [Cell(f"{first['target_pct']:g}%")]
        for wave in waves:
            row = by_wave[wave]
            cells.append(_indicator_cell(row))
            cells.append(_gap_cell(row))
        rows.append(Row(header=Cell(str(title), numeric=False), cells=cells))
    return Table(
        id="indicators",
        caption="Indicators against their targets, by wave",
        columns=["Indicator", "Target"] + ["Value", "Gap to target (points)"] * len(waves),
        groups=[("", 1)] + [(wave, 2) for wave in waves],
        rows=rows,
    )


def _indicator_cell(row: Record) -> Cell:
    status = row["status"]
    if status == "not_asked":
        return Cell("not asked", numeric=False)
    if status == "withheld":
        return Cell(WITHHELD_TEXT, withheld=True)
    if status == BANDED:
        return Cell(f"band: {row['band']}")
    value = _number(row["value_pct"])
    return Cell(percent(None if value is None else value / 100))


def _gap_cell(row: Record) -> Cell:
    if row["status"] != "shown":
        return Cell("–")
    if row["met"] is True:
        return Cell("target met", numeric=False)
    return Cell(points(row["gap_pp"]).lstrip("+"))


def indicators_summary(indicators: pd.DataFrame) -> str:
    sentences = []
    for title, rows_of in indicators.groupby("title", sort=False):
        records = rows_of.to_dict("records")
        values = ", ".join(f"{_indicator_cell(row).text} in {row['wave']}" for row in records)
        target = f"{records[0]['target_pct']:g}%"
        met = [row["wave"] for row in records if row["met"] is True]
        outcome = f"met in {_names(met)}" if met else "not yet met"
        sentences.append(f"{title}: {values}; target {target}, {outcome}.")
    return " ".join(sentences)


# --------------------------------------------------------------------------- teams


def team_table(
    table_id: str, caption: str, rows_of: pd.DataFrame, *, texts: Mapping[str, str], team: str
) -> Table:
    rows = []
    for row in rows_of.to_dict("records"):
        if not row["withheld"] and _number(row["overall_positive_share"]) is None:
            continue  # no positive option: nothing to compare
        rows.append(
            Row(
                header=Cell(
                    f"{row['number']} {texts.get(row['question'], '')}".strip(), numeric=False
                ),
                cells=[
                    share_cell(row["positive_share"], withheld=row["withheld"]),
                    Cell(count_text(row["base"]) or WITHHELD_TEXT, withheld=row["withheld"]),
                    Cell(percent(row["overall_positive_share"]) or "–"),
                    Cell(points(row["difference_pp"]) or "–"),
                    Cell(_team_test(row), numeric=False),
                ],
            )
        )
    return Table(
        id=table_id,
        caption=caption,
        columns=[
            "Question",
            f"{team} positive",
            "Answered",
            "All teams positive",
            "Difference (points)",
            "Against the rest of the wave",
        ],
        rows=rows,
    )


def _team_test(row: Record) -> str:
    if isinstance(row["no_test_reason"], str):
        return NO_TEST.get(row["no_test_reason"], row["no_test_reason"])
    if row["significant"] is not True:
        return "not significantly different"
    return (
        "significantly higher"
        if (_number(row["difference_pp"]) or 0) > 0
        else "significantly lower"
    )


def team_sentence(row: Record) -> str:
    if row["withheld"]:
        overall = percent(row["overall_positive_share"])
        return f"{row['number']}: withheld (small group) for this team, {overall} across all teams"
    moved = _direction(row["difference_pp"], "higher by", "lower by")
    return (
        f"{row['number']}: {percent(row['positive_share'])} in this team, "
        f"{percent(row['overall_positive_share'])} across all teams"
        f"{', ' + moved if moved and moved != 'no change' else ''}, {_team_test(row)}"
    )


# --------------------------------------------------------------------------- consistency


def consistency_table(
    table_id: str, caption: str, spread: pd.DataFrame, *, texts: Mapping[str, str]
) -> Table:
    rows = []
    for row in spread.to_dict("records"):
        if _number(row["overall_positive_share"]) is None:
            continue
        shown = int(row["teams_shown"])
        rows.append(
            Row(
                header=Cell(
                    f"{row['number']} {texts.get(row['question'], '')}".strip(), numeric=False
                ),
                cells=[
                    Cell(percent(row["overall_positive_share"])),
                    Cell(f"{shown} of {int(row['teams'])}"),
                    Cell(percent(row["lowest"]) or "–"),
                    Cell(percent(row["highest"]) or "–"),
                    Cell(points(row["range_pp"]).lstrip("+") or "fewer than two teams shown"),
                    Cell(str(int(row["teams_above"]))),
                    Cell(str(int(row["teams_below"]))),
                ],
            )
        )
    return Table(
        id=table_id,
        caption=caption,
        columns=[
            "Question",
            "All teams positive",
            "Teams shown",
            "Lowest team",
            "Highest team",
            "Range (points)",
            "Teams significantly above the rest",
            "Teams significantly below the rest",
        ],
        rows=rows,
    )


def consistency_sentence(row: Record) -> str:
    if _number(row["range_pp"]) is None:
        overall = percent(row["overall_positive_share"])
        return f"{row['number']}: {overall} across all teams; fewer than two teams shown"
    return (
        f"{row['number']}: {percent(row['overall_positive_share'])} across all teams, teams from "
        f"{percent(row['lowest'])} to {percent(row['highest'])}; {int(row['teams_above'])} "
        f"significantly above and {int(row['teams_below'])} below the rest of the wave"
    )


def groups_table(
    table_id: str,
    caption: str,
    compared: pd.DataFrame,
    *,
    waves: tuple[str, str],
    texts: Mapping[str, str],
    team_url: str,
) -> Table:
    """Every group of a comparison (split teams beside their predecessor) on a few questions:
    each question's positive share in both waves and the change."""
    records = compared.drop_duplicates(["group", "question_after"]).to_dict("records")
    by_key = {(row["group"], row["question_after"]): row for row in records}
    questions = list(dict.fromkeys(row["question_after"] for row in records))
    numbers = {row["question_after"]: row["number"] for row in records}
    rows = []
    for group in dict.fromkeys(row["group"] for row in records):
        first = by_key[(group, questions[0])]
        cells = []
        for question in questions:
            row = by_key[(group, question)]
            change = points(row["positive_change_pp"])
            if change and row["significant"] is True:
                change += " (significant)"
            cells += [
                share_cell(
                    row["positive_share_before"],
                    withheld=row["withheld_before"],
                    band=row["positive_band_before"],
                ),
                share_cell(
                    row["positive_share_after"],
                    withheld=row["withheld_after"],
                    band=row["positive_band_after"],
                ),
                Cell(change or "–"),
            ]
        overall = first["lineage"] == "overall"
        link = (
            None
            if overall or not isinstance(first["team_after"], str)
            else team_url + first["team_after"]
        )
        rows.append(
            Row(header=Cell(str(group), href=link, numeric=False), cells=cells, total=overall)
        )
    return Table(
        id=table_id,
        caption=caption,
        columns=["Team"] + [waves[0], waves[1], "Change (points)"] * len(questions),
        groups=[(f"{numbers[q]} {texts.get(q, '')}".strip(), 3) for q in questions],
        rows=rows,
    )


def lineage_note(lineage: TeamLineage) -> str:
    """ "split from MASH – Referral & Assessment Service (2014)", or "" when unchanged."""
    notes = []
    if lineage.came_from:
        waves = {ref.wave for ref in lineage.came_from}
        notes.append(
            f"from {_names(ref.name for ref in lineage.came_from)} ({', '.join(sorted(waves))})"
        )
    if lineage.went_to:
        waves = {ref.wave for ref in lineage.went_to}
        notes.append(
            f"became {_names(ref.name for ref in lineage.went_to)} ({', '.join(sorted(waves))})"
        )
    return "; ".join(notes)


def teams_table(rates: pd.DataFrame, lineages: list[TeamLineage], *, team_url: str) -> Table:
    """A wave's teams with their responses and what one person is worth, each linking to its
    page; a split team's successors together, linking to theirs."""
    by_name = {row["group"]: row for row in rates.to_dict("records")}
    rows = []
    for lineage in lineages:
        note = lineage_note(lineage)
        name = (
            lineage.name + (" (together)" if lineage.linked else "") + (f": {note}" if note else "")
        )
        record = by_name.get(lineage.name)
        cells = (
            [Cell("see each team", numeric=False)] + [Cell("–")] * 3
            if record is None
            else _profile_cells(record)
        )
        rows.append(Row(header=Cell(name, href=team_url + lineage.key, numeric=False), cells=cells))
    return Table(
        id="teams",
        caption="Teams, their responses and what one person is worth",
        columns=["Team", "Responses", "Headcount", "Response rate", "1 person ="],
        rows=rows,
    )


def progress_frame(progress: WaveProgress, label: str) -> pd.DataFrame:
    """The progress rows as `response_rates_by_wave` draws them: one series, `label`."""
    rows = [*progress.teams, progress.total]
    return pd.DataFrame(
        {
            "team": [row.team for row in rows],
            "group": [row.name for row in rows],
            "wave": label,
            "response_rate": [
                None if row.responses is None else row.responses / row.headcount for row in rows
            ],
            "withheld": [row.withheld for row in rows],
        }
    )


def progress_table(progress: WaveProgress, *, total_label: str) -> Table:
    rows = [
        Row(
            header=Cell(total_label if row.team == ALL else row.name, numeric=False),
            cells=[
                Cell(WITHHELD_TEXT, withheld=True)
                if row.responses is None
                else Cell(count_text(row.responses)),
                Cell(count_text(row.headcount)),
                Cell(WITHHELD_TEXT, withheld=True)
                if row.rate_pct is None
                else Cell(f"{row.rate_pct}%"),
            ],
            total=row.team == ALL,
        )
        for row in [*progress.teams, progress.total]
    ]
    return Table(
        id="progress",
        caption="Responses so far by team",
        columns=["Team", "Responses", "Headcount", "Response rate"],
        rows=rows,
    )


def progress_summary(progress: WaveProgress) -> str:
    total = progress.total
    if total.responses is None:
        return "The number of responses is withheld (small group)."
    shown = [row for row in progress.teams if not row.withheld and row.rate_pct is not None]
    lowest = min(shown, key=lambda row: (row.responses or 0) / row.headcount, default=None)
    sentence = (
        f"{count_text(total.responses)} of {count_text(total.headcount)} staff have responded "
        f"({total.rate_pct}%)."
    )
    withheld = sum(row.withheld for row in progress.teams)
    if lowest is not None:
        sentence += f" Of the teams shown, {lowest.name} has the lowest rate ({lowest.rate_pct}%)."
    if withheld:
        sentence += (
            f" {withheld} teams' counts are withheld: under {progress.threshold} so far, or"
            " they would give one away."
        )
    return sentence
