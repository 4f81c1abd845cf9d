"""The survey owner's pages, all under /admin and for the admin role only: definitions, waves,
headcounts, access codes, accounts, and the audit log of what they changed."""

from __future__ import annotations

import datetime as dt
from functools import partial
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from app.admin import definitions, staff, users, waves
from app.admin.audit import AuditAction, recent_events
from app.admin.service import survey_overview
from app.admin.web import AdminUser, admin_only, admin_page
from app.deps import SessionDep, SettingsDep, TodayDep

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(admin_only)])


@router.get("", response_class=HTMLResponse)
def overview(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminUser, today: TodayDep
) -> HTMLResponse:
    return admin_page(
        request,
        settings,
        "admin/overview.html",
        {"surveys": survey_overview(session=session, today=today)},
        user=user,
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    request: Request, session: SessionDep, settings: SettingsDep, user: AdminUser
) -> HTMLResponse:
    return admin_page(
        request,
        settings,
        "admin/audit.html",
        {
            "events": recent_events(session=session),
            "labels": {action.value: action.label for action in AuditAction},
            "zone": settings.timezone,
            "when": partial(_local_time, zone=ZoneInfo(settings.timezone)),
        },
        user=user,
    )


def _local_time(moment: dt.datetime, *, zone: ZoneInfo) -> str:
    """SQLite hands back naive datetimes; they are stored in UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return f"{aware.astimezone(zone):%-d %b %Y %H:%M:%S}"


router.include_router(definitions.router)
router.include_router(waves.router)
router.include_router(staff.router)
router.include_router(users.router)
