"""Sign-in and sign-out pages for staff. Every form carries a CSRF token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from app.accounts.deps import (
    CSRF_FIELD,
    SESSION_COOKIE,
    OptionalUser,
    clear_session_cookie,
    csrf_ok,
    set_session_cookie,
)
from app.accounts.models import User
from app.accounts.service import SignInRefused, authenticate, end_session, start_session
from app.config import Settings
from app.deps import SessionDep, SettingsDep, commits_in_thread
from app.responses.service import FieldError
from app.web import staff_page

router = APIRouter(include_in_schema=False)


async def _form(request: Request) -> FormData:
    """Read in the event loop, so the handler can be a plain function in a worker thread."""
    return await request.form(max_files=0, max_fields=10, max_part_size=4096)


FormDep = Annotated[FormData, Depends(_form)]


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never `//elsewhere` or a full address."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/sign-in"
    return target


def _page(
    request: Request,
    settings: Settings,
    *,
    status_code: int = 200,
    errors: list[FieldError] | None = None,
    email: str = "",
    next_path: str = "/sign-in",
    user: User | None = None,
) -> HTMLResponse:
    return staff_page(
        request,
        settings,
        "accounts/sign_in.html",
        {
            "errors": [{"field_id": e.field, "message": e.message} for e in errors or []],
            "error_for": {e.field: e.message for e in errors or []},
            "email": email,
            "next": next_path,
        },
        user=user,
        status_code=status_code,
    )


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(
    request: Request, settings: SettingsDep, user: OptionalUser, next: str | None = None
) -> HTMLResponse:
    return _page(request, settings, next_path=_safe_next(next), user=user)


@router.post("/sign-in", response_class=HTMLResponse)
@commits_in_thread
def sign_in(
    request: Request, session: SessionDep, settings: SettingsDep, form: FormDep
) -> Response:
    email = str(form.get("email", "")).strip()
    password = str(form.get("password", ""))
    next_path = _safe_next(str(form.get("next", "")))
    if not csrf_ok(request, form.get(CSRF_FIELD), settings):
        error = FieldError(
            field="email",
            code="csrf",
            message="The sign-in form had expired. Enter your email address and password again.",
        )
        return _page(request, settings, status_code=400, errors=[error], email=email)
    errors = []
    if not email:
        errors.append(FieldError(field="email", code="missing", message="Enter your email address"))
    if not password:
        errors.append(FieldError(field="password", code="missing", message="Enter your password"))
    if errors:
        return _page(request, settings, status_code=400, errors=errors, email=email)
    try:
        user = authenticate(session=session, email=email, password=password)
    except SignInRefused as refused:
        error = FieldError(field="email", code="refused", message=str(refused))
        return _page(request, settings, status_code=400, errors=[error], email=email)
    response = RedirectResponse(next_path, status_code=303)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(session=session, value=old)
    set_session_cookie(response, start_session(session=session, user=user), settings)
    return response


@router.post("/sign-out")
@commits_in_thread
def sign_out(
    request: Request, session: SessionDep, settings: SettingsDep, form: FormDep
) -> Response:
    if not csrf_ok(request, form.get(CSRF_FIELD), settings):
        return _page(
            request,
            settings,
            status_code=400,
            errors=[
                FieldError(
                    field="sign-out",
                    code="csrf",
                    message="The sign-out form had expired: use the button again.",
                )
            ],
        )
    value = request.cookies.get(SESSION_COOKIE)
    if value:
        end_session(session=session, value=value)
    response = RedirectResponse("/sign-in?signed_out=1", status_code=303)
    clear_session_cookie(response, settings)
    return response
