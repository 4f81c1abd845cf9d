"""Staff accounts: argon2 passwords, lock-out, sessions and tokens kept only as hashes, the
sign-in page's CSRF check, the roles the reports API asks for, and the CLI."""

from __future__ import annotations

import datetime as dt
import hashlib
from html.parser import HTMLParser
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.accounts.cli import tokens_cli, users_cli
from app.accounts.deps import CSRF_FIELD, SESSION_COOKIE
from app.accounts.models import ApiToken, StaffSession, User
from app.accounts.service import (
    LOCK_OUT,
    AccountError,
    AccountLocked,
    SignInRefused,
    authenticate,
    create_token,
    create_user,
    end_session,
    start_session,
    user_for_session,
    user_for_token,
)
from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.surveys.definitions import SurveyDefinition
from tests.support.journey import forms
from tests.support.staff import PASSWORD, create_user_for_test, staff_tokens

SURVEY = "coventry-supervision"
REPORTS = f"/api/v1/reports/{SURVEY}/indicators"


def _all_values(engine: Engine) -> list[tuple[str, str, Any]]:
    metadata = MetaData()
    metadata.reflect(engine)
    found = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                found.extend((table.name, column, value) for column, value in row._mapping.items())
    return found


def test_passwords_are_stored_as_argon2_hashes_only(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    create_user_for_test(session_factory, roles=("scrutiny", "hr"))
    with transaction(session_factory) as session:
        user = session.scalars(select(User)).one()
        assert user.email == "member@example.org"
        assert user.roles == ["scrutiny", "hr"]
        assert user.password_hash.startswith("$argon2id$")
    for table, column, value in _all_values(engine):
        assert PASSWORD not in str(value), f"{table}.{column} holds the password"


@pytest.mark.parametrize(
    ("email", "roles", "password", "message"),
    [
        ("a@example.org", ["auditor"], PASSWORD, "Unknown role auditor"),
        ("a@example.org", ["hr"], "short", "at least 12 characters"),
        ("a@example.org", ["hr"], "aaaaaaaaaaaaaaaa", "different characters"),
        ("not-an-address", ["hr"], PASSWORD, "not an email address"),
        ("MEMBER@example.org", ["hr"], PASSWORD, "already an account"),
    ],
)
def test_create_user_refuses(
    session_factory: sessionmaker[Session],
    email: str,
    roles: list[str],
    password: str,
    message: str,
) -> None:
    create_user_for_test(session_factory)
    with pytest.raises(AccountError, match=message), transaction(session_factory) as session:
        create_user(session=session, email=email, roles=roles, password=password)


def _sign_in(
    factory: sessionmaker[Session],
    password: str,
    now: dt.datetime,
    email: str = "member@example.org",
) -> User | SignInRefused:
    """As the sign-in page does: the failure count is committed even when sign-in is refused."""
    with factory() as session:
        try:
            result: User | SignInRefused = authenticate(
                session=session, email=email, password=password, now=now
            )
        except SignInRefused as refused:
            result = refused
        session.commit()
        return result


def test_five_failed_sign_ins_lock_the_account_for_15_minutes(
    session_factory: sessionmaker[Session],
) -> None:
    create_user_for_test(session_factory)
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    assert isinstance(_sign_in(session_factory, PASSWORD, now, "  MEMBER@example.org "), User)
    for _ in range(4):
        refused = _sign_in(session_factory, "wrong password!", now)
        assert type(refused) is SignInRefused
        assert str(refused) == "Enter a correct email address and password."
    assert isinstance(_sign_in(session_factory, PASSWORD, now), User)  # a success resets the count
    for attempt in range(1, 6):
        refused = _sign_in(session_factory, "wrong password!", now)
        assert isinstance(refused, AccountLocked) == (attempt == 5)
    assert "locked for 15 minutes, until 09:15 UTC" in str(refused)
    # Locked: even the right password is refused until the time is up.
    assert isinstance(_sign_in(session_factory, PASSWORD, now + LOCK_OUT / 2), AccountLocked)
    assert isinstance(_sign_in(session_factory, PASSWORD, now + LOCK_OUT), User)


def test_an_unknown_email_is_refused_like_a_wrong_password(
    session_factory: sessionmaker[Session],
) -> None:
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    refused = _sign_in(session_factory, PASSWORD, now, "nobody@example.org")
    assert type(refused) is SignInRefused
    assert str(refused) == "Enter a correct email address and password."


def test_sessions_and_tokens_are_stored_only_as_hashes(
    session_factory: sessionmaker[Session], engine: Engine
) -> None:
    user_id = create_user_for_test(session_factory, roles=("hr",))
    now = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
    with transaction(session_factory) as session:
        user = session.get_one(User, user_id)
        cookie = start_session(session=session, user=user, now=now)
        token = create_token(session=session, user=user, name="monthly export")
    for table, column, value in _all_values(engine):
        assert cookie not in str(value) and token not in str(value), f"{table}.{column}"
    with transaction(session_factory) as session:
        stored = session.scalars(select(StaffSession)).one()
        assert stored.id == hashlib.sha256(cookie.encode()).hexdigest()
        assert (
            session.scalars(select(ApiToken)).one().id == hashlib.sha256(token.encode()).hexdigest()
        )
        assert user_for_session(session=session, value=cookie, now=now) is not None
        assert user_for_session(session=session, value=cookie + "x", now=now) is None
        later = now + dt.timedelta(hours=9)
        assert user_for_session(session=session, value=cookie, now=later) is None  # expired
    with transaction(session_factory) as session:
        assert session.scalars(select(StaffSession)).all() == []  # and deleted
        assert user_for_token(session=session, value=token, today=dt.date(2026, 11, 24)) is not None
        assert user_for_token(session=session, value="sst_" + "x" * 43) is None
        assert user_for_token(session=session, value=cookie) is None
    with transaction(session_factory) as session:
        assert session.scalars(select(ApiToken)).one().last_used_on == dt.date(2026, 11, 24)
        user = session.get_one(User, user_id)
        ended = start_session(session=session, user=user)
        end_session(session=session, value=ended)
        assert user_for_session(session=session, value=ended) is None


class _Labels(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labelled: set[str] = set()
        self.inputs: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label" and a.get("for"):
            self.labelled.add(str(a["for"]))
        elif tag == "input" and a.get("type") != "hidden":
            self.inputs.add(str(a.get("id")))


def _sign_in_form(client: TestClient) -> dict[str, str]:
    page = client.get("/sign-in")
    assert page.status_code == 200
    (form,) = forms(page.text)  # the sign-in form, or the sign-out one when signed in
    return {name: values[0] for name, values in form.hidden.items()}


def _signed_in(client: TestClient, email: str) -> Any:
    data = {**_sign_in_form(client), "email": email, "password": PASSWORD}
    return client.post("/sign-in", data=data, follow_redirects=False)


def test_the_sign_in_page_labels_every_field_and_needs_its_csrf_token(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    create_user_for_test(session_factory, roles=("scrutiny",))
    page = client.get("/sign-in")
    labels = _Labels()
    labels.feed(page.text)
    assert labels.inputs == {"email", "password"} and labels.inputs <= labels.labelled
    assert page.headers["cache-control"] == "no-store"

    fields = _sign_in_form(client)
    without = {"email": "member@example.org", "password": PASSWORD}
    refused = client.post("/sign-in", data=without, follow_redirects=False)
    assert refused.status_code == 400 and "had expired" in refused.text
    assert SESSION_COOKIE not in refused.headers.get("set-cookie", "")
    forged = client.post("/sign-in", data={**without, CSRF_FIELD: "0" * 64}, follow_redirects=False)
    assert forged.status_code == 400

    wrong = client.post(
        "/sign-in",
        data={**fields, "email": "member@example.org", "password": "not the password"},
        follow_redirects=False,
    )
    assert wrong.status_code == 400
    assert 'class="error-summary"' in wrong.text and 'href="#email"' in wrong.text
    assert "Enter a correct email address and password." in wrong.text
    empty = client.post("/sign-in", data=fields, follow_redirects=False)
    assert 'href="#password"' in empty.text and "Enter your password" in empty.text

    signed_in = _signed_in(client, "member@example.org")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/sign-in"
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get(REPORTS).status_code != 401
    assert "Signed in as member@example.org" in client.get("/sign-in").text

    sign_out = {CSRF_FIELD: _sign_in_form(client)[CSRF_FIELD]}
    assert client.post("/sign-out", data={}, follow_redirects=False).status_code == 400
    out = client.post("/sign-out", data=sign_out, follow_redirects=False)
    assert out.status_code == 303
    assert client.get(REPORTS).status_code == 401
    with transaction(session_factory) as session:
        assert session.scalars(select(StaffSession)).all() == []


def test_sign_in_goes_back_only_to_a_page_of_this_site(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    create_user_for_test(session_factory, roles=("hr",))
    for given, expected in [
        ("/api/v1/reports", "/api/v1/reports"),
        ("//evil.example", "/sign-in"),
        ("https://evil.example/", "/sign-in"),
    ]:
        data = {**_sign_in_form(client), "email": "member@example.org", "password": PASSWORD}
        reply = client.post("/sign-in", data={**data, "next": given}, follow_redirects=False)
        assert reply.headers["location"] == expected


def test_the_session_cookie_is_secure_in_production(database_url: str) -> None:
    settings = Settings(
        environment="production", database_url=database_url, secret_key="s" * 40, _env_file=None
    )  # type: ignore[call-arg]
    app = create_app(settings)
    create_user_for_test(app.state.session_factory, roles=("admin",))
    with TestClient(app, base_url="https://testserver") as client:  # Secure cookies need https
        reply = _signed_in(client, "member@example.org")
    assert reply.status_code == 303
    assert "Secure" in reply.headers["set-cookie"]


@pytest.fixture
def staff(session_factory: sessionmaker[Session]) -> dict[str, str]:
    return staff_tokens(session_factory)


def test_the_reports_api_needs_a_staff_role(
    client: TestClient, coventry: dict[str, SurveyDefinition], staff: dict[str, str]
) -> None:
    anonymous = client.get(REPORTS)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "Sign in" in anonymous.json()["detail"]
    bad = client.get(REPORTS, headers={"authorization": "Bearer sst_not-a-token"})
    assert bad.status_code == 401 and bad.json()["detail"] == "The API token is not valid."
    no_role = client.get(REPORTS, headers={"authorization": f"Bearer {staff['none']}"})
    assert no_role.status_code == 403
    assert no_role.json()["detail"] == "This needs the scrutiny or hr or admin role."
    for role in ("scrutiny", "hr", "admin"):
        reply = client.get(REPORTS, headers={"authorization": f"Bearer {staff[role]}"})
        assert reply.status_code == 200, (role, reply.text)


def test_a_signed_in_session_opens_the_reports_for_its_roles_only(
    client: TestClient, coventry: dict[str, SurveyDefinition], staff: dict[str, str]
) -> None:
    assert _signed_in(client, "none@example.org").status_code == 303
    assert client.get(REPORTS).status_code == 403
    client.cookies.clear()
    assert _signed_in(client, "scrutiny@example.org").status_code == 303
    assert client.get(REPORTS).status_code == 200


def _cli() -> typer.Typer:
    """The two sub-apps as `supervision-survey` registers them."""
    app = typer.Typer()
    app.add_typer(users_cli, name="users")
    app.add_typer(tokens_cli, name="tokens")
    return app


def test_the_cli_creates_users_and_tokens(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    env = {"DATABASE_URL": settings.database_url}
    runner = CliRunner()
    asked = runner.invoke(
        _cli(),
        ["users", "create", "--email", "HR@Example.org", "--role", "hr", "--role", "scrutiny"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        env=env,
    )
    assert asked.exit_code == 0, asked.output
    assert "created hr@example.org with role(s) hr, scrutiny" in asked.output
    assert PASSWORD not in asked.output

    generated = runner.invoke(
        _cli(), ["users", "create", "--email", "admin@example.org", "--role", "admin", "--generate"],
        env=env,
    )  # fmt: skip
    assert generated.exit_code == 0, generated.output
    password = generated.output.strip().splitlines()[-1].rsplit(" ", 1)[-1]
    now = dt.datetime.now(dt.UTC)
    assert isinstance(_sign_in(session_factory, password, now, "admin@example.org"), User)

    unknown = runner.invoke(
        _cli(), ["users", "create", "--email", "x@example.org", "--role", "boss", "--generate"],
        env=env,
    )  # fmt: skip
    assert unknown.exit_code != 0

    token = runner.invoke(
        _cli(), ["tokens", "create", "--email", "hr@example.org", "--name", "monthly"], env=env
    )
    assert token.exit_code == 0, token.output
    value = token.output.strip().splitlines()[-1]
    with transaction(session_factory) as session:
        user = user_for_token(session=session, value=value)
        assert user is not None and user.email == "hr@example.org"
    nobody = runner.invoke(_cli(), ["tokens", "create", "--email", "no@example.org"], env=env)
    assert nobody.exit_code == 1 and "There is no account" in nobody.output
