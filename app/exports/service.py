"""HR exports: what the pages show for a wave or a comparison, as rows ready for a file.

Every figure comes from `app.reports.service`, which has already suppressed it and labelled it for
readers: an export arranges those figures and explains them, and computes none of its own. A
withheld figure arrives as no figure at all (or as `MARKER`) and leaves as an empty cell.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from analysis.compare import (
    BANDED,
    BASE_BELOW_K,
    COMPARABLE,
    COMPARABLE_WITH_NOTE,
    CONTINUES,
    ENDED,
    HEADCOUNT_BELOW_BASE,
    MERGED,
    NEW,
    NO_COUNTERPART,
    NO_POSITIVE_OPTION,
    NOT_COMPARABLE,
    OVERALL,
    REGROUPED,
    SPLIT,
)
from analysis.disclosure import ALL, MARKER, WITHHELD
from app.cache import FrozenCache
from app.releases.service import current_release, release_fingerprint
from app.reports.service import (
    question_report,
    released_wave,
    response_rates,
    team_lineages,
    wave_results,
    year_on_year_report,
)
from app.responses.service import OpenedWave
from app.surveys.definitions import ResolvedQuestion

ExportBreakdown = Literal["team", "role"]
Progress = Callable[[Sequence[ResolvedQuestion]], Iterable[ResolvedQuestion]]
"""Wraps the questions an export works through, e.g. in a progress bar."""


def _quietly(questions: Sequence[ResolvedQuestion]) -> Iterable[ResolvedQuestion]:
    return questions


class Part(StrEnum):
    """The tables an export holds: one XLSX workbook, or one CSV file each."""

    results = "results"
    response_profile = "response-profile"
    notes = "notes"


Figure = float | str | None
"""A percentage as a number, a band ("fewer than 5") where banding hides it, or None where it is
withheld."""


class ExportRow(BaseModel):
    """A row of an exported table; field titles are the column headings."""

    NUMBER_FORMATS: ClassVar[dict[str, str]] = {}
    """Spreadsheet display formats by field: the value stays the exact figure."""


class SectionRow(ExportRow):
    section: str = Field(title="Section")


class WaveResultRow(SectionRow):
    """One option of one question for one group, as the question pages show it."""

    wave: str = Field(title="Wave")
    number: str = Field(title="Q")
    question: str = Field(title="Question")
    team: str = Field(title="Team")
    role: str = Field(title="Role grouping")
    answer: str = Field(title="Answer")
    counts_as_positive: bool = Field(title="Counts as positive")
    base: int | None = Field(title="Base")
    count: int | None = Field(title="Count")
    share_pct: Figure = Field(title="Share %")
    positive_pct: Figure = Field(title="Positive % (group)")
    one_person_pct: float | None = Field(title="1 person = %")
    withheld: str = Field(title="Withheld")
    reason: str | None = Field(title="Reason")


class ComparisonRow(SectionRow):
    """One option of one question for one team (or union of teams) in two waves."""

    NUMBER_FORMATS: ClassVar[dict[str, str]] = {
        "share_before": "0.0%",
        "share_after": "0.0%",
        "change_pp": "0.0",
        "positive_share_before": "0.0%",
        "positive_share_after": "0.0%",
        "positive_change_pp": "0.0",
        "p_value": "0.000",
    }

    waves: str = Field(title="Waves")
    number: str = Field(title="Q")
    question: str = Field(title="Question")
    comparability: str = Field(title="Comparability")
    team: str = Field(title="Team")
    lineage: str = Field(title="Lineage")
    answer: str = Field(title="Answer")
    answer_before: str | None = Field(title="Answer (earlier wave)")
    base_before: int | None = Field(title="Base before")
    base_after: int | None = Field(title="Base after")
    share_before: Figure = Field(title="Share before (proportion)")
    share_after: Figure = Field(title="Share after (proportion)")
    change_pp: float | None = Field(title="Change (percentage points)")
    positive_share_before: Figure = Field(title="Positive before (proportion)")
    positive_share_after: Figure = Field(title="Positive after (proportion)")
    positive_change_pp: float | None = Field(title="Positive change (percentage points)")
    p_value: float | None = Field(title="p")
    significant: bool | None = Field(title="Significant at 95%")
    withheld_before: str = Field(title="Withheld before")
    withheld_after: str = Field(title="Withheld after")
    reason: str | None = Field(title="Reason")
    no_test_reason: str | None = Field(title="No test because")


class ProfileRow(ExportRow):
    """How many in one group responded, as the response-rate pages show it."""

    wave: str = Field(title="Wave")
    group: str = Field(title="Group")
    respondents: int | None = Field(title="Responses")
    headcount: int | None = Field(title="Headcount")
    rate_pct: float | None = Field(title="Response rate %")
    one_person_pct: float | None = Field(title="1 person = %")
    withheld: str = Field(title="Withheld")
    reason: str | None = Field(title="Reason")


class NoteRow(ExportRow):
    topic: str = Field(title="Topic")
    detail: str = Field(title="Note")


@dataclass(frozen=True)
class Table:
    row_type: type[ExportRow]
    rows: Sequence[ExportRow]


@dataclass(frozen=True)
class Export:
    name: str
    """The file name without its extension, e.g. coventry-supervision-2015-by-team."""
    tables: dict[Part, Table]
    made_from: tuple[Hashable, ...]
    """What the export was made from (`release_fingerprint`s, breakdown, date): the same key
    makes the same file."""


def wave_export(
    *,
    session: Session,
    survey_key: str,
    wave_key: str,
    by: ExportBreakdown,
    today: dt.date,
    progress: Progress = _quietly,
) -> Export:
    """Every question's results by team or by role grouping, with the response profile; made
    once per release, breakdown and day."""
    wave = released_wave(session=session, survey_key=survey_key, wave_key=wave_key, today=today)
    key = ("wave", survey_key, by, today, release_fingerprint(session, wave))
    return _EXPORTS.get_or_make(
        key, lambda: _wave_export(session, survey_key, wave, by, today, progress, key)
    )


def _wave_export(
    session: Session,
    survey_key: str,
    wave: OpenedWave,
    by: ExportBreakdown,
    today: dt.date,
    progress: Progress,
    key: tuple[Hashable, ...],
) -> Export:
    wave_key = wave.key
    questions = _reported(wave)
    suppressed: set[str] = set()
    rows: list[ExportRow] = []
    for question in progress(questions):
        _suppress_section(session, [wave], questions, question, suppressed)
        frame = question_report(
            session=session,
            survey_key=survey_key,
            wave_key=wave_key,
            question=question.key,
            by=by,
            today=today,
        )
        rows.extend(_wave_rows(frame, question))
    profile = _profile(session, survey_key, [wave], by)
    notes = [
        *_about(wave, f"Wave {wave.key}, results by {_BREAKDOWN_NAMES[by]}", today),
        *_disclosure_notes([wave]),
        *_release_notes(session, wave),
        _note(
            "Positive % (group)",
            "The share of the group who chose an answer that counts as positive (see the "
            "'Counts as positive' column); empty for a question with no positive answer.",
        ),
        *_question_notes(wave),
        *(_team_notes(session, survey_key, wave) if by == "team" else []),
        *_data_statement(session, survey_key, [wave]),
    ]
    return Export(
        name=f"{survey_key}-{wave.key}-by-{by}",
        tables=_tables(WaveResultRow, rows, profile, notes),
        made_from=key,
    )


def comparison_export(
    *,
    session: Session,
    survey_key: str,
    from_wave: str,
    to_wave: str,
    today: dt.date,
    progress: Progress = _quietly,
) -> Export:
    """Year on year by team, every question the later wave continues, with both waves'
    response profiles."""
    before = released_wave(session=session, survey_key=survey_key, wave_key=from_wave, today=today)
    after = released_wave(session=session, survey_key=survey_key, wave_key=to_wave, today=today)
    key = (
        "compare",
        survey_key,
        today,
        release_fingerprint(session, before),
        release_fingerprint(session, after),
    )
    return _EXPORTS.get_or_make(
        key, lambda: _comparison_export(session, survey_key, before, after, today, progress, key)
    )


def _comparison_export(
    session: Session,
    survey_key: str,
    before: OpenedWave,
    after: OpenedWave,
    today: dt.date,
    progress: Progress,
    key: tuple[Hashable, ...],
) -> Export:
    questions = _reported(after)
    suppressed: set[str] = set()
    for question in progress(questions):  # the comparison itself is quick after this
        _suppress_section(session, [before, after], questions, question, suppressed)
    frame = year_on_year_report(
        session=session, survey_key=survey_key, from_wave=before.key, to_wave=after.key, today=today
    )
    rows = _comparison_rows(frame, after)
    notes = [
        *_about(after, f"Waves {before.key} to {after.key}, year on year by team", today),
        *_disclosure_notes([before, after]),
        _note(
            "Shares and changes",
            "Shares are proportions of the group's base (0 to 1; the spreadsheet shows them "
            "as percentages). Changes are in percentage points, the later wave less the "
            "earlier.",
        ),
        _note(
            "Significance",
            "Whether the positive share's change is statistically significant: a "
            "two-proportion test at 95%, with the finite population correction from each "
            "team's headcount. p is the test's p-value.",
        ),
        *_meanings("No test because", _NO_TEST, frame["no_test_reason"]),
        *_meanings("Lineage", _LINEAGE, frame["lineage"]),
        *_comparison_notes(frame),
        *_lineage_notes(frame),
        *_data_statement(session, survey_key, [before, after]),
    ]
    profile = _profile(session, survey_key, [before, after], "team")
    return Export(
        name=f"{survey_key}-{before.key}-to-{after.key}",
        tables=_tables(ComparisonRow, rows, profile, notes),
        made_from=key,
    )


_EXPORTS: FrozenCache[Export] = FrozenCache(size=16)


def _reported(wave: OpenedWave) -> list[ResolvedQuestion]:
    """The questions with answers to count; free-text answers are never exported."""
    return [question for question in wave.published.questions if question.options]


def _suppress_section(
    session: Session,
    waves: Sequence[OpenedWave],
    questions: Sequence[ResolvedQuestion],
    question: ResolvedQuestion,
    done: set[str],
) -> None:
    """At a section's first question, suppress the whole section in every wave, with the earlier
    questions it continues: one count query per section and wave, where each question's report
    would run its own, and the costly step moves the progress bar. The reports then find each
    question's suppressed results ready."""
    if question.section in done:
        return
    done.add(question.section)
    section = [q for q in questions if q.section == question.section]
    wanted = {q.key for q in section} | {q.continues.question for q in section if q.continues}
    for wave in waves:
        keys = sorted(wanted & {q.key for q in _reported(wave)})
        if keys:
            wave_results(session=session, wave=wave, questions=keys)


def _tables(
    result_type: type[ExportRow],
    results: Sequence[ExportRow],
    profile: Sequence[ExportRow],
    notes: Sequence[ExportRow],
) -> dict[Part, Table]:
    return {
        Part.results: Table(result_type, results),
        Part.response_profile: Table(ProfileRow, profile),
        Part.notes: Table(NoteRow, notes),
    }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Plain values, NA as None, as the API sends them."""
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", force_ascii=False))
    return records


def _figure(shown: str | None) -> Figure:
    """A displayed percentage as a number; a band stays text; the marker becomes no figure."""
    if shown is None or shown == MARKER:
        return None
    try:
        return float(shown)
    except ValueError:
        return shown


def _marker(withheld: bool | None) -> str:
    return MARKER if withheld else ""


def _wave_rows(frame: pd.DataFrame, question: ResolvedQuestion) -> list[WaveResultRow]:
    has_positive = bool(frame["positive"].any())
    return [
        WaveResultRow(
            section=question.section_title,
            wave=row["wave"],
            number=row["number"],
            question=question.text,
            team=row["team"],
            role=row["role"],
            answer=row["label"],
            counts_as_positive=row["positive"],
            base=row["base"],
            count=row["count"],
            share_pct=_figure(row["share_pct"]),
            positive_pct=_figure(row["positive_pct"]) if has_positive else None,
            one_person_pct=_number(_figure(row["one_person_pct"])),
            withheld=_marker(row["withheld"]),
            reason=row["reason"],
        )
        for row in _records(frame)
    ]


def _number(figure: Figure) -> float | None:
    assert not isinstance(figure, str), "a count of one person is never banded"
    return figure


def _comparison_rows(frame: pd.DataFrame, after: OpenedWave) -> list[ComparisonRow]:
    questions = after.published.by_key
    rows = []
    for row in _records(frame):
        question = questions[row["question_after"]]
        rows.append(
            ComparisonRow(
                section=question.section_title,
                waves=row["waves"],
                number=row["number"],
                question=question.text,
                comparability=row["comparability"],
                team=row["group"],
                lineage=row["lineage"],
                answer=row["label_after"] or row["label_before"],
                answer_before=row["label_before"],
                base_before=row["base_before"],
                base_after=row["base_after"],
                share_before=_shown_or_band(row, "share_before", "band_before"),
                share_after=_shown_or_band(row, "share_after", "band_after"),
                change_pp=row["change_pp"],
                positive_share_before=_shown_or_band(
                    row, "positive_share_before", "positive_band_before"
                ),
                positive_share_after=_shown_or_band(
                    row, "positive_share_after", "positive_band_after"
                ),
                positive_change_pp=row["positive_change_pp"],
                p_value=row["p_value"],
                significant=row["significant"],
                withheld_before=_marker(row["reason_before"] == WITHHELD),
                withheld_after=_marker(row["reason_after"] == WITHHELD),
                reason=row["reason"],
                no_test_reason=row["no_test_reason"],
            )
        )
    return rows


def _shown_or_band(row: dict[str, Any], figure: str, band: str) -> Figure:
    value: Figure = row[figure]
    return row[band] if value is None and row[band] not in (None, MARKER) else value


_BREAKDOWN_NAMES = {"team": "team", "role": "role grouping"}
_ALL_GROUPS = {"team": "All teams", "role": "All role groupings"}


def _profile(
    session: Session, survey_key: str, waves: Sequence[OpenedWave], by: ExportBreakdown
) -> list[ExportRow]:
    rows: list[ExportRow] = []
    for wave in waves:
        frame = response_rates(session=session, survey_key=survey_key, wave_key=wave.key, by=by)
        rows.extend(
            ProfileRow(
                wave=wave.key,
                group=_ALL_GROUPS[by] if row["group"] == ALL else row["group"],
                respondents=row["respondents"],
                headcount=row.get("headcount"),
                rate_pct=_number(_figure(row.get("rate_pct"))),
                one_person_pct=_number(_figure(row["one_person_pct"])),
                withheld=_marker(row["withheld"]),
                reason=row["reason"],
            )
            for row in _records(frame)
        )
    return rows


def _note(topic: str, detail: str) -> NoteRow:
    return NoteRow(topic=topic, detail=detail)


def _release_notes(session: Session, wave: OpenedWave) -> list[NoteRow]:
    """Which release the figures are, and per breakdown how many were shown and withheld. Not
    which of the withheld were below k: beside the totals, that would narrow small groups."""
    release = current_release(session, wave)
    notes = [
        _note(
            "Release",
            f"Release {release.number} of wave {wave.key}, made on "
            f"{release.released_at:%-d %B %Y}: every figure in this file is that release's. "
            f"Content hash {release.content_hash}.",
        )
    ]
    for cost in release.cost:
        name = _RELEASE_BREAKDOWNS.get(cost["breakdown"], cost["breakdown"])
        withheld = cost["withheld_below_k"] + cost["withheld_as_complements"]
        notes.append(
            _note(
                f"Figures by {name}",
                f"{cost['shown']} shown, {withheld} withheld (a figure: one question's results "
                "for one group).",
            )
        )
    return notes


_RELEASE_BREAKDOWNS = {
    "respondents": "responses (the response profile)",
    "overall": "all teams",
    "team": "team",
    "linked": "teams split since the last wave, together",
    "role": "role grouping",
    "team,role": "team × role grouping",
}


def _about(wave: OpenedWave, what: str, today: dt.date) -> list[NoteRow]:
    definition = wave.published.definition
    return [
        _note("Survey", f"{definition.survey_title} ({definition.organisation})"),
        _note("This export", what),
        _note("Exported on", f"{today:%-d %B %Y}"),
    ]


def _disclosure_notes(waves: Sequence[OpenedWave]) -> list[NoteRow]:
    thresholds = {wave.key: wave.suppression_threshold for wave in waves}
    k = max(thresholds.values())
    per_wave = "; ".join(f"wave {key}: k = {value}" for key, value in thresholds.items())
    notes = [
        _note(
            "Threshold (k)",
            f"{per_wave}. A group's figures for a question are withheld when fewer than k "
            "people in it answered that question, and a group's number of responses when it "
            "is under k. Further groups are withheld wherever a figure shown beside them would "
            "otherwise let a reader work a withheld one out.",
        ),
        _note(
            f"Withheld marker {MARKER}",
            f"In a Withheld column: this group's figures are withheld (reason '{WITHHELD}'). "
            "Its figure cells are left empty; an empty figure is never 0.",
        ),
        _note(
            f"Reason {WITHHELD}",
            "The group is too small to show, or showing it would reveal a smaller group. Which "
            "of the two is not said: it would tell on which side of k the group lies.",
        ),
        _note(
            "1 person = %",
            "What one respondent is worth in the group's percentages, as the Coventry "
            "reports printed it.",
        ),
    ]
    if any(wave.published.definition.band_small_groups for wave in waves):
        notes += [
            _note(
                f"Band 'fewer than {k}'",
                f"In a share column, for a group of under {2 * k}: at most half of the group, "
                f"and fewer than {k} people, chose this answer. The exact share is not shown.",
            ),
            _note(
                f"Band 'all but fewer than {k}'",
                f"In a share column, for a group of under {2 * k}: more than half of the "
                f"group chose this answer, and fewer than {k} people did not.",
            ),
            _note(
                f"Reason {BANDED}",
                "No change or test: the group shows bands, not shares, in one of the waves.",
            ),
        ]
    return notes


_COMPARABILITY = {
    COMPARABLE_WITH_NOTE: "comparable, with a note",
    NOT_COMPARABLE: "not comparable: shown side by side, with no change and no test",
}


def _comparability(kind: str, note: str | None) -> str:
    return f"{_COMPARABILITY[kind]}. {note or ''}".strip()


def _question_notes(wave: OpenedWave) -> list[NoteRow]:
    """How each question relates to the previous version's, where that matters."""
    definition = wave.published.definition
    notes = []
    if definition.previous_version is not None:
        for question in _reported(wave):
            if question.continues is None:
                notes.append(
                    _note(f"Question {question.number}", f"New in version {definition.version}.")
                )
            elif question.continues.comparability != COMPARABLE:
                comparability = _comparability(
                    question.continues.comparability, question.continues.note
                )
                notes.append(
                    _note(
                        f"Question {question.number}",
                        f"Against version {definition.previous_version}: {comparability}",
                    )
                )
    if len(_reported(wave)) < len(wave.published.questions):
        notes.append(_note("Free-text answers", "Not exported."))
    return notes


def _team_notes(session: Session, survey_key: str, wave: OpenedWave) -> list[NoteRow]:
    """Teams that succeed other teams (split, merged), and the unions shown for them."""
    notes = []
    for team in team_lineages(session=session, survey_key=survey_key, wave_key=wave.key):
        if team.came_from:
            earlier = " and ".join(f"{ref.name} (wave {ref.wave})" for ref in team.came_from)
            detail = (
                f"These teams together, shown as one group beside {earlier}, which they succeed."
                if team.linked
                else f"Succeeds {earlier}."
            )
            notes.append(_note(team.name, detail))
    return notes


_NO_TEST = {
    NOT_COMPARABLE: "the question's answers changed between the waves.",
    NO_COUNTERPART: "the team has no counterpart in the other wave.",
    WITHHELD: "a figure it needs is withheld.",
    NO_POSITIVE_OPTION: "the question has no positive answer to compare.",
    BASE_BELOW_K: "a base is under k.",
    HEADCOUNT_BELOW_BASE: "more answered than the recorded headcount, so the correction is "
    "unknown.",
}
_LINEAGE = {
    OVERALL: "all teams together.",
    CONTINUES: "the same team in both waves.",
    SPLIT: "the union of the later teams that succeed one earlier team, against it.",
    MERGED: "a later team that succeeds several earlier teams, against their union.",
    REGROUPED: "later teams against the earlier teams they together succeed.",
    NEW: "a team with no predecessor: later wave only.",
    ENDED: "a team with no successor: earlier wave only.",
}


def _meanings(column: str, meanings: dict[str, str], values: pd.Series) -> list[NoteRow]:
    """What each value found in a column means."""
    found = set(values.dropna())
    return [_note(f"{column}: {value}", text) for value, text in meanings.items() if value in found]


def _comparison_notes(frame: pd.DataFrame) -> list[NoteRow]:
    marked = frame.loc[frame["comparability"] != COMPARABLE]
    marked = marked.drop_duplicates("question_after")
    return [
        _note(f"Question {row['number']}", _comparability(row["comparability"], row["note"]))
        for row in _records(marked)
    ]


def _lineage_notes(frame: pd.DataFrame) -> list[NoteRow]:
    changed = frame.loc[~frame["lineage"].isin([OVERALL, CONTINUES])]
    return [
        _note(str(row.group), f"{row.lineage}: {_LINEAGE[str(row.lineage)]}")
        for row in changed.drop_duplicates("group").itertuples()
    ]


ANONYMITY = (
    "Each response is stored with a random id, its wave, team, role grouping, answers and the "
    "date it was sent (no time of day). Never a name, email address, staff number, IP address, "
    "browser or access code; access codes are kept only as hashes, never linked to a response."
)


def _data_statement(
    session: Session, survey_key: str, waves: Sequence[OpenedWave]
) -> list[NoteRow]:
    notes = []
    for wave in waves:
        rates = response_rates(session=session, survey_key=survey_key, wave_key=wave.key, by="team")
        total = next(row for row in _records(rates) if row["group"] == ALL)
        responded = (
            f"{total['respondents']} of {total['headcount']} staff responded "
            f"({total['rate_pct']}%)."
            if not total["withheld"]
            else "How many responded is withheld: fewer than k."
        )
        notes.append(
            _note(
                f"Wave {wave.key}",
                f"Open from {wave.opens_on:%-d %B %Y} to {wave.closes_on:%-d %B %Y} "
                f"(questionnaire version {wave.published.version_key}). {responded}",
            )
        )
    notes += [
        _note("What is stored", ANONYMITY),
        _note(
            "What this file holds",
            "Figures for groups only, after the same suppression as the results pages: no "
            "single response and no free-text answer.",
        ),
    ]
    return notes
