"""Scrutiny pages: overview, year on year, team and consistency, with charts and tables.

Every figure comes from `app.reports.service`, suppressed; these routes only choose what to ask
for and lay it out. Each chart is a plotly figure in a JSON block that /static/charts.js draws,
with a table of the same figures and a sentence per figure beside it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from analysis import charts
from analysis.compare import NO_POSITIVE_OPTION, NOT_COMPARABLE, OVERALL
from analysis.disclosure import ALL
from app.accounts.deps import require_role
from app.accounts.models import Role, User
from app.config import Settings
from app.dashboards import views
from app.deps import SessionDep, SettingsDep, TodayDep, commits_in_thread
from app.reports.progress import wave_progress
from app.reports.service import (
    Comparison,
    ResultsNotReleased,
    SurveyOutline,
    ViewRefused,
    comparison_filters,
    consistency_report,
    indicators_report,
    released_wave,
    response_profile_by_wave,
    response_rates,
    survey_outline,
    survey_outlines,
    team_lineages,
    team_report,
    year_on_year_report,
)
from app.surveys.service import NotFound
from app.web import staff_page

_reader = require_role(Role.scrutiny, Role.hr, Role.admin)
Reader = Annotated[User, Depends(_reader)]

router = APIRouter(include_in_schema=False, dependencies=[Depends(_reader)])

ALL_TEAMS = "All teams"


def _page(
    request: Request,
    settings: Settings,
    user: User,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    downloads = user.has_role(Role.hr, Role.admin)
    return staff_page(
        request,
        settings,
        f"dashboards/{template}",
        {"downloads": downloads, **context},
        user=user,
        status_code=status_code,
    )


def _not_released(
    request: Request, settings: Settings, user: User, survey: str, error: ResultsNotReleased
) -> HTMLResponse:
    return _page(
        request, settings, user, "not_released.html", {"survey": survey, "message": str(error)}
    )


@router.get("/results", response_class=HTMLResponse)
@commits_in_thread
def surveys(
    request: Request, session: SessionDep, settings: SettingsDep, today: TodayDep, user: Reader
) -> HTMLResponse:
    outlines = survey_outlines(session=session, today=today)
    return _page(request, settings, user, "surveys.html", {"outlines": outlines})


@router.get("/results/{survey}", response_class=HTMLResponse)
@commits_in_thread
def overview(
    request: Request,
    survey: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    user: Reader,
) -> HTMLResponse:
    outline = survey_outline(session=session, survey_key=survey, today=today)
    profile = response_profile_by_wave(session=session, survey_key=survey, today=today)
    indicators = indicators_report(session=session, survey_key=survey, today=today)
    context: dict[str, Any] = {
        "outline": outline,
        "survey": survey,
        "comparisons": [],
        "so_far": {},
    }
    if not profile.empty:
        # An open wave's counts so far are told as its total beside the wave; its teams'
        # rates would mostly be withheld until enough have answered.
        closed = profile[profile["state"] == "closed"]
        totals = profile[(profile["state"] == "open") & (profile["team"] == ALL)]
        context["so_far"] = {row["wave"]: views.so_far(row) for row in totals.to_dict("records")}
        if not closed.empty:
            context["profile_chart"] = views.chart(
                "response-rates",
                charts.response_rates_by_wave(
                    closed, title="Response rate by team and wave", total_label=ALL_TEAMS
                ),
                views.profile_summary(closed),
            )
            context["profile_table"] = views.profile_table(closed, total_label=ALL_TEAMS)
    if not indicators.empty:
        context["indicators_chart"] = views.chart(
            "indicators",
            charts.indicators_against_targets(indicators, title="Indicators against their targets"),
            views.indicators_summary(indicators),
        )
        context["indicators_table"] = views.indicators_table(indicators)
    indicator_questions = list(dict.fromkeys(indicators["question"]))
    for comparison in reversed(outline.comparisons):
        context["comparisons"].append(
            _changes(session, outline, comparison, today=today, indicators=indicator_questions)
        )
    return _page(request, settings, user, "overview.html", context)


def _changes(
    session: Session,
    outline: SurveyOutline,
    comparison: Comparison,
    *,
    today: dt.date,
    indicators: list[str],
) -> dict[str, Any]:
    """What changed significantly between two waves, and each team on the indicators."""
    waves = (comparison.from_wave, comparison.to_wave)
    compared = year_on_year_report(
        session=session,
        survey_key=outline.key,
        from_wave=comparison.from_wave,
        to_wave=comparison.to_wave,
        today=today,
    )
    version = _version(outline, comparison.to_wave)
    texts = _texts(outline, version)
    overall = compared[compared["lineage"] == OVERALL]
    changed = overall[overall["significant"].fillna(False).astype(bool)]
    compare_url = _compare_url(outline.key, comparison)
    sections = {q.key: s.key for s in outline.sections[version] for q in s.questions}
    links = {key: f"{compare_url}&section={section}" for key, section in sections.items()}
    slug = f"{comparison.from_wave}-{comparison.to_wave}"
    title = f"Questions that changed significantly, {waves[0]} to {waves[1]}"
    result: dict[str, Any] = {
        "comparison": comparison,
        "url": compare_url,
        "sections": outline.sections[version],
        "changed": len(views.question_rows(changed)),
        "chart": views.chart(
            f"changes-{slug}",
            charts.positive_share_by_wave(changed, waves=waves, title=title),
            " ".join(
                views.change_sentence(row, waves) + "." for row in views.question_rows(changed)
            ),
        ),
        "table": views.changes_table(
            f"changes-table-{slug}", title, changed, waves=waves, texts=texts, link=links
        ),
    }
    teams = compared[
        compared["question_after"].isin(indicators) & (compared["comparability"] != NOT_COMPARABLE)
    ]
    if not teams.empty:
        result["teams_table"] = views.groups_table(
            f"indicator-teams-{slug}",
            f"Each team on the indicators, {waves[0]} to {waves[1]} (positive share)",
            teams,
            waves=waves,
            texts=texts,
            team_url=f"/results/{outline.key}/waves/{comparison.to_wave}/teams/",
        )
    return result


def _version(outline: SurveyOutline, wave: str) -> str:
    return next(w.version for w in outline.waves if w.key == wave)


def _texts(outline: SurveyOutline, version: str) -> dict[str, str]:
    """Each question's wording as asked: a grid item after its grid's shared heading."""
    return {
        q.key: f"{q.stem} {q.text}" if q.stem and not q.text[:1].isupper() else q.text
        for section in outline.sections.get(version, [])
        for q in section.questions
    }


def _compare_url(survey: str, comparison: Comparison) -> str:
    return f"/results/{survey}/compare?from={comparison.from_wave}&to={comparison.to_wave}"


@router.get("/results/{survey}/compare", response_class=HTMLResponse)
@commits_in_thread
def compare(
    request: Request,
    survey: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    user: Reader,
    from_wave: Annotated[str | None, Query(alias="from")] = None,
    to_wave: Annotated[str | None, Query(alias="to")] = None,
    section: str | None = None,
    team: str | None = None,
    role: str | None = None,
) -> HTMLResponse:
    outline = survey_outline(session=session, survey_key=survey, today=today)
    if from_wave is None or to_wave is None:
        if not outline.comparisons:
            raise NotFound(f"survey {survey!r} has no two closed waves to compare")
        from_wave, to_wave = outline.comparisons[-1].from_wave, outline.comparisons[-1].to_wave
    comparison = Comparison(from_wave=from_wave, to_wave=to_wave)
    try:
        filters = comparison_filters(
            session=session, survey_key=survey, from_wave=from_wave, to_wave=to_wave, today=today
        )
    except ResultsNotReleased as error:
        return _not_released(request, settings, user, survey, error)
    sections = outline.sections[_version(outline, to_wave)]
    # Without a section, the first with a positive share to compare ("About you" has none).
    first = next((s for s in sections if any(q.has_positive for q in s.questions)), sections[0])
    chosen = next((s for s in sections if s.key == section), None if section else first)
    if chosen is None:
        raise NotFound(f"wave {to_wave} has no section {section!r}")
    team, role = team or None, role or None
    if team is not None:
        # A team of a split is compared as its predecessor's successors together.
        team = next((key for key, _ in filters.teams if team in key.split("+")), team)
    errors = []
    if team is not None and team not in dict(filters.teams):
        errors.append({"field_id": "team", "message": "Choose a team from the list"})
    if role is not None and role not in dict(filters.roles):
        errors.append({"field_id": "role", "message": "Choose a role grouping from the list"})
    waves = (from_wave, to_wave)
    context: dict[str, Any] = {
        "survey": survey,
        "outline": outline,
        "comparison": comparison,
        "url": _compare_url(survey, comparison),
        "sections": sections,
        "section": chosen,
        "filters": filters,
        "team": team,
        "role": role,
    }
    compared = None
    if not errors:
        try:
            compared = year_on_year_report(
                session=session,
                survey_key=survey,
                from_wave=from_wave,
                to_wave=to_wave,
                section=chosen.key,
                team=team,
                role=role,
                today=today,
            )
        except ViewRefused as refused:
            errors.append({"field_id": "team" if team else "role", "message": str(refused)})
    if compared is not None:
        if team is None and role is None:
            compared = compared[compared["lineage"] == OVERALL]
        context |= _section_comparison(
            compared, waves=waves, texts=_texts(outline, _version(outline, to_wave))
        )
    return _page(
        request,
        settings,
        user,
        "compare.html",
        {**context, "errors": errors},
        status_code=422 if errors else 200,
    )


def _section_comparison(
    compared: pd.DataFrame, *, waves: tuple[str, str], texts: dict[str, str]
) -> dict[str, Any]:
    """One group's comparison for a section: a chart and table of the questions with a
    positive share to compare, then each other question's answers side by side."""
    group = str(compared["group"].iloc[0]) if len(compared) else ALL_TEAMS
    side_by_side = (compared["comparability"] == NOT_COMPARABLE) | (
        compared["no_test_reason"].astype(object) == NO_POSITIVE_OPTION
    )
    comparable = compared[~side_by_side]
    title = f"Answering positively, {waves[0]} and {waves[1]}: {group}"
    context: dict[str, Any] = {"group": group}
    if not comparable.empty:
        rows = views.question_rows(comparable)
        context["chart"] = views.chart(
            "positive-share",
            charts.positive_share_by_wave(comparable, waves=waves, title=title),
            " ".join(views.change_sentence(row, waves) + "." for row in rows),
        )
        context["table"] = views.changes_table(
            "positive-share-table", title, comparable, waves=waves, texts=texts
        )
        context["notes"] = [
            (row["number"], row["note"])
            for row in rows
            if isinstance(row["note"], str) and row["note"] not in ("", "None", "nan")
        ]
    context["side_by_side"] = []
    for key, rows_of in compared[side_by_side].groupby("question_after", sort=False):
        first = rows_of.iloc[0]
        number = str(first["number"])
        question = f"{number} {texts.get(str(key), '')}".strip()
        not_comparable = first["comparability"] == NOT_COMPARABLE
        note = (
            f"Not comparable: {first['note']}"
            if not_comparable
            else "No answer to this question counts as positive: each answer's share is shown."
        )
        context["side_by_side"].append(
            {
                "question": question,
                "note": note,
                "chart": views.chart(
                    f"answers-{views.slug(number)}",
                    charts.not_comparable_side_by_side(
                        rows_of, waves=waves, title=f"{question}: answers in each wave"
                    ),
                    views.change_sentence(first.to_dict(), waves) + ".",
                ),
                "table": views.options_table(
                    f"answers-table-{views.slug(number)}",
                    f"{question}: answers in {waves[0]} and {waves[1]}, {group}",
                    rows_of,
                    waves,
                ),
            }
        )
    return context


@router.get("/results/{survey}/waves/{wave}/progress", response_class=HTMLResponse)
@commits_in_thread
def progress(
    request: Request,
    survey: str,
    wave: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    user: Reader,
) -> HTMLResponse:
    """Responses so far by team: counted at the start of the day while the wave is open."""
    outline = survey_outline(session=session, survey_key=survey, today=today)
    counted = wave_progress(session=session, survey_key=survey, wave_key=wave, today=today)
    label = (
        f"Counted on {counted.counted_on:%-d %B %Y}"
        if counted.counted_on
        else f"Wave {counted.wave}, closed"
    )
    return _page(
        request,
        settings,
        user,
        "progress.html",
        {
            "survey": survey,
            "outline": outline,
            "progress": counted,
            "chart": views.chart(
                "progress-chart",
                charts.response_rates_by_wave(
                    views.progress_frame(counted, label),
                    title="Response rate so far by team",
                    total_label=ALL_TEAMS,
                ),
                views.progress_summary(counted),
            ),
            "table": views.progress_table(counted, total_label=ALL_TEAMS),
            "admin": user.has_role(Role.admin),
        },
    )


@router.get("/results/{survey}/waves/{wave}/teams", response_class=HTMLResponse)
@commits_in_thread
def teams(
    request: Request,
    survey: str,
    wave: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    user: Reader,
) -> HTMLResponse:
    try:
        released_wave(session=session, survey_key=survey, wave_key=wave, today=today)
    except ResultsNotReleased as error:
        return _not_released(request, settings, user, survey, error)
    outline = survey_outline(session=session, survey_key=survey, today=today)
    rates = response_rates(session=session, survey_key=survey, wave_key=wave, by="team")
    lineages = team_lineages(session=session, survey_key=survey, wave_key=wave)
    return _page(
        request,
        settings,
        user,
        "teams.html",
        {
            "survey": survey,
            "outline": outline,
            "wave": wave,
            "table": views.teams_table(
                rates, lineages, team_url=f"/results/{survey}/waves/{wave}/teams/"
            ),
        },
    )


@router.get("/results/{survey}/waves/{wave}/teams/{team_key}", response_class=HTMLResponse)
@commits_in_thread
def team(
    request: Request,
    survey: str,
    wave: str,
    team_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    user: Reader,
) -> HTMLResponse:
    try:
        rows = team_report(
            session=session, survey_key=survey, wave_key=wave, today=today, team=team_key
        )
    except ResultsNotReleased as error:
        return _not_released(request, settings, user, survey, error)
    outline = survey_outline(session=session, survey_key=survey, today=today)
    lineage = next(
        t
        for t in team_lineages(session=session, survey_key=survey, wave_key=wave)
        if t.key == team_key
    )
    version = _version(outline, wave)
    texts = _texts(outline, version)
    closed = {w.key for w in outline.waves if w.state == "closed"}
    sections = []
    for section in outline.sections[version]:
        keys = [q.key for q in section.questions if q.has_positive]
        rows_of = rows[rows["question"].isin(keys)]
        if rows_of.empty:
            continue
        title = f"{section.title}: {lineage.name} against all teams, {wave}"
        sentences = [
            views.team_sentence(row)
            for row in rows_of.to_dict("records")
            if row["withheld"] or pd.notna(row["overall_positive_share"])
        ]
        sections.append(
            {
                "section": section,
                "chart": views.chart(
                    f"team-{section.key}",
                    charts.team_against_overall(rows_of, team=lineage.name, title=title),
                    "; ".join(sentences) + ".",
                ),
                "table": views.team_table(
                    f"team-table-{section.key}", title, rows_of, texts=texts, team=lineage.name
                ),
            }
        )
    compare_with = next((c for c in outline.comparisons if c.to_wave == wave), None)
    return _page(
        request,
        settings,
        user,
        "team.html",
        {
            "survey": survey,
            "outline": outline,
            "wave": wave,
            "lineage": lineage,
            "closed": closed,
            "sections": sections,
            "compare_url": (
                f"{_compare_url(survey, compare_with)}&team={quote(team_key, safe='')}"
                if compare_with
                else None
            ),
        },
    )


@router.get("/results/{survey}/waves/{wave}/consistency", response_class=HTMLResponse)
@commits_in_thread
def consistency(
    request: Request,
    survey: str,
    wave: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    user: Reader,
) -> HTMLResponse:
    try:
        spread = consistency_report(session=session, survey_key=survey, wave_key=wave, today=today)
    except ResultsNotReleased as error:
        return _not_released(request, settings, user, survey, error)
    outline = survey_outline(session=session, survey_key=survey, today=today)
    version = _version(outline, wave)
    texts = _texts(outline, version)
    sections = []
    for section in outline.sections[version]:
        rows_of = spread[
            spread["question"].isin([q.key for q in section.questions if q.has_positive])
        ]
        if rows_of.empty:
            continue
        title = f"{section.title}: how far apart the teams are, {wave}"
        sections.append(
            {
                "section": section,
                "chart": views.chart(
                    f"consistency-{section.key}",
                    charts.consistency_spread(rows_of, title=title),
                    " ".join(
                        views.consistency_sentence(row) + "." for row in rows_of.to_dict("records")
                    ),
                ),
                "table": views.consistency_table(
                    f"consistency-table-{section.key}", title, rows_of, texts=texts
                ),
            }
        )
    return _page(
        request,
        settings,
        user,
        "consistency.html",
        {"survey": survey, "outline": outline, "wave": wave, "sections": sections},
    )
