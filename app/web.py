"""What every staff page shares: one template environment, the signed-in header with its
sign-out form, and the CSRF token each form carries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.accounts.deps import CSRF_FIELD, csrf_nonce, csrf_token, set_csrf_cookie
from app.accounts.models import Role, User
from app.config import Settings

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
TEMPLATES.env.trim_blocks = True
TEMPLATES.env.lstrip_blocks = True


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str


def navigation(user: User | None) -> list[NavItem]:
    """The staff header's links: only those the user's roles open."""
    if user is None:
        return []
    items = []
    if user.has_role(Role.scrutiny, Role.hr, Role.admin):
        items.append(NavItem("Results", "/results"))
    if user.has_role(Role.admin):
        items.append(NavItem("Admin", "/admin"))
    return items


def staff_page(
    request: Request,
    settings: Settings,
    template: str,
    context: dict[str, Any],
    *,
    user: User | None,
    status_code: int = 200,
) -> HTMLResponse:
    """A staff page, with a fresh CSRF token for its forms (the header's sign-out included).

    Staff pages are never cached: they show figures and forms for one signed-in person."""
    nonce = csrf_nonce(request)
    response = TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "user": user,
            "navigation": navigation(user),
            "csrf_field": CSRF_FIELD,
            "csrf": csrf_token(nonce, settings),
            "errors": [],
            "error_for": {},
            "base": "",
            **context,
        },
        status_code=status_code,
    )
    set_csrf_cookie(response, nonce, settings)
    response.headers["Cache-Control"] = "no-store"
    return response
