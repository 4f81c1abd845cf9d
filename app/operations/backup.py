"""Backups of the whole database into one file, and restores from it.

SQLite: the online backup API copies the live file in one step, which reads one consistent
snapshot (WAL lets respondents keep writing meanwhile); the backup is itself a SQLite file.
PostgreSQL: `pg_dump --format=custom` of one snapshot, and `pg_restore`. Either way the file holds
the Alembic revision with the data, so after a restore `db upgrade` carries it to this release.
The password never reaches a command line: the client tools get it as PGPASSWORD.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from enum import StrEnum
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from psycopg.conninfo import make_conninfo
from pydantic import BaseModel
from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    create_engine,
    func,
    inspect,
    select,
    table,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError

from app.config import Settings
from app.db import make_engine
from app.migrate import alembic_config

ALEMBIC_TABLE = "alembic_version"
POSTGRES_LIB = Path("/usr/lib/postgresql")
"""Where Debian's PostgreSQL packages put the client tools (one directory per major version)."""
SIZE_UNITS = ("bytes", "kB", "MB", "GB", "TB")


class Backend(StrEnum):
    sqlite = "SQLite"
    postgresql = "PostgreSQL"


FILE_SIGNATURES = {Backend.sqlite: b"SQLite format 3\x00", Backend.postgresql: b"PGDMP"}
"""How each kind of backup file begins."""


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


class BackupSummary(BaseModel):
    """What a backup file holds, or what a restore put in the database."""

    file: Path
    size_bytes: int
    revision: str
    rows: dict[str, int]
    """Rows per table, alembic_version included."""

    def report_lines(self) -> list[str]:
        width = max(map(len, self.rows), default=0)
        return [
            f"{self.file}: {_size(self.size_bytes)}, schema revision {self.revision}",
            *(f"  {name:<{width}}  {count:>12,}" for name, count in self.rows.items()),
        ]


def backend_of(settings: Settings) -> Backend:
    return Backend.sqlite if settings.is_sqlite else Backend.postgresql


def backup_database(settings: Settings, out: Path) -> BackupSummary:
    """Write the whole database to `out`, a new file. It appears only once complete."""
    if out.exists():
        raise BackupError(f"{out} already exists: a backup never overwrites a file")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    engine = make_engine(settings)
    try:
        if backend_of(settings) == Backend.sqlite:
            database = _sqlite_file(settings)
            _backup_sqlite(database, partial)
            revision, rows = _sqlite_file_contents(partial, described=str(database))
        else:
            revision, rows = _backup_postgres(engine, settings.database_url, partial)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
        engine.dispose()
    return BackupSummary(file=out, size_bytes=out.stat().st_size, revision=revision, rows=rows)


def restore_database(settings: Settings, backup: Path, *, force: bool) -> BackupSummary:
    """Replace the whole database, schema included, with a backup's contents. A database that
    holds data is replaced only with `force`."""
    backend = backend_of(settings)
    _check_kind(backup, backend)
    engine = make_engine(settings)
    try:
        if backend == Backend.sqlite:
            revision, _rows = _sqlite_file_contents(backup, described=str(backup))
        else:
            revision = _revision_in_dump(backup)
        _check_known_revision(engine, revision, backup)
        holding_data = _tables_holding_data(engine)
        if holding_data and not force:
            raise BackupError(
                f"the database already holds data (in {', '.join(holding_data[:3])}"
                f"{', ...' if len(holding_data) > 3 else ''}): restoring would replace all of it. "
                "Back it up first, then run the restore again with --force"
            )
        engine.dispose()
        if backend == Backend.sqlite:
            _restore_sqlite(backup, _sqlite_file(settings))
        else:
            _restore_postgres(engine, settings.database_url, backup)
        with engine.connect() as connection:
            restored_revision, rows = _contents(connection, described="the restored database")
    finally:
        engine.dispose()
    return BackupSummary(
        file=backup, size_bytes=backup.stat().st_size, revision=restored_revision, rows=rows
    )


def _check_kind(backup: Path, backend: Backend) -> None:
    if not backup.is_file():
        raise BackupError(f"{backup}: no such file")
    with backup.open("rb") as file:
        start = file.read(len(FILE_SIGNATURES[Backend.sqlite]))
    kind = next((k for k, sign in FILE_SIGNATURES.items() if start.startswith(sign)), None)
    if kind is None:
        raise BackupError(
            f"{backup} is not a backup made by `supervision-survey db backup` "
            "(neither a SQLite database file nor a pg_dump custom-format archive)"
        )
    if kind != backend:
        raise BackupError(
            f"{backup} is a {kind.value} backup but DATABASE_URL points at {backend.value}: "
            f"restore it into a {kind.value} database"
        )


def _contents(connection: Connection, *, described: str) -> tuple[str, dict[str, int]]:
    """The Alembic revision and the rows per table, read in the connection's transaction."""
    names = sorted(inspect(connection).get_table_names())
    if ALEMBIC_TABLE not in names:
        raise BackupError(f"{described} has no schema revision: it is not this service's database")
    revision = connection.execute(text(f"SELECT version_num FROM {ALEMBIC_TABLE}")).scalar_one()
    rows = {
        name: connection.execute(select(func.count()).select_from(table(name))).scalar_one()
        for name in names
    }
    return revision, rows


def _tables_holding_data(engine: Engine) -> list[str]:
    """Tables with rows; a freshly migrated database has none (alembic_version aside)."""
    with engine.connect() as connection:
        names = sorted(set(inspect(connection).get_table_names()) - {ALEMBIC_TABLE})
        return [
            name
            for name in names
            if connection.execute(select(text("1")).select_from(table(name)).limit(1)).first()
        ]


def _check_known_revision(engine: Engine, revision: str, backup: Path) -> None:
    """A backup from a newer release could not be upgraded (or downgraded) by this one."""
    try:
        ScriptDirectory.from_config(alembic_config(engine)).get_revision(revision)
    except CommandError:
        raise BackupError(
            f"{backup} was taken at schema revision {revision}, which this release does not "
            "know: restore it with the release that made it, or a newer one"
        ) from None


def _sqlite_file(settings: Settings) -> Path:
    database = make_url(settings.database_url).database
    if not database or database == ":memory:":
        raise BackupError("DATABASE_URL names no SQLite file")
    return Path(database)


def _backup_sqlite(database: Path, out: Path) -> None:
    if not database.is_file():
        raise BackupError(f"no database at {database}: nothing to back up")
    with (
        closing(sqlite3.connect(database, timeout=30)) as live,
        closing(sqlite3.connect(out)) as copy,
    ):
        live.backup(copy)  # all pages in one step: one read transaction, one snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it


def _sqlite_file_contents(path: Path, *, described: str) -> tuple[str, dict[str, int]]:
    """Checked for damage first. (A plain engine: the app's would switch the file to WAL.)"""
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            damage = connection.exec_driver_sql("PRAGMA quick_check").scalars().all()
            if damage != ["ok"]:
                raise BackupError(f"{described} is damaged: {'; '.join(damage[:3])}")
            return _contents(connection, described=described)
    except DatabaseError as error:
        raise BackupError(f"{described} is damaged: {error.orig}") from None
    finally:
        engine.dispose()


def _restore_sqlite(backup: Path, database: Path) -> None:
    """The backup API again, the other way: the live file is replaced in one transaction, so a
    reader sees either the old database or the restored one."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with (
        closing(sqlite3.connect(backup)) as saved,
        closing(sqlite3.connect(database, timeout=30)) as live,
    ):
        saved.backup(live)


def _backup_postgres(engine: Engine, database_url: str, out: Path) -> tuple[str, dict[str, int]]:
    """pg_dump reads the snapshot this transaction exports, so the counts are the dump's."""
    pg_dump = postgres_tool("pg_dump")
    conninfo, env = libpq_connection(database_url)
    with engine.execution_options(isolation_level="REPEATABLE READ").begin() as connection:
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        revision, rows = _contents(connection, described="the database")
        _run(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={out}",
             f"--dbname={conninfo}"],
            env,
        )  # fmt: skip
    return revision, rows


def _revision_in_dump(dump: Path) -> str:
    """The alembic_version row, read from the archive without restoring anything."""
    script = _run(
        [postgres_tool("pg_restore"), "--data-only", f"--table={ALEMBIC_TABLE}", "--file=-",
         str(dump)],
        dict(os.environ),
    )  # fmt: skip
    lines = iter(script.splitlines())
    for line in lines:
        if line.startswith(f"COPY public.{ALEMBIC_TABLE} "):
            revision = next(lines, "\\.")
            if revision != "\\.":
                return revision
    raise BackupError(f"{dump} holds no schema revision: it is not a dump of this service")


def _restore_postgres(engine: Engine, database_url: str, dump: Path) -> None:
    """Every table goes first, including any a newer release added that the dump does not
    know, so the schema is exactly the backup's; pg_restore's --clean drops the rest of what it
    defines. The restore itself is one transaction."""
    pg_restore = postgres_tool("pg_restore")
    conninfo, env = libpq_connection(database_url)
    existing = MetaData()
    existing.reflect(bind=engine)
    existing.drop_all(bind=engine)
    engine.dispose()
    _run(
        [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
         f"--dbname={conninfo}", str(dump)],
        env,
    )  # fmt: skip


def libpq_connection(database_url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string for the SQLAlchemy URL, without the password, and the
    environment that carries it (PGPASSWORD), for the PostgreSQL client tools."""
    url = make_url(database_url)
    query = {k: ",".join(v) if isinstance(v, tuple) else v for k, v in url.query.items()}
    parameters = {"host": url.host, "port": url.port, "dbname": url.database, "user": url.username}
    conninfo = make_conninfo("", **{k: v for k, v in parameters.items() if v is not None}, **query)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = url.password
    return conninfo, env


def postgres_tool(name: str) -> str:
    """A client tool on PATH, or else in the newest of Debian's version directories."""
    if found := shutil.which(name):
        return found
    versions = sorted(POSTGRES_LIB.glob("*/bin"), key=_major_version, reverse=True)
    for bindir in versions:
        if os.access(bindir / name, os.X_OK):
            return str(bindir / name)
    raise BackupError(
        f"{name} not found on PATH or under {POSTGRES_LIB}/*/bin: install the PostgreSQL client "
        "tools (e.g. apt-get install postgresql-client), of the server's major version or newer"
    )


def _major_version(bindir: Path) -> int:
    name = bindir.parent.name
    return int(name) if name.isdigit() else 0


def _run(command: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")
    return result.stdout


def _size(size_bytes: int) -> str:
    size, unit = float(size_bytes), 0
    while size >= 1000 and unit < len(SIZE_UNITS) - 1:
        size, unit = size / 1000, unit + 1
    return f"{size_bytes} bytes" if unit == 0 else f"{size:.1f} {SIZE_UNITS[unit]}"
