"""`make run`'s demo accounts: one per role, printed, signing in with that role only; new
passwords each start; never in production, and never made by anything but the demo command."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.accounts.models import User
from app.cli import cli
from app.config import Settings
from app.main import create_app
from tests.support.staff import sign_in

ACCOUNT_LINE = re.compile(r"^\s+(scrutiny|hr|admin)\s+(\S+@demo\.invalid)\s+(\S+)$", re.M)


def _demo_accounts(
    url: str, environment: str = "development"
) -> tuple[int, dict[str, tuple[str, str]]]:
    result = CliRunner().invoke(
        cli,
        ["demo", "accounts"],
        env={"DATABASE_URL": url, "ENVIRONMENT": environment, "SECRET_KEY": "s" * 40},
    )
    found = {
        role: (email, password) for role, email, password in ACCOUNT_LINE.findall(result.output)
    }
    return result.exit_code, found


def test_demo_accounts_sign_in_with_their_role_and_get_new_passwords(settings: Settings) -> None:
    code, first = _demo_accounts(settings.database_url)
    assert code == 0 and sorted(first) == ["admin", "hr", "scrutiny"]
    code, second = _demo_accounts(settings.database_url)
    assert code == 0
    with TestClient(create_app(settings)) as client:
        for role, (email, password) in second.items():
            assert first[role][1] != password
            assert sign_in(client, email, first[role][1]).status_code == 400  # the old one
            assert sign_in(client, email, password).status_code == 303
            page = client.get("/sign-in")
            assert "Results" in page.text
            assert ("Admin</a>" in page.text) == (role == "admin")
            client.cookies.clear()


def test_production_never_gets_demo_accounts(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    code, accounts = _demo_accounts(settings.database_url, environment="production")
    assert code == 1 and accounts == {}
    with TestClient(create_app(settings)) as client:  # a start: migrations and the app
        assert client.get("/healthz").status_code == 200
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
