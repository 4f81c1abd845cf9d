"""`supervision-survey doctor`: what is wrong with a deployment, and what to do about it.

Run before opening a wave or after an upgrade: each finding is one line, a problem says how to fix
it, and the command exits 1 while any problem remains.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alembic.script import ScriptDirectory
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from app.config import DEVELOPMENT_SECRET, Settings
from app.db import make_engine
from app.migrate import alembic_config, current_revision

MINIMUM_SECRET_LENGTH = 32
UPGRADE = "run `supervision-survey db upgrade`"
EXAMPLE_URL = "set e.g. postgresql+psycopg://user:password@host:5432/name"


class Outcome(StrEnum):
    ok = "ok"
    warning = "warning"
    problem = "problem"


@dataclass(frozen=True)
class Finding:
    check: str
    outcome: Outcome
    message: str

    def __str__(self) -> str:
        return f"{self.outcome.value:8} {self.check}: {self.message}"


def diagnose() -> list[Finding]:
    """Every check, with the settings read from the environment as the service reads them."""
    try:
        settings = Settings()
    except ValidationError as error:
        return [_invalid_setting(detail) for detail in error.errors()]
    return [*_settings_findings(settings), *_database_findings(settings)]


def _invalid_setting(detail: ErrorDetails) -> Finding:
    field = ".".join(str(part).upper() for part in detail["loc"]) or "settings"
    message = str(detail["msg"]).removeprefix("Value error, ")
    return Finding(field, Outcome.problem, f"{message}; set it in the environment or .env")


def _settings_findings(settings: Settings) -> list[Finding]:
    production = settings.environment == "production"
    findings = [_secret_finding(settings.secret_key, production)]
    if settings.is_sqlite and production:
        findings.append(
            Finding(
                "DATABASE_URL",
                Outcome.warning,
                "SQLite: use PostgreSQL (postgresql+psycopg://...) in production",
            )
        )
    try:
        ZoneInfo(settings.timezone)
        findings.append(Finding("TIMEZONE", Outcome.ok, settings.timezone))
    except (ZoneInfoNotFoundError, ValueError):
        findings.append(
            Finding(
                "TIMEZONE",
                Outcome.problem,
                f"{settings.timezone!r} is not a known time zone: set e.g. Europe/London",
            )
        )
    findings.append(_definitions_finding(settings.definitions_dir))
    return findings


def _secret_finding(secret: str, production: bool) -> Finding:
    """Form tokens are signed with it and submission ids derived from it: a guessable key
    lets anyone forge them."""
    weak = Outcome.problem if production else Outcome.warning
    generate = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
    if secret == DEVELOPMENT_SECRET:  # production refuses it when reading the settings
        return Finding(
            "SECRET_KEY",
            Outcome.warning,
            f"the development value, refused in production: set one from `{generate}`",
        )
    if len(secret) < MINIMUM_SECRET_LENGTH:
        return Finding(
            "SECRET_KEY",
            weak,
            f"only {len(secret)} characters, at least {MINIMUM_SECRET_LENGTH} needed: "
            f"set one from `{generate}`",
        )
    return Finding("SECRET_KEY", Outcome.ok, f"set ({len(secret)} characters)")


def _definitions_finding(directory: Path) -> Finding:
    if directory.is_dir():
        return Finding("DEFINITIONS_DIR", Outcome.ok, str(directory))
    return Finding(
        "DEFINITIONS_DIR",
        Outcome.warning,
        f"{directory} does not exist: `demo seed` needs it; set DEFINITIONS_DIR",
    )


def _database_findings(settings: Settings) -> list[Finding]:
    """Reachable, then at the migrations' head. A missing SQLite file is not created here."""
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return [Finding("DATABASE_URL", Outcome.problem, f"not a database URL: {EXAMPLE_URL}")]
    shown = url.render_as_string(hide_password=True)
    if settings.is_sqlite and url.database and not Path(url.database).exists():
        return [Finding("database", Outcome.problem, f"{shown} does not exist: {UPGRADE}")]
    try:
        engine = make_engine(settings)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        cause = error.orig if isinstance(error, DBAPIError) else error
        reason = str(cause).strip().splitlines()[0]
        return [
            Finding(
                "database",
                Outcome.problem,
                f"cannot connect to {shown} ({reason}): check DATABASE_URL and that the "
                "database server is running and reachable",
            )
        ]
    try:
        return [
            Finding("database", Outcome.ok, f"connected to {shown}"),
            _migrations_finding(engine),
        ]
    finally:
        engine.dispose()


def _migrations_finding(engine: Engine) -> Finding:
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    head = scripts.get_current_head()
    current = current_revision(engine)
    if current == head:
        return Finding("migrations", Outcome.ok, f"at the newest revision ({head})")
    if current is None:
        return Finding("migrations", Outcome.problem, f"the database is empty: {UPGRADE}")
    if current not in {script.revision for script in scripts.walk_revisions()}:
        return Finding(
            "migrations",
            Outcome.problem,
            f"at revision {current}, which this release does not know (a newer release "
            "migrated it?): run that release, or restore a backup made for this one",
        )
    return Finding(
        "migrations",
        Outcome.problem,
        f"at revision {current}, this release needs {head}: {UPGRADE}",
    )
