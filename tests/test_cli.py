"""The CLI end to end, on each database: `db upgrade && demo seed && waves ...` with one URL."""

from __future__ import annotations

import datetime as dt
import getpass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from app.admin.models import AuditEvent
from app.cli import cli
from app.config import PROJECT_ROOT
from app.models import Wave
from tests.conftest import COVENTRY_DIR

SURVEY = "coventry-supervision"
HEAD = ScriptDirectory(str(PROJECT_ROOT / "migrations")).get_current_head()


def _run(url: str, *args: str):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url})
    return result


def _create(wave: str) -> tuple[str, ...]:
    """A wave that opens in a month: it can still be opened."""
    opens = dt.date.today() + dt.timedelta(days=30)
    return (
        "waves", "create", "--survey", SURVEY, "--wave", wave, "--version", "2015",
        "--opens", opens.isoformat(), "--closes", (opens + dt.timedelta(days=30)).isoformat(),
    )  # fmt: skip


def _wave(action: str, wave: str) -> tuple[str, ...]:
    group = "codes" if action == "issue" else "waves"
    return (group, action, "--survey", SURVEY, "--wave", wave)


def test_upgrade_seed_and_manage_waves(empty_database_url: str) -> None:
    url = empty_database_url
    assert "base" in _run(url, "db", "current").output
    upgraded = _run(url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"database at revision {HEAD}" in upgraded.output

    seeded = _run(url, "demo", "seed")
    assert seeded.exit_code == 0, seeded.output
    assert "wave 2014: 370 synthetic responses stored" in seeded.output
    assert "wave 2015: 387 synthetic responses stored" in seeded.output

    listed = _run(url, "waves", "list", "--survey", "coventry-supervision")
    lines = listed.output.splitlines()
    assert [line.split()[0] for line in lines] == ["2014", "2015", "2016"]
    assert lines[2].endswith("open")

    created = _run(url, *_create("2030"))
    assert created.exit_code == 0, created.output
    assert "access codes required" in created.output
    unconfirmed = _run(url, *_create("2032"), "--open-link")
    assert unconfirmed.exit_code == 1
    assert "give --confirm-open-link as well" in unconfirmed.output
    open_link = _run(
        url, *_create("2032"), "--open-link", "--confirm-open-link", "--title", "Autumn check-in"
    )
    assert open_link.exit_code == 0, open_link.output
    assert "anyone with the link" in open_link.output
    engine = create_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(
            select(Wave.key, Wave.access_codes_required, Wave.title)
            .where(Wave.key.in_(["2030", "2032"]))
            .order_by(Wave.key)
        ).all()
    engine.dispose()
    assert [tuple(row) for row in stored] == [
        ("2030", True, None),
        ("2032", False, "Autumn check-in"),
    ]
    duplicate = _run(url, *_create("2030"))
    assert duplicate.exit_code == 1
    assert "already has a wave '2030'" in duplicate.output
    assert _run(url, *_wave("open", "2030")).exit_code == 0
    closed = _run(url, *_wave("close", "2030"))
    assert "now closed" in closed.output
    reopened = _run(url, *_wave("open", "2030"))
    assert reopened.exit_code == 1
    assert "a closed wave never reopens" in reopened.output
    past = _run(url, *_wave("open", "2014"))
    assert past.exit_code == 1 and "is closed" in past.output
    missing = _run(url, *_wave("open", "1900"))
    assert missing.exit_code == 1
    assert "no wave '1900'" in missing.output

    downgraded = _run(url, "db", "downgrade", "--revision", "base")
    assert downgraded.exit_code == 0
    assert "base" in downgraded.output


def test_what_the_command_line_changes_is_in_the_audit_log(
    database_url: str, tmp_path: Path
) -> None:
    """Who ran it (as the system knows them), what and on what; never a password, token or
    code."""
    definitions = sorted(str(path) for path in COVENTRY_DIR.glob("*.yaml"))
    assert _run(database_url, "definitions", "publish", *definitions).exit_code == 0
    assert _run(database_url, *_create("2030")).exit_code == 0
    assert _run(database_url, *_wave("open", "2030")).exit_code == 0
    assert _run(database_url, *_wave("close", "2030")).exit_code == 0
    assert _run(database_url, *_wave("open", "2030")).exit_code == 1  # refused: not recorded
    assert _run(database_url, *_create("2031")).exit_code == 0
    codes_file = tmp_path / "codes.csv"
    issued = _run(database_url, *_wave("issue", "2031"), "--count", "3", "--out", str(codes_file))
    assert issued.exit_code == 0, issued.output
    hr = ("--email", "hr@example.org")
    password = _run(database_url, "users", "create", *hr, "--role", "hr", "--generate")
    token = _run(database_url, "tokens", "create", *hr)
    secrets = [password.output.split()[-1], token.output.split()[-1]]
    secrets += codes_file.read_text().split()[1:]

    engine = create_engine(database_url)
    with engine.connect() as connection:
        columns = ("actor_id", "actor_email", "action", "target", "details")
        events = connection.execute(
            select(*(getattr(AuditEvent, column) for column in columns)).order_by(AuditEvent.id)
        ).all()
    engine.dispose()
    assert [(action, target) for _, _, action, target, _ in events] == [
        ("definition_published", f"{SURVEY}/2014"),
        ("definition_published", f"{SURVEY}/2015"),
        ("wave_created", f"{SURVEY}/2030"),
        ("wave_opened", f"{SURVEY}/2030"),
        ("wave_closed", f"{SURVEY}/2030"),
        ("results_released", f"{SURVEY}/2030"),
        ("wave_created", f"{SURVEY}/2031"),
        ("codes_issued", f"{SURVEY}/2031"),
        ("user_created", "hr@example.org"),
        ("token_created", "hr@example.org"),
    ]
    assert {(actor_id, actor) for actor_id, actor, *_ in events} == {
        (None, f"command line ({getpass.getuser()})")
    }
    assert events[7].details == {"count": 3}
    logged = repr(events)
    assert len(secrets) == 5 and not [secret for secret in secrets if secret in logged]
