"""What every admin page shares: the admin role, reading forms and uploads, the CSRF refusal,
and errors shown in the error summary and beside their fields."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import object_session
from starlette.datastructures import FormData, UploadFile
from starlette.routing import Match

from app.accounts.deps import CSRF_FIELD, csrf_ok, require_role
from app.accounts.models import Role, User
from app.config import Settings
from app.web import staff_page

admin_only = require_role(Role.admin)
AdminUser = Annotated[User, Depends(admin_only)]
"""The same dependency as the router's, so FastAPI runs it once a request."""


@dataclass(frozen=True)
class FormError:
    field_id: str
    """The id of the field the error summary links to."""
    message: str


class UploadRefused(ValueError):
    """An uploaded file that cannot be read; the message says why and can be shown."""


@dataclass(frozen=True)
class Upload:
    """An uploaded text file, kept in memory: its name is only ever shown, never opened."""

    name: str
    text: str


class FormExpired(Exception):
    """A form without a valid CSRF token: refused before the handler runs, so nothing changes."""

    def __init__(self, user: User) -> None:
        super().__init__("form expired")
        self.user = user


async def _checked_form(request: Request, user: AdminUser) -> FormData:
    """Read in the event loop, so handlers can be plain functions in a worker thread. An upload
    stays in memory while the request limit (256 KiB by default) is under Starlette's 1 MiB
    spooling threshold; a spooled file would be anonymous, never named after the upload."""
    settings: Settings = request.app.state.settings
    form = await request.form(max_files=1, max_fields=50, max_part_size=settings.max_request_bytes)
    if not csrf_ok(request, form.get(CSRF_FIELD), settings):
        # Detached, the account keeps what the page shows through the rollback that follows.
        session = object_session(user)
        if session is not None:
            session.expunge(user)
        raise FormExpired(user)
    return form


FormDep = Annotated[FormData, Depends(_checked_form)]
"""Every admin form, its CSRF token checked."""


def read_upload(form: FormData, field: str, *, max_bytes: int, kind: str) -> Upload:
    item = form.get(field)
    if not isinstance(item, UploadFile) or not item.filename:
        raise UploadRefused(f"Choose a {kind} file")
    content = item.file.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise UploadRefused(f"The file must be smaller than {max_bytes // 1024} KiB")
    if not content.strip():
        raise UploadRefused("The file is empty")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadRefused("The file must be text saved as UTF-8") from None
    return Upload(name=shown_name(item.filename), text=text)


def shown_name(filename: str) -> str:
    """The last part of a browser-supplied file name, for messages only."""
    return PurePosixPath(filename.replace("\\", "/")).name[:100] or "upload"


def admin_page(
    request: Request,
    settings: Settings,
    template: str,
    context: dict[str, Any],
    *,
    user: User,
    errors: Sequence[FormError] = (),
) -> HTMLResponse:
    """An admin page: 400 when it shows errors, and the confirmation named by `?done=`."""
    return staff_page(
        request,
        settings,
        template,
        {
            "errors": [asdict(error) for error in errors],
            "error_for": {error.field_id: error.message for error in errors},
            "done": request.query_params.get("done"),
            **context,
        },
        user=user,
        status_code=400 if errors else 200,
    )


def form_expired_page(request: Request, error: Exception) -> HTMLResponse:
    """The answer to `FormExpired`, with a link back to the page the form was on."""
    assert isinstance(error, FormExpired)
    settings: Settings = request.app.state.settings
    expired = FormError(
        "back",
        "The form had expired or did not come from this site, so nothing was changed. "
        "Go back to the page, reload it and try again.",
    )
    return admin_page(
        request,
        settings,
        "admin/form_expired.html",
        {"back": _nearest_page(request)},
        user=error.user,
        errors=[expired],
    )


def _nearest_page(request: Request) -> str:
    """The form's own address if a page is served there, else the closest one above it."""
    path = PurePosixPath(request.url.path)
    for candidate in (path, *path.parents):
        scope = {"type": "http", "path": str(candidate), "method": "GET"}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            return str(candidate)
    return "/admin"


def form_texts(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""
