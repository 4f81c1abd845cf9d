"""A wave's year: create it from a published version, open and close it, set its threshold and
headcounts before its results can be shown, and issue its access codes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.accounts.models import User
from app.admin.audit import AuditAction, record
from app.admin.headcounts import FILE_FIELD, HeadcountFile, WaveTeam, read_headcounts
from app.admin.service import (
    THRESHOLD_LIMITS,
    ActionRefused,
    WaveSummary,
    close_wave,
    create_wave,
    open_wave,
    save_headcounts,
    set_team_role_breakdown,
    set_threshold,
    wave_summary,
)
from app.admin.web import (
    AdminUser,
    FormDep,
    FormError,
    UploadRefused,
    admin_page,
    form_text,
    form_texts,
    read_upload,
)
from app.config import Settings
from app.deps import SessionDep, SettingsDep, TodayDep, commits_in_thread
from app.models import Headcount, Survey, SurveyVersion, Team, Wave
from app.responses.codes import issue_codes

router = APIRouter()

WAVE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
"""As a version key: it appears in addresses (/s/{survey}/{wave})."""
HEADCOUNT_FILE_MAX_BYTES = 64 * 1024
MAX_CODES_AT_ONCE = 5000
"""More at once would make an unwieldy page; `supervision-survey codes issue` writes a file."""


def _wave(survey: str, wave: str, session: SessionDep, today: TodayDep) -> WaveSummary:
    """The wave named in the address (404 when there is none)."""
    return wave_summary(session=session, survey_key=survey, wave_key=wave, today=today)


WaveDep = Annotated[WaveSummary, Depends(_wave)]


def wave_url(summary: WaveSummary, page: str = "") -> str:
    return f"/admin/surveys/{summary.survey_key}/waves/{summary.wave.key}{page}"


def _redirect(url: str, done: str) -> RedirectResponse:
    return RedirectResponse(f"{url}?done={done}", status_code=303)


# ------------------------------------------------------------------------- creating a wave


def _published_versions(session: Session) -> list[tuple[str, str]]:
    """("survey/version", label) for every published version, newest last."""
    rows = session.execute(
        select(Survey.key, Survey.title, SurveyVersion.key, SurveyVersion.title)
        .join(SurveyVersion, SurveyVersion.survey_id == Survey.id)
        .order_by(Survey.key, SurveyVersion.key)
    )
    return [
        (f"{survey}/{version}", f"{survey_title}: version {version} ({version_title})")
        for survey, survey_title, version, version_title in rows
    ]


TITLE_LENGTH = 200


def _new_wave_page(
    request: Request,
    settings: Settings,
    user: User,
    session: Session,
    values: dict[str, Any],
    errors: Sequence[FormError] = (),
) -> HTMLResponse:
    return admin_page(
        request,
        settings,
        "admin/wave_new.html",
        {"versions": _published_versions(session), "values": values},
        user=user,
        errors=errors,
    )


@router.get("/waves/new", response_class=HTMLResponse)
def new_wave_page(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminUser
) -> HTMLResponse:
    return _new_wave_page(request, settings, user, session, {"codes": "yes"})


def _date(form: FormData, field: str, label: str, errors: list[FormError]) -> dt.date | None:
    written = form_text(form, field)
    if not written:
        errors.append(FormError(field, f"Enter the date the wave {label}"))
        return None
    try:
        return dt.date.fromisoformat(written)
    except ValueError:
        errors.append(FormError(field, f"The date the wave {label} must be a real date"))
        return None


@router.post("/waves", response_class=HTMLResponse)
@commits_in_thread
def create(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminUser, form: FormDep
) -> Response:
    values = {
        name: form_text(form, name)
        for name in ("version", "key", "title", "opens_on", "closes_on", "codes", "open_link")
    }
    errors: list[FormError] = []
    survey_key, _, version_key = values["version"].partition("/")
    if values["version"] not in dict(_published_versions(session)):
        errors.append(FormError("version", "Choose the published version the wave asks"))
    if not WAVE_KEY.fullmatch(values["key"]):
        errors.append(
            FormError(
                "key",
                "Enter a wave key of up to 32 letters, digits, dots, dashes or underscores, "
                "starting with a letter or digit, such as 2016",
            )
        )
    elif session.scalar(
        select(Wave.id).join(Survey).where(Survey.key == survey_key, Wave.key == values["key"])
    ):
        errors.append(FormError("key", f"{survey_key} already has a wave {values['key']}"))
    opens_on = _date(form, "opens_on", "opens", errors)
    closes_on = _date(form, "closes_on", "closes", errors)
    if opens_on and closes_on and closes_on < opens_on:
        errors.append(FormError("closes_on", "The wave must close on or after the day it opens"))
    if len(values["title"]) > TITLE_LENGTH:
        errors.append(FormError("title", f"Enter a title of {TITLE_LENGTH} characters or fewer"))
    if values["codes"] not in ("yes", "no"):
        errors.append(FormError("codes", "Choose whether respondents need an access code"))
    elif values["codes"] == "no" and values["open_link"] != "yes":
        errors.append(
            FormError(
                "open_link",
                "Confirm that anyone with the link may respond, or require access codes",
            )
        )
    if errors or opens_on is None or closes_on is None:
        return _new_wave_page(request, settings, user, session, values, errors)
    wave = create_wave(
        session=session,
        actor=user,
        survey_key=survey_key,
        wave_key=values["key"],
        version_key=version_key,
        opens_on=opens_on,
        closes_on=closes_on,
        access_codes_required=values["codes"] == "yes",
        title=values["title"] or None,
    )
    return _redirect(f"/admin/surveys/{survey_key}/waves/{wave.key}", "created")


# ------------------------------------------------------------------------- one wave


def _wave_page(
    request: Request,
    settings: Settings,
    user: User,
    summary: WaveSummary,
    errors: Sequence[FormError] = (),
    threshold: str = "",
) -> HTMLResponse:
    return admin_page(
        request,
        settings,
        "admin/wave.html",
        {
            "summary": summary,
            "threshold": threshold or str(summary.wave.suppression_threshold),
            "threshold_limits": THRESHOLD_LIMITS,
        },
        user=user,
        errors=errors,
    )


@router.get("/surveys/{survey}/waves/{wave}", response_class=HTMLResponse)
def wave_page(
    request: Request, summary: WaveDep, session: SessionDep, settings: SettingsDep, user: AdminUser
) -> HTMLResponse:
    return _wave_page(request, settings, user, summary)


@router.post("/surveys/{survey}/waves/{wave}/open", response_class=HTMLResponse)
@commits_in_thread
def open_(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    try:
        open_wave(session=session, summary=summary, actor=user)
    except ActionRefused as refused:
        return _wave_page(request, settings, user, summary, [FormError("status", str(refused))])
    return _redirect(wave_url(summary), "opened")


@router.post("/surveys/{survey}/waves/{wave}/close", response_class=HTMLResponse)
@commits_in_thread
def close(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    if form_text(form, "confirm") != "yes":
        error = FormError("confirm", "Confirm that unfinished drafts will be deleted")
        return _wave_page(request, settings, user, summary, [error])
    try:
        close_wave(session=session, summary=summary, actor=user)
    except ActionRefused as refused:
        return _wave_page(request, settings, user, summary, [FormError("status", str(refused))])
    return _redirect(wave_url(summary), "closed")


@router.post("/surveys/{survey}/waves/{wave}/threshold", response_class=HTMLResponse)
@commits_in_thread
def threshold(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    written = form_text(form, "threshold")
    low, high = THRESHOLD_LIMITS
    if not re.fullmatch(r"[0-9]{1,6}", written):
        error = FormError(
            "threshold", f"Enter the threshold as a whole number from {low} to {high}"
        )
        return _wave_page(request, settings, user, summary, [error], written)
    try:
        set_threshold(session=session, summary=summary, threshold=int(written))
    except ActionRefused as refused:
        error = FormError("threshold", str(refused))
        return _wave_page(request, settings, user, summary, [error], written)
    record(
        session=session,
        actor=user,
        action=AuditAction.threshold_set,
        target=summary.target,
        threshold_before=summary.wave.suppression_threshold,
        threshold=int(written),
    )
    return _redirect(wave_url(summary), "threshold")


@router.post("/surveys/{survey}/waves/{wave}/breakdowns", response_class=HTMLResponse)
@commits_in_thread
def breakdowns(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    chosen = form_texts(form, "breakdowns")
    if not set(chosen) <= {"team_role"}:
        error = FormError("breakdowns", "Choose the breakdowns from the list")
        return _wave_page(request, settings, user, summary, [error])
    try:
        set_team_role_breakdown(
            session=session, summary=summary, on="team_role" in chosen, actor=user
        )
    except ActionRefused as refused:
        error = FormError("breakdowns", str(refused))
        return _wave_page(request, settings, user, summary, [error])
    return _redirect(wave_url(summary), "breakdowns")


# ------------------------------------------------------------------------- headcounts


def _wave_teams(session: Session, summary: WaveSummary) -> list[WaveTeam]:
    rows = session.execute(
        select(Team.id, Team.key, Team.name, func.coalesce(Headcount.headcount, Team.headcount))
        .outerjoin(
            Headcount, (Headcount.team_id == Team.id) & (Headcount.wave_id == summary.wave.id)
        )
        .where(Team.version_id == summary.wave.published.version_id)
        .order_by(Team.position)
    )
    return [WaveTeam(id_, key, name, headcount) for id_, key, name, headcount in rows]


def _headcounts_page(
    request: Request,
    settings: Settings,
    user: User,
    session: Session,
    summary: WaveSummary,
    *,
    preview: HeadcountFile | None = None,
    content: str | None = None,
    errors: Sequence[FormError] = (),
) -> HTMLResponse:
    """The wave's headcounts now, the upload form, and a file's preview; `content` is the
    previewed file's text, sent back by the confirm button when it has no errors."""
    teams = _wave_teams(session, summary)
    return admin_page(
        request,
        settings,
        "admin/headcounts.html",
        {
            "summary": summary,
            "teams": teams,
            "total_headcount": sum(team.headcount for team in teams),
            "preview": preview,
            "content": content,
        },
        user=user,
        errors=errors,
    )


@router.get("/surveys/{survey}/waves/{wave}/headcounts", response_class=HTMLResponse)
def headcounts_page(
    request: Request, summary: WaveDep, session: SessionDep, settings: SettingsDep, user: AdminUser
) -> HTMLResponse:
    return _headcounts_page(request, settings, user, session, summary)


@router.post("/surveys/{survey}/waves/{wave}/headcounts/preview", response_class=HTMLResponse)
def preview_headcounts(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> HTMLResponse:
    """Nothing is saved here: the preview's confirm button sends the file's text back."""
    try:
        upload = read_upload(form, FILE_FIELD, max_bytes=HEADCOUNT_FILE_MAX_BYTES, kind="CSV")
    except UploadRefused as refused:
        error = FormError(FILE_FIELD, str(refused))
        return _headcounts_page(request, settings, user, session, summary, errors=[error])
    preview = read_headcounts(upload.text, _wave_teams(session, summary))
    return _headcounts_page(
        request,
        settings,
        user,
        session,
        summary,
        preview=preview,
        content=upload.text,
        errors=preview.errors,
    )


@router.post("/surveys/{survey}/waves/{wave}/headcounts", response_class=HTMLResponse)
@commits_in_thread
def save(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    back = wave_url(summary, "/headcounts")
    source = form.get("content")
    if not isinstance(source, str) or len(source.encode()) > HEADCOUNT_FILE_MAX_BYTES:
        error = FormError(FILE_FIELD, "Choose a CSV file")
        return _headcounts_page(request, settings, user, session, summary, errors=[error])
    preview = read_headcounts(source, _wave_teams(session, summary))
    if preview.errors:
        return _headcounts_page(
            request, settings, user, session, summary, preview=preview, errors=preview.errors
        )
    headcounts = preview.headcounts()
    try:
        save_headcounts(session=session, summary=summary, headcounts=headcounts)
    except ActionRefused as refused:
        error = FormError(FILE_FIELD, str(refused))
        return _headcounts_page(request, settings, user, session, summary, errors=[error])
    record(
        session=session,
        actor=user,
        action=AuditAction.headcounts_saved,
        target=summary.target,
        teams=len(headcounts),
        total=sum(headcounts.values()),
    )
    return _redirect(back, "saved")


# ------------------------------------------------------------------------- access codes


def _codes_refusal(summary: WaveSummary) -> str | None:
    if not summary.wave.access_codes_required:
        return (
            f"Wave {summary.wave.key} does not ask for access codes: anyone with its link can "
            "answer. Codes are chosen when a wave is created."
        )
    if summary.state == "closed":
        return f"Wave {summary.wave.key} is closed: nobody can use a code any more."
    return None


def _codes_page(
    request: Request,
    settings: Settings,
    user: User,
    summary: WaveSummary,
    errors: Sequence[FormError] = (),
    count: str = "",
) -> HTMLResponse:
    return admin_page(
        request,
        settings,
        "admin/codes.html",
        {
            "summary": summary,
            "refusal": _codes_refusal(summary),
            "count": count,
            "max_codes": MAX_CODES_AT_ONCE,
        },
        user=user,
        errors=errors,
    )


@router.get("/surveys/{survey}/waves/{wave}/codes", response_class=HTMLResponse)
def codes_page(
    request: Request, summary: WaveDep, session: SessionDep, settings: SettingsDep, user: AdminUser
) -> HTMLResponse:
    return _codes_page(request, settings, user, summary)


@router.post("/surveys/{survey}/waves/{wave}/codes", response_class=HTMLResponse)
@commits_in_thread
def issue(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> Response:
    """The codes are on this response only: it is not a redirect, and nothing keeps them."""
    written = form_text(form, "count")
    refusal = _codes_refusal(summary)
    if refusal is not None:
        return _codes_page(request, settings, user, summary, [FormError("count", refusal)])
    if not re.fullmatch(r"[0-9]{1,6}", written) or not 1 <= int(written) <= MAX_CODES_AT_ONCE:
        error = FormError(
            "count", f"Enter how many codes to make, a whole number from 1 to {MAX_CODES_AT_ONCE:,}"
        )
        return _codes_page(request, settings, user, summary, [error], written)
    wave = session.get_one(Wave, summary.wave.id)
    codes = issue_codes(session=session, wave=wave, count=int(written))
    record(
        session=session,
        actor=user,
        action=AuditAction.codes_issued,
        target=summary.target,
        count=len(codes),
    )
    return admin_page(
        request,
        settings,
        "admin/codes_issued.html",
        {"summary": summary, "codes": codes, "csv": _codes_csv(codes)},
        user=user,
    )


def _codes_csv(codes: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["code"])
    writer.writerows([code] for code in codes)
    return buffer.getvalue()
