"""A whole wave's report as print-ready HTML: Coventry's "Report 1", regenerated from data.

Every figure comes from the report service, suppressed and ready for readers; this module only
picks the service's outputs and writes them as text (rounded half up, as the published reports
rounded them). The page and `report pdf` render the same template from the same `WaveReport`.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Hashable, Iterable, Mapping
from typing import Annotated, Any, TypeVar

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from analysis.compare import (
    BANDED,
    BASE_BELOW_K,
    HEADCOUNT_BELOW_BASE,
    NO_COUNTERPART,
    NO_POSITIVE_OPTION,
    NOT_COMPARABLE,
    OVERALL,
)
from analysis.disclosure import ALL, WITHHELD
from analysis.rounding import half_up
from app.accounts.deps import require_role
from app.accounts.models import Role, User
from app.cache import FrozenCache
from app.deps import SessionDep, SettingsDep, TodayDep, commits_in_thread
from app.releases.service import release_fingerprint
from app.reports.service import (
    ResultsNotReleased,
    question_report,
    released_wave,
    response_rates,
    survey_outline,
    team_report,
    year_on_year_report,
)
from app.responses.service import OpenedWave
from app.surveys.definitions import ResolvedQuestion
from app.web import TEMPLATES, staff_page

router = APIRouter(include_in_schema=False)
ReaderDep = Annotated[User, Depends(require_role(Role.scrutiny, Role.hr, Role.admin))]

TEMPLATE = "reports/wave.html"
WITHHELD_TEXT = "withheld (small group)"
NO_TEST = {
    WITHHELD: WITHHELD_TEXT,
    NOT_COMPARABLE: "not comparable",
    NO_POSITIVE_OPTION: "no positive answer",
    NO_COUNTERPART: "not in both waves",
    BASE_BELOW_K: "too few answers to test",
    HEADCOUNT_BELOW_BASE: "more answers than headcount",
    BANDED: "shown as a band",
}
"""Why a change or difference was not tested, in words."""
LINEAGE = {
    "split": "split between the waves: its successors together against it",
    "merged": "merged between the waves: against its predecessors together",
    "regrouped": "regrouped between the waves: compared as a whole",
    "new": "new in the later wave",
    "ended": "not in the later wave",
}
COMPARABILITY = {
    "comparable": "Comparable",
    "comparable_with_note": "Comparable, with a note",
    NOT_COMPARABLE: "Not comparable: shown side by side",
}


class ProfileRow(BaseModel):
    group: str
    total: bool
    withheld: bool
    responses: str | None
    headcount: str | None
    rate: str | None
    one_person: str | None


class Profile(BaseModel):
    heading: str
    """What the groups are: "Team" or "Role grouping"."""
    with_headcount: bool
    rows: list[ProfileRow]


class TeamRow(BaseModel):
    """One team's (or all teams') figures for one question."""

    group: str
    overall: bool
    linked: bool
    """Teams reported together as well as apart (a split team's successors)."""
    withheld: bool
    base: str | None
    one_person: str | None
    shares: list[str]
    positive: str | None
    difference: str | None
    significance: str | None


class QuestionTable(BaseModel):
    key: str
    number: str
    text: str
    stem: str | None
    """The shared heading of a grid, given with its first item only."""
    audiences: list[str]
    reconstructed: bool
    options: list[str]
    positive_labels: list[str]
    rows: list[TeamRow]


class Side(BaseModel):
    """One wave's figures for one group in a year-on-year table."""

    absent: bool
    """The group is not in this wave (a new or ended team)."""
    withheld: bool
    base: str | None
    positive: str | None
    shares: list[str]


class ChangeRow(BaseModel):
    group: str
    lineage: str | None
    before: Side
    after: Side
    change: str | None
    significance: str | None


class ChangeTable(BaseModel):
    key: str
    """The later wave's question."""
    number: str
    number_before: str
    text: str
    stem: str | None
    comparability: str
    note: str | None
    side_by_side: bool
    """Not comparable, or no positive answer: each wave's option shares, no change."""
    options_before: list[str]
    options_after: list[str]
    positive_labels: list[str]
    rows: list[ChangeRow]


class Section(BaseModel):
    anchor: str
    title: str
    tables: list[QuestionTable]


class ChangeSection(BaseModel):
    anchor: str
    title: str
    tables: list[ChangeTable]


class YearOnYear(BaseModel):
    before: str
    after: str
    sections: list[ChangeSection]


class WaveReport(BaseModel):
    survey: str
    title: str
    survey_title: str
    organisation: str
    wave: str
    opens_on: dt.date
    closes_on: dt.date
    produced_on: dt.date
    threshold: int
    total: ProfileRow
    teams: Profile
    roles: Profile
    sections: list[Section]
    year_on_year: YearOnYear | None
    """Against the closed wave just before, when this wave's questionnaire continues its."""


def wave_report(*, session: Session, survey_key: str, wave_key: str, today: dt.date) -> WaveReport:
    """The whole report for a closed wave, made once per release and day;
    `ResultsNotReleased` while it is open."""
    wave = released_wave(session=session, survey_key=survey_key, wave_key=wave_key, today=today)
    outline = survey_outline(session=session, survey_key=survey_key, today=today)
    earlier = [c.from_wave for c in outline.comparisons if c.to_wave == wave.key]
    before = (
        released_wave(session=session, survey_key=survey_key, wave_key=earlier[-1], today=today)
        if earlier
        else None
    )
    key = (
        survey_key,
        today,
        release_fingerprint(session, wave),
        None if before is None else release_fingerprint(session, before),
    )
    return _REPORTS.get_or_make(key, lambda: _wave_report(session, survey_key, wave, before, today))


_REPORTS: FrozenCache[WaveReport] = FrozenCache(size=8)


def _wave_report(
    session: Session,
    survey_key: str,
    wave: OpenedWave,
    before: OpenedWave | None,
    today: dt.date,
) -> WaveReport:
    wave_key = wave.key
    definition = wave.published.definition
    decimals = definition.one_person_decimals
    teams = _profile(
        response_rates(session=session, survey_key=survey_key, wave_key=wave_key, by="team"),
        "Team",
    )
    roles = _profile(
        response_rates(session=session, survey_key=survey_key, wave_key=wave_key, by="role"),
        "Role grouping",
    )
    against = team_report(
        session=session, survey_key=survey_key, wave_key=wave_key, today=today, question=None
    )
    differences = {(row["question"], row["group"]): row for row in _records(against)}
    asked = _reported(wave.published.questions)
    tables = [
        _question_table(
            question,
            question_report(
                session=session,
                survey_key=survey_key,
                wave_key=wave_key,
                question=question.key,
                by="team",
                today=today,
            ),
            differences,
            wave,
            show_stem=opens_grid,
        )
        for question, opens_grid in zip(asked, _opening_grids(asked), strict=True)
    ]
    year_on_year = None
    if before is not None:
        compared = year_on_year_report(
            session=session,
            survey_key=survey_key,
            from_wave=before.key,
            to_wave=wave.key,
            today=today,
        )
        year_on_year = YearOnYear(
            before=before.key,
            after=wave.key,
            sections=[
                ChangeSection(anchor=f"yoy-section-{key}", title=title, tables=grouped)
                for key, title, grouped in _by_section(
                    _change_tables(compared, before, wave, decimals),
                    wave,
                )
            ],
        )
    return WaveReport(
        survey=survey_key,
        title=definition.title,
        survey_title=definition.survey_title,
        organisation=definition.organisation,
        wave=wave.key,
        opens_on=wave.opens_on,
        closes_on=wave.closes_on,
        produced_on=today,
        threshold=wave.suppression_threshold,
        total=teams.rows[-1],
        teams=teams,
        roles=roles,
        sections=[
            Section(anchor=f"q-section-{key}", title=title, tables=grouped)
            for key, title, grouped in _by_section(tables, wave)
        ],
        year_on_year=year_on_year,
    )


def render_wave_report(report: WaveReport) -> str:
    """The report's HTML without a request: what `report pdf` prints."""
    return TEMPLATES.get_template(TEMPLATE).render(
        report=report, user=None, navigation=[], errors=[], error_for={}
    )


@router.get("/reports/{survey}/{wave}", response_class=HTMLResponse)
@commits_in_thread
def wave_report_page(
    request: Request,
    survey: str,
    wave: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    user: ReaderDep,
) -> HTMLResponse:
    try:
        report = wave_report(session=session, survey_key=survey, wave_key=wave, today=today)
    except ResultsNotReleased as error:
        return staff_page(
            request,
            settings,
            "reports/not_released.html",
            {"survey": survey, "wave": wave, "detail": str(error)},
            user=user,
            status_code=409,
        )
    return staff_page(request, settings, TEMPLATE, {"report": report}, user=user)


# Figures as text. Withheld figures have no value here at all: the template says "withheld".


def _percent(share: Any, decimals: int, band: Any = None) -> str:
    """A share (0 to 1) as the report prints it; a band as it is; "" for no figure."""
    if isinstance(band, str) and band:
        return band
    return "" if _missing(share) else half_up(float(share), decimals, scale=100)


def _points(change: Any) -> str | None:
    """A change or difference in percentage points, signed, one decimal."""
    if _missing(change):
        return None
    text = half_up(float(change), 1)
    if text in ("0.0", "-0.0"):
        return "0.0"
    return text if text.startswith("-") else f"+{text}"


def _significance(significant: Any, no_test_reason: Any) -> str | None:
    if not _missing(significant):
        return "yes" if significant else "no"
    return None if _missing(no_test_reason) else NO_TEST.get(str(no_test_reason), "no test")


def _count(value: Any) -> str | None:
    return None if _missing(value) else str(int(value))


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


Record = dict[Hashable, Any]
"""One row of a report frame (records are far quicker to walk than frames)."""


def _records(frame: pd.DataFrame) -> list[Record]:
    return frame.to_dict("records")


def _grouped(records: Iterable[Record], column: str) -> dict[str, list[Record]]:
    """Records by their value in `column`, in order of first appearance."""
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(str(record[column]), []).append(record)
    return groups


# Response profile


def _profile(rates: pd.DataFrame, heading: str) -> Profile:
    with_headcount = "headcount" in rates.columns
    rows = [
        ProfileRow(
            group="Total" if row["group"] == ALL else str(row["group"]),
            total=row["group"] == ALL,
            withheld=bool(row["withheld"]),
            responses=_count(row["respondents"]),
            headcount=_count(row["headcount"]) if with_headcount else None,
            rate=f"{row['rate_pct']}%" if with_headcount and not row["withheld"] else None,
            one_person=None if row["withheld"] else f"{row['one_person_pct']}%",
        )
        for row in _records(rates)
    ]
    return Profile(heading=heading, with_headcount=with_headcount, rows=rows)


# Each question by team against all teams


def _reported(questions: Iterable[ResolvedQuestion]) -> list[ResolvedQuestion]:
    """Choice questions: free text is never printed (it is shown only to groups of 2k)."""
    return [question for question in questions if question.options]


def _question_table(
    question: ResolvedQuestion,
    results: pd.DataFrame,
    differences: Mapping[tuple[Hashable, Hashable], Record],
    wave: OpenedWave,
    *,
    show_stem: bool,
) -> QuestionTable:
    counted = [option for option in question.options if not option.excluded_from_base]
    has_positive = any(option.positive for option in counted)
    rows = []
    for group, figures in _grouped(_records(results), "team").items():
        first = figures[0]
        withheld = bool(first["withheld"])
        overall = group == "All teams"
        shares = {figure["option"]: figure["share_pct"] for figure in figures}
        against = differences.get((question.key, group), {})
        rows.append(
            TeamRow(
                group=group,
                overall=overall,
                linked=bool(against.get("linked", False)),
                withheld=withheld,
                base=None if withheld else _count(first["base"]),
                one_person=None if withheld else f"{first['one_person_pct']}%",
                shares=[] if withheld else [str(shares[option.code]) for option in counted],
                positive=str(first["positive_pct"]) if has_positive and not withheld else None,
                difference=None if overall else _points(against.get("difference_pp")),
                significance=None
                if overall or not has_positive
                else _significance(against.get("significant"), against.get("no_test_reason")),
            )
        )
    audiences = wave.published.audiences
    return QuestionTable(
        key=question.key,
        number=question.number,
        text=question.text,
        stem=question.stem if show_stem else None,
        audiences=[audiences[key].label for key in question.applies_to],
        reconstructed=question.reconstructed,
        options=[option.label for option in counted],
        positive_labels=[option.label for option in counted if option.positive],
        rows=rows,
    )


def _opening_grids(questions: list[ResolvedQuestion]) -> list[bool]:
    """Whether each question opens its grid (or has none): a grid's stem is printed once."""
    return [
        previous is None or question.grid is None or question.grid != previous.grid
        for previous, question in zip([None, *questions], questions, strict=False)
    ]


TableT = TypeVar("TableT", QuestionTable, ChangeTable)


def _by_section(tables: list[TableT], wave: OpenedWave) -> list[tuple[str, str, list[TableT]]]:
    """Tables grouped under the wave's questionnaire sections (key and title), in order."""
    questions = wave.published.by_key
    grouped = itertools.groupby(
        tables, key=lambda table: (questions[table.key].section, questions[table.key].section_title)
    )
    return [(key, title, list(group)) for (key, title), group in grouped]


# Year on year


def _change_tables(
    compared: pd.DataFrame, before: OpenedWave, after: OpenedWave, decimals: int
) -> list[ChangeTable]:
    """One table per question the later wave continues, in its order."""
    pairs = _grouped(_records(compared), "question_after")
    later = [after.published.by_key[key] for key in pairs]
    return [
        _change_table(rows, question, before, decimals, show_stem=opens_grid)
        for rows, question, opens_grid in zip(
            pairs.values(), later, _opening_grids(later), strict=True
        )
    ]


def _change_table(
    rows: list[Record],
    later: ResolvedQuestion,
    before: OpenedWave,
    decimals: int,
    *,
    show_stem: bool,
) -> ChangeTable:
    first = rows[0]
    earlier = before.published.by_key[str(first["question_before"])]
    counted_before = [option for option in earlier.options if not option.excluded_from_base]
    counted_after = [option for option in later.options if not option.excluded_from_base]
    side_by_side = first["comparability"] == NOT_COMPARABLE or not (
        any(option.positive for option in counted_before)
        and any(option.positive for option in counted_after)
    )
    groups = []
    for group, figures in _grouped(rows, "group").items():
        top = figures[0]
        lineage = str(top["lineage"])
        by_option = {str(figure["option"]): figure for figure in figures}
        groups.append(
            ChangeRow(
                group=group,
                lineage=LINEAGE.get(lineage) if lineage != OVERALL else None,
                before=_side(top, by_option, "before", [o.code for o in counted_before], decimals),
                after=_side(top, by_option, "after", [o.code for o in counted_after], decimals),
                change=None if side_by_side else _points(top["positive_change_pp"]),
                significance=None
                if side_by_side
                else _significance(top["significant"], top["no_test_reason"]),
            )
        )
    note = first["note"]
    return ChangeTable(
        key=later.key,
        number=later.number,
        number_before=earlier.number,
        text=later.text,
        stem=later.stem if show_stem else None,
        comparability=COMPARABILITY[str(first["comparability"])],
        note=None if _missing(note) or note in ("", "None") else str(note),
        side_by_side=side_by_side,
        options_before=[option.label for option in counted_before],
        options_after=[option.label for option in counted_after],
        positive_labels=[option.label for option in counted_after if option.positive],
        rows=groups,
    )


def _side(
    top: Record, by_option: Mapping[str, Record], side: str, codes: list[str], decimals: int
) -> Side:
    """One wave's figures for a group; nothing at all when that wave withholds them."""
    if _missing(top[f"team_{side}"]):
        return Side(absent=True, withheld=False, base=None, positive=None, shares=[])
    if bool(top[f"withheld_{side}"]) or _missing(top[f"base_{side}"]):
        return Side(absent=False, withheld=True, base=None, positive=None, shares=[])
    return Side(
        absent=False,
        withheld=False,
        base=_count(top[f"base_{side}"]),
        positive=_percent(top[f"positive_share_{side}"], decimals, top[f"positive_band_{side}"]),
        shares=[
            _percent(by_option[code][f"share_{side}"], decimals, by_option[code][f"band_{side}"])
            if code in by_option
            else ""
            for code in codes
        ],
    )
