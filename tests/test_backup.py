"""Backups: `db backup` then `db restore` into an empty database gives back every row of every
table, schema revision included, on SQLite and PostgreSQL; a restore never replaces data unless
forced, and a wrong file is refused before anything is touched."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from app.cli import cli
from app.config import Settings
from app.db import make_engine, transaction
from app.demo.seed import seed_demo
from app.migrate import alembic_config, current_revision
from app.models import Draft, Question, Response, TextAnswer
from app.operations import backup
from app.operations.backup import BackupError, backup_database, libpq_connection
from app.responses.codes import code_hash, issue_codes, spend_code
from app.responses.drafts import start_draft
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import get_wave
from tests.conftest import COVENTRY_DIR, DEMO_TODAY, _settings, fresh_postgres_database
from tests.support.factories import SURVEY
from tests.support.staff import staff_tokens
from tests.support.tables import every_row


def _run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url})


def _empty_database(like: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database with no schema, on the same backend as `like`."""
    if like.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'restored.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_server"), migrated=False)


def _revisions() -> tuple[str, str]:
    """This release's newest schema revision and the one before it."""
    scripts = ScriptDirectory.from_config(alembic_config(create_engine("sqlite://")))
    head = scripts.get_revision(scripts.get_current_head() or "head")
    assert head is not None and isinstance(head.down_revision, str)
    return head.revision, head.down_revision


@pytest.fixture
def seeded(settings: Settings, session_factory: sessionmaker[Session]) -> str:
    """The demo, plus a row in each table the demo leaves empty: staff, tokens, codes (one
    spent), a draft with answers, a free-text answer."""
    seed_demo(
        session_factory, definitions_dir=COVENTRY_DIR.parent, echo=lambda _: None, today=DEMO_TODAY
    )
    staff_tokens(session_factory)
    with transaction(session_factory) as session:
        wave = get_wave(session=session, survey_key=SURVEY, wave_key="2016")
        codes = issue_codes(session=session, wave=wave, count=5)
        spend_code(session=session, wave_id=wave.id, hashed=code_hash(codes[0]))
        start_draft(session=session, wave_id=wave.id)
        draft = session.scalars(select(Draft)).one()
        draft.answers = {"gives_supervision": "no", "team_changes": ["a", "b"]}
        draft.team = "cf_first"
        # No Coventry question takes free text, so this row is written directly: the table
        # must travel like the others, non-ASCII text and all.
        session.add(
            TextAnswer(
                response_id=session.scalars(select(Response.id).limit(1)).one(),
                question_id=session.scalars(select(func.min(Question.id))).one(),
                text="Supervision – «regular» ✓, 'quoted' \\ back\nslash",
            )
        )
    return settings.database_url


def test_a_backup_restored_into_an_empty_database_gives_back_every_row(
    seeded: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    out = tmp_path / "backups" / "survey.backup"
    taken = _run(seeded, "db", "backup", "--out", str(out))
    assert taken.exit_code == 0, taken.output
    head, _ = _revisions()
    assert f"schema revision {head}" in taken.output
    assert re.search(r"^  responses +757$", taken.output, re.MULTILINE)
    assert [path.name for path in out.parent.iterdir()] == ["survey.backup"]  # nothing partial

    target = _empty_database(seeded, request, tmp_path)
    restored = _run(target, "db", "restore", str(out))
    assert restored.exit_code == 0, restored.output
    assert f"schema revision {head}" in restored.output

    source_rows, target_rows = every_row(seeded), every_row(target)
    assert target_rows == source_rows
    assert source_rows["alembic_version"] == [{"version_num": head}]
    for table in ("responses", "answers", "text_answers", "drafts", "access_codes", "api_tokens"):
        assert source_rows[table], f"{table} held nothing to compare"
    assert _run(target, "db", "upgrade").exit_code == 0
    assert every_row(target) == source_rows


def test_a_restore_never_replaces_data_unless_forced_and_then_upgrades(
    settings: Settings,
    coventry: dict[str, SurveyDefinition],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """A backup taken one revision back, restored over a database at head holding data: the
    schema becomes the backup's (tables it lacks go), and `db upgrade` carries it on."""
    head, previous = _revisions()
    older = _empty_database(settings.database_url, request, tmp_path / "older")
    assert _run(older, "db", "upgrade", "--revision", previous).exit_code == 0
    out = tmp_path / "older.backup"
    assert _run(older, "db", "backup", "--out", str(out)).exit_code == 0
    holding_data = every_row(settings.database_url)
    assert holding_data["surveys"]

    refused = _run(settings.database_url, "db", "restore", str(out))
    assert refused.exit_code == 1
    assert "already holds data (in options, questions, role_groupings, ...)" in refused.output
    assert "--force" in refused.output
    assert every_row(settings.database_url) == holding_data

    forced = _run(settings.database_url, "db", "restore", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert every_row(settings.database_url) == every_row(older)
    engine = make_engine(settings)
    assert current_revision(engine) == previous
    upgraded = _run(settings.database_url, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert current_revision(engine) == head
    engine.dispose()


def test_a_backup_taken_during_a_write_holds_what_was_committed(
    settings: Settings,
    coventry: dict[str, SurveyDefinition],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """Respondents keep writing while a backup runs: it neither waits for them nor takes half a
    transaction."""
    writer = make_engine(settings)
    with writer.connect() as connection:
        connection.execute(
            text("INSERT INTO surveys (key, title, suppression_threshold) VALUES ('x', 'X', 5)")
        )  # not committed yet
        summary = backup_database(settings, tmp_path / "during.backup")
        connection.commit()
    writer.dispose()
    assert summary.rows["surveys"] == 1

    target = _empty_database(settings.database_url, request, tmp_path)
    assert _run(target, "db", "restore", str(summary.file)).exit_code == 0
    assert [row["key"] for row in every_row(target)["surveys"]] == ["coventry-supervision"]
    assert len(every_row(settings.database_url)["surveys"]) == 2


def test_wrong_files_are_refused_with_a_clear_message(
    settings: Settings, coventry: dict[str, SurveyDefinition], tmp_path: Path
) -> None:
    url = settings.database_url
    before = every_row(url)
    other_kind = tmp_path / "other.backup"
    if settings.is_sqlite:
        other_kind.write_bytes(b"PGDMP\x01\x0e\x00" + bytes(100))
        wrong_kind = "is a PostgreSQL backup but DATABASE_URL points at SQLite"
    else:
        with sqlite3.connect(other_kind) as database:
            database.execute("CREATE TABLE t (x)")
        wrong_kind = "is a SQLite backup but DATABASE_URL points at PostgreSQL"
    text_file = tmp_path / "notes.txt"
    text_file.write_text("not a backup\n")
    existing = tmp_path / "existing.backup"
    existing.write_text("keep me")

    for args, message in [
        (["db", "restore", str(tmp_path / "missing.backup"), "--force"], "missing.backup: no such file"),
        (["db", "restore", str(text_file), "--force"], "is not a backup made by `supervision-survey db backup`"),
        (["db", "restore", str(other_kind), "--force"], wrong_kind),
        (["db", "backup", "--out", str(existing)], "already exists: a backup never overwrites a file"),
    ]:  # fmt: skip
        result = _run(url, *args)
        assert result.exit_code == 1, args
        assert message in result.output, result.output
    assert every_row(url) == before
    assert existing.read_text() == "keep me"


def test_a_damaged_sqlite_backup_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'survey.db'}"
    assert _run(url, "db", "upgrade").exit_code == 0
    good = backup_database(_settings(url), tmp_path / "good.backup").file
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    result = _run(url, "db", "restore", str(damaged), "--force")
    assert result.exit_code == 1
    assert "damaged.backup is damaged" in result.output


def test_a_backup_from_a_newer_release_is_refused(
    settings: Settings, coventry: dict[str, SurveyDefinition], tmp_path: Path
) -> None:
    engine = make_engine(settings)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    newer = backup_database(settings, tmp_path / "newer.backup").file
    before = every_row(settings.database_url)
    result = _run(settings.database_url, "db", "restore", str(newer), "--force")
    assert result.exit_code == 1
    assert "taken at schema revision 9999, which this release does not know" in result.output
    assert every_row(settings.database_url) == before


def test_a_missing_pg_dump_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(backup, "POSTGRES_LIB", tmp_path)
    settings = _settings("postgresql+psycopg://survey@db.invalid/survey")
    with pytest.raises(BackupError, match=r"pg_dump not found on PATH or under .*/\*/bin: install"):
        backup_database(settings, tmp_path / "never.backup")
    assert not (tmp_path / "never.backup").exists()


def test_the_password_reaches_the_client_tools_only_through_their_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PGPASSWORD", raising=False)
    conninfo, env = libpq_connection(
        "postgresql+psycopg://survey:s3cr%40t@db.example:5433/supsurvey?sslmode=require"
    )
    assert "s3cr" not in conninfo
    assert env["PGPASSWORD"] == "s3cr@t"
    assert conninfo == "host=db.example port=5433 dbname=supsurvey user=survey sslmode=require"
    socket, env = libpq_connection(
        "postgresql+psycopg://postgres@/db?host=%2Ftmp%2Fa%20b&port=5432"
    )
    assert socket == "dbname=db user=postgres host='/tmp/a b' port=5432"
    assert "PGPASSWORD" not in env
