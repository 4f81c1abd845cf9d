"""`supervision-survey doctor` on each database: a healthy deployment passes, and each thing an
operator can get wrong is named with its fix and fails the command."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import Result
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import cli
from app.config import DEVELOPMENT_SECRET, PROJECT_ROOT
from app.db import make_engine
from app.migrate import upgrade
from tests.conftest import _settings

SCRIPTS = ScriptDirectory(str(PROJECT_ROOT / "migrations"))
HEAD = SCRIPTS.get_current_head()
STRONG_SECRET = secrets.token_urlsafe(48)
FIX_MIGRATIONS = "run `supervision-survey db upgrade`"


def _doctor(database_url: str, **environment: str) -> Result:
    production = {"ENVIRONMENT": "production", "SECRET_KEY": STRONG_SECRET}
    return CliRunner().invoke(
        cli, ["doctor"], env={"DATABASE_URL": database_url, **production, **environment}
    )


def _lines(result: Result) -> dict[str, str]:
    """Each check's line, by the name of the check."""
    return {line.split()[1].rstrip(":"): line for line in result.output.splitlines()}


def test_a_healthy_deployment_passes(database_url: str) -> None:
    result = _doctor(database_url)
    lines = _lines(result)
    assert result.exit_code == 0, result.output
    assert lines["database"].startswith("ok       database: connected to ")
    assert lines["migrations"] == f"ok       migrations: at the newest revision ({HEAD})"
    assert lines["SECRET_KEY"] == "ok       SECRET_KEY: set (64 characters)"
    assert lines["TIMEZONE"] == "ok       TIMEZONE: Europe/London"
    assert not [line for line in lines.values() if line.startswith("problem")]
    sqlite_warning = "warning  DATABASE_URL: SQLite: use PostgreSQL (postgresql+psycopg://...)"
    assert lines.get("DATABASE_URL", "").startswith(sqlite_warning) == database_url.startswith(
        "sqlite"
    )


def test_an_unmigrated_database_is_reported_with_its_fix(empty_database_url: str) -> None:
    empty = _doctor(empty_database_url)
    assert empty.exit_code == 1
    assert FIX_MIGRATIONS in empty.output
    if empty_database_url.startswith("sqlite"):
        assert "test.db does not exist" in _lines(empty)["database"]
        assert not Path(empty_database_url.removeprefix("sqlite:///")).exists()
    else:
        assert _lines(empty)["migrations"] == (
            f"problem  migrations: the database is empty: {FIX_MIGRATIONS}"
        )

    previous = SCRIPTS.get_revision(HEAD).down_revision
    engine = make_engine(_settings(empty_database_url))
    upgrade(engine, str(previous))
    engine.dispose()
    behind = _doctor(empty_database_url)
    assert behind.exit_code == 1
    assert _lines(behind)["migrations"] == (
        f"problem  migrations: at revision {previous}, this release needs {HEAD}: {FIX_MIGRATIONS}"
    )

    fixed = CliRunner().invoke(cli, ["db", "upgrade"], env={"DATABASE_URL": empty_database_url})
    assert fixed.exit_code == 0, fixed.output
    assert _doctor(empty_database_url).exit_code == 0


def test_a_database_from_a_newer_release_is_not_sent_to_upgrade(database_url: str) -> None:
    engine = make_engine(_settings(database_url))
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    result = _doctor(database_url)
    assert result.exit_code == 1
    assert "at revision 9999, which this release does not know" in _lines(result)["migrations"]
    assert FIX_MIGRATIONS not in result.output


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_an_unreachable_database_is_reported_without_its_password(
    backend: str, tmp_path: Path
) -> None:
    url, reason = {
        "postgresql": (
            f"postgresql+psycopg://survey:hunter2-pw@127.0.0.1:{_closed_port()}/survey",
            "Connection refused",
        ),
        "sqlite": (f"sqlite:///{tmp_path}", "unable to open database file"),  # a directory
    }[backend]
    result = _doctor(url)
    line = _lines(result)["database"]
    assert result.exit_code == 1
    assert line.startswith("problem  database: cannot connect to "), line
    assert reason in line
    assert line.endswith("check DATABASE_URL and that the database server is running and reachable")
    assert "migrations" not in _lines(result)
    assert "hunter2-pw" not in result.output


def test_a_weak_or_missing_secret_is_a_problem_in_production(database_url: str) -> None:
    short = _doctor(database_url, SECRET_KEY="short-secret")
    assert short.exit_code == 1
    assert _lines(short)["SECRET_KEY"].startswith(
        "problem  SECRET_KEY: only 12 characters, at least 32 needed: set one from `python -c"
    )

    missing = CliRunner().invoke(
        cli,
        ["doctor"],
        env={"DATABASE_URL": database_url, "ENVIRONMENT": "production", "SECRET_KEY": None},
    )
    assert missing.exit_code == 1
    assert missing.output == (
        "problem  settings: SECRET_KEY must be set to a random value in production; "
        "set it in the environment or .env\n"
    )

    development = _doctor(database_url, ENVIRONMENT="development", SECRET_KEY="short-secret")
    assert development.exit_code == 0
    assert _lines(development)["SECRET_KEY"].startswith("warning  SECRET_KEY: only 12 characters")
    default = _doctor(database_url, ENVIRONMENT="development", SECRET_KEY=DEVELOPMENT_SECRET)
    assert default.exit_code == 0
    assert _lines(default)["SECRET_KEY"].startswith(
        "warning  SECRET_KEY: the development value, refused in production"
    )


def test_settings_that_cannot_work_are_named(tmp_path: Path) -> None:
    result = _doctor(
        "not a database url",
        TIMEZONE="Mars/Olympus_Mons",
        DEFINITIONS_DIR=str(tmp_path / "missing"),
    )
    lines = _lines(result)
    assert result.exit_code == 1
    assert lines["TIMEZONE"] == (
        "problem  TIMEZONE: 'Mars/Olympus_Mons' is not a known time zone: set e.g. Europe/London"
    )
    assert lines["DEFINITIONS_DIR"].startswith("warning  DEFINITIONS_DIR: ")
    assert lines["DATABASE_URL"].startswith("problem  DATABASE_URL: not a database URL")

    refused = _doctor("sqlite://", SUPPRESSION_THRESHOLD="1")
    assert refused.exit_code == 1
    assert refused.output == (
        "problem  SUPPRESSION_THRESHOLD: Input should be greater than or equal to 2; "
        "set it in the environment or .env\n"
    )
