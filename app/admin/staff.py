"""A wave's staff list on the admin pages: upload it (with a preview), send the invitations and
reminders, and see per team who is yet to answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.accounts.models import User
from app.admin.service import WaveSummary
from app.admin.waves import WaveDep, wave_url
from app.admin.web import (
    AdminUser,
    FormDep,
    FormError,
    UploadRefused,
    admin_page,
    read_upload,
)
from app.config import Settings
from app.deps import SessionDep, SettingsDep, TodayDep, commits_in_thread
from app.fieldwork.mail import MailNotConfigured
from app.fieldwork.service import (
    StaffListRefused,
    deliver,
    import_staff_list,
    list_by_team,
    plan_mailing,
    staff_list,
    wave_teams,
)
from app.fieldwork.staff_list import StaffList, read_staff_list

router = APIRouter()

FILE_FIELD = "staff"
STAFF_FILE_MAX_BYTES = 200 * 1024
"""Under the request limit: about 5,000 people. A longer list goes through
`supervision-survey invitations import`."""
PREVIEW_ROWS = 50


def _staff_page(
    request: Request,
    settings: Settings,
    user: User,
    session: Session,
    summary: WaveSummary,
    *,
    preview: StaffList | None = None,
    content: str | None = None,
    errors: Sequence[FormError] = (),
    sent: dict[str, Any] | None = None,
) -> HTMLResponse:
    """The list as it stands (per team: listed and invited; in all: answered), the mail buttons, the
    upload form, and a file's preview; `content` is the previewed file's text, sent back by
    the confirm button when it has no problems."""
    teams = wave_teams(summary.wave)
    closed = summary.state == "closed"  # by its date: `retention apply` deletes what is left
    entries = (
        []
        if closed
        else staff_list(session=session, wave_id=summary.wave.id, secret=settings.secret_key)
    )
    by_team = list_by_team(entries, teams)
    return admin_page(
        request,
        settings,
        "admin/staff.html",
        {
            "summary": summary,
            "by_team": by_team.to_dict("records"),
            "listed": len(entries),
            "to_invite": sum(not entry.invited for entry in entries),
            "to_remind": sum(entry.invited and not entry.answered for entry in entries),
            "answered": sum(entry.answered for entry in entries),
            "preview": preview,
            "preview_rows": PREVIEW_ROWS,
            "preview_teams": _people_per_team(preview, teams) if preview else [],
            "content": content,
            "sent": sent,
            "mail_ready": bool(settings.smtp_url),
        },
        user=user,
        errors=errors,
    )


def _people_per_team(preview: StaffList, teams: dict[str, str]) -> list[tuple[str, int]]:
    counts = {key: 0 for key in teams}
    for person in preview.people:
        counts[person.team_key] += 1
    return [(teams[key], count) for key, count in counts.items() if count]


@router.get("/surveys/{survey}/waves/{wave}/staff", response_class=HTMLResponse)
def staff_page(
    request: Request, summary: WaveDep, session: SessionDep, settings: SettingsDep, user: AdminUser
) -> HTMLResponse:
    return _staff_page(request, settings, user, session, summary)


@router.post("/surveys/{survey}/waves/{wave}/staff/preview", response_class=HTMLResponse)
def preview_staff(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    form: FormDep,
) -> HTMLResponse:
    """Nothing is stored here: the preview's confirm button sends the file's text back."""
    try:
        upload = read_upload(form, FILE_FIELD, max_bytes=STAFF_FILE_MAX_BYTES, kind="CSV")
    except UploadRefused as refused:
        error = FormError(FILE_FIELD, str(refused))
        return _staff_page(request, settings, user, session, summary, errors=[error])
    preview = read_staff_list(upload.text, wave_teams(summary.wave))
    return _staff_page(
        request,
        settings,
        user,
        session,
        summary,
        preview=preview,
        content=upload.text,
        errors=[FormError(FILE_FIELD, problem) for problem in preview.problems],
    )


@router.post("/surveys/{survey}/waves/{wave}/staff", response_class=HTMLResponse)
@commits_in_thread
def import_staff(
    request: Request,
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    today: TodayDep,
    form: FormDep,
) -> Response:
    source = form.get("content")
    if not isinstance(source, str) or len(source.encode()) > STAFF_FILE_MAX_BYTES:
        error = FormError(FILE_FIELD, "Choose a CSV file")
        return _staff_page(request, settings, user, session, summary, errors=[error])
    preview = read_staff_list(source, wave_teams(summary.wave))
    errors = [FormError(FILE_FIELD, problem) for problem in preview.problems]
    if not errors:
        try:
            imported = import_staff_list(
                session=session,
                survey_key=summary.survey_key,
                wave=summary.wave,
                people=preview.people,
                secret=settings.secret_key,
                today=today,
                actor=user,
            )
        except StaffListRefused as refused:
            errors = [FormError(FILE_FIELD, str(refused))]
    if errors:
        return _staff_page(
            request, settings, user, session, summary, preview=preview, errors=errors
        )
    return RedirectResponse(
        f"{wave_url(summary, '/staff')}?added={imported.added}&already={imported.already_listed}",
        status_code=303,
    )


@router.post("/surveys/{survey}/waves/{wave}/staff/{mailing}", response_class=HTMLResponse)
def mail(
    request: Request,
    mailing: Literal["send", "remind"],
    summary: WaveDep,
    session: SessionDep,
    settings: SettingsDep,
    user: AdminUser,
    today: TodayDep,
    form: FormDep,
) -> Response:
    """Send the invitations, or the reminders, now; the page then says what was delivered."""
    reminder = mailing == "remind"
    try:
        planned = plan_mailing(
            session=session,
            survey_key=summary.survey_key,
            wave_key=summary.wave.key,
            secret=settings.secret_key,
            today=today,
            reminder=reminder,
        )
        run = deliver(request.app.state.session_factory, planned, settings=settings, actor=user)
    except (StaffListRefused, MailNotConfigured) as refused:
        error = FormError(mailing, str(refused))
        return _staff_page(request, settings, user, session, summary, errors=[error])
    session.expire_all()
    sent = {"reminder": reminder, "delivered": run.delivered, "failed": run.failed}
    return _staff_page(request, settings, user, session, summary, sent=sent)
