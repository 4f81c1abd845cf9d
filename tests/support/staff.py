"""Staff users for tests: create one with roles, sign a test client in, or get API tokens."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.deps import CSRF_FIELD
from app.accounts.service import create_token, create_user, get_user
from app.db import transaction
from tests.support.journey import forms

PASSWORD = "correct horse battery staple"
ROLES = ("scrutiny", "hr", "admin")


def create_user_for_test(
    factory: sessionmaker[Session], email: str = "Member@Example.org", roles: tuple[str, ...] = ()
) -> int:
    with transaction(factory) as session:
        return create_user(session=session, email=email, roles=roles, password=PASSWORD).id


def staff_tokens(factory: sessionmaker[Session]) -> dict[str, str]:
    """An API token for each kind of staff user: "none" (no role), and one per role, whose
    users are `{name}@example.org` with the password `PASSWORD`."""
    tokens = {}
    for roles in [(), *((role,) for role in ROLES)]:
        name = roles[0] if roles else "none"
        with transaction(factory) as session:
            user = get_user(session=session, email=f"{name}@example.org")
        if user is None:  # the shared demo database may have them from another module
            create_user_for_test(factory, f"{name}@example.org", roles)
        with transaction(factory) as session:
            user = get_user(session=session, email=f"{name}@example.org")
            assert user is not None
            tokens[name] = create_token(session=session, user=user, name="test")
    return tokens


def csrf_of(client: TestClient, path: str) -> str:
    """The CSRF token a staff page's forms carry."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    for form in forms(page.text):
        if CSRF_FIELD in form.hidden:
            return form.hidden[CSRF_FIELD][0]
    raise AssertionError(f"{path} has no form with a CSRF token")


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    """Through the sign-in page, as a browser does: the client keeps the session cookie."""
    data = {CSRF_FIELD: csrf_of(client, "/sign-in"), "email": email, "password": password}
    return client.post("/sign-in", data=data, follow_redirects=False)
