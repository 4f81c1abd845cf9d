"""Who is asking: the staff session cookie or an API token, and what their roles allow.

Anonymous requests get 401 and the wrong role 403, with a JSON `detail` under /api; a browser
asking for a staff page without signing in is sent to the sign-in page.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.accounts.models import Role, User
from app.accounts.service import SESSION_LIFETIME, user_for_session, user_for_token
from app.config import Settings
from app.deps import SessionDep

SESSION_COOKIE = "staff_session"
CSRF_COOKIE = "form_nonce"
CSRF_FIELD = "csrf"

_bearer = HTTPBearer(auto_error=False, description="An API token from `tokens create`.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def set_session_cookie(response: Response, value: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        secure=settings.environment == "production",
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=settings.environment == "production",
        httponly=True,
        samesite="lax",
    )


TOKEN_PATHS = ("/api/", "/exports/")
"""Where an API token is accepted: scripts read the API and download exports; the pages (and
their forms) need a person signed in."""


def optional_user(request: Request, session: SessionDep, bearer: BearerDep) -> User | None:
    """The user behind the request's API token (on the API and exports) or session cookie, if
    any. A token that is sent and unknown is refused outright, rather than falling back to the
    cookie; elsewhere a token counts for nothing."""
    if bearer is not None and request.url.path.startswith(TOKEN_PATHS):
        user = user_for_token(session=session, value=bearer.credentials)
        if user is None:
            raise HTTPException(
                401, "The API token is not valid.", headers={"WWW-Authenticate": "Bearer"}
            )
        return user
    value = request.cookies.get(SESSION_COOKIE)
    return user_for_session(session=session, value=value) if value else None


OptionalUser = Annotated[User | None, Depends(optional_user)]


def current_user(request: Request, user: OptionalUser) -> User:
    if user is not None:
        return user
    path = request.url.path
    if not path.startswith("/api/") and "text/html" in request.headers.get("accept", ""):
        raise HTTPException(
            303, "Sign in first.", headers={"Location": f"/sign-in?next={quote(path)}"}
        )
    raise HTTPException(
        401,
        "Sign in, or send an API token as `Authorization: Bearer <token>`.",
        headers={"WWW-Authenticate": "Bearer"},
    )


CurrentUser = Annotated[User, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[User], User]:
    """A dependency letting in users who hold any of `roles`."""
    assert roles, "name at least one role"
    names = " or ".join(roles)

    def allowed(user: CurrentUser) -> User:
        if not user.has_role(*roles):
            raise HTTPException(403, f"This needs the {names} role.")
        return user

    return allowed


# CSRF: the form carries an HMAC of a random nonce that only the browser's cookie holds, so
# another site can neither read nor forge it.


def csrf_nonce(request: Request) -> str:
    """The browser's nonce, or a new one (set it with `set_csrf_cookie`)."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)


def csrf_token(nonce: str, settings: Settings) -> str:
    message = f"form:{nonce}".encode()
    return hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()


def set_csrf_cookie(response: Response, nonce: str, settings: Settings) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        nonce,
        path="/",
        secure=settings.environment == "production",
        httponly=True,
        samesite="lax",
    )


def csrf_ok(request: Request, sent: object, settings: Settings) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE)
    if not nonce or not isinstance(sent, str):
        return False
    return hmac.compare_digest(sent.encode(), csrf_token(nonce, settings).encode())
