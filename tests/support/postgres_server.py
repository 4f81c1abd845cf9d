"""A throwaway PostgreSQL server for tests and benchmarks.

    with running_postgres() as url:
        engine = sqlalchemy.create_engine(url)

    with running_postgres_server() as server:  # the same, for a test that restarts it
        server.restart()

starts a private server (initdb into a fresh temporary directory, listening
only on a unix socket inside that directory), creates an empty database and
yields a ``postgresql+psycopg://`` URL for it.  On exit the server is stopped
with ``pg_ctl -m immediate`` and the directory is removed, also when the body
raises, is interrupted with Ctrl-C, or the process receives SIGTERM.  (Nothing
can clean up after SIGKILL: an orphaned server then keeps running until killed
by hand; its data directory is under the system temp dir, ``supsurvey-pg-*``.)

The server binaries are looked for in $SUPSURVEY_PG_BINDIR if set, then on
PATH, then under /usr/lib/postgresql/*/bin (newest major version first).  If
none are found, PostgresUnavailable is raised.

PostgreSQL refuses to run as root.  When this runs as root (as CI does), the
server and initdb run as the ``postgres`` system user, or, if that user does
not exist, as a system user ``supsurvey-pg`` that is created on first use.

Deliberately free of pytest so benchmarks and scripts can use it.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import quote

__all__ = [
    "PostgresServer",
    "PostgresUnavailable",
    "find_postgres_bindir",
    "running_postgres",
    "running_postgres_server",
]

BINDIR_ENV = "SUPSURVEY_PG_BINDIR"
DATABASE = "supsurvey_test"
SUPERUSER = "postgres"  # database role
SERVER_OS_USER = "postgres"  # Debian's postgresql package creates it
PORT = 5432  # only names the socket file, which lives in a private directory
FALLBACK_SYSTEM_USER = "supsurvey-pg"
START_TIMEOUT_SECONDS = 60

INSTALL_HINT = (
    "Install the PostgreSQL server, e.g. `apt-get install postgresql` on Debian/Ubuntu "
    "(binaries land in /usr/lib/postgresql/<version>/bin), or point "
    f"${BINDIR_ENV} at a directory containing initdb, pg_ctl and postgres."
)

_REQUIRED = ("initdb", "pg_ctl", "postgres")


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL server binaries (initdb, pg_ctl, postgres) were found."""


def _has_required(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED)


def _version_key(path: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin -> numeric sort key ("9.6" < "15" < "16")
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (-1,)


def find_postgres_bindir() -> Path:
    """Directory holding initdb, pg_ctl and postgres; raises PostgresUnavailable."""
    override = os.environ.get(BINDIR_ENV)
    if override:
        if _has_required(Path(override)):
            return Path(override)
        raise PostgresUnavailable(
            f"${BINDIR_ENV}={override} does not contain {', '.join(_REQUIRED)}. {INSTALL_HINT}"
        )

    candidates: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        # PATH often holds symlinks (/usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb);
        # use the real directory so pg_ctl, postgres and createdb all come from one version.
        candidates.append(Path(os.path.realpath(on_path)).parent)
        candidates.append(Path(on_path).parent)
    candidates.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    )
    for bindir in candidates:
        if _has_required(bindir):
            return bindir
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or under "
        f"/usr/lib/postgresql/*/bin. {INSTALL_HINT}"
    )


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, or None when not root."""
    if os.geteuid() != 0:
        return None
    for name in (SERVER_OS_USER, FALLBACK_SYSTEM_USER):
        with suppress(KeyError):
            return pwd.getpwnam(name)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--no-create-home",
            "--home-dir=/nonexistent",
            "--shell=/usr/sbin/nologin",
            "--user-group",
            FALLBACK_SYSTEM_USER,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        # Also covers a concurrent session having created it first.
        return pwd.getpwnam(FALLBACK_SYSTEM_USER)
    except KeyError:
        raise PostgresUnavailable(
            "Running as root, and PostgreSQL refuses to run as root; no 'postgres' user "
            f"exists and creating system user {FALLBACK_SYSTEM_USER!r} failed: "
            f"{result.stderr.strip() or result.returncode}"
        ) from None


class _Runner:
    def __init__(self, bindir: Path, workdir: Path, user: pwd.struct_passwd | None) -> None:
        self.bindir = bindir
        self.workdir = workdir
        self.user = user
        # Keep libpq/server variables of the caller (PGDATA, PGHOST, ...) out of the children.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if user is not None:
            self.env.update(HOME=str(workdir), USER=user.pw_name, LOGNAME=user.pw_name)

    def run(self, tool: str, *args: str, as_server_user: bool = True) -> str:
        argv: Sequence[str] = [str(self.bindir / tool), *args]
        # Dropping privileges this way has the same effect as `setpriv --reuid --regid
        # --clear-groups` or `runuser -u`, without PAM and without needing either tool.
        drop = as_server_user and self.user is not None
        result = subprocess.run(
            argv,
            cwd=self.workdir,  # the server user may not be able to enter the caller's cwd
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
            user=self.user.pw_uid if drop and self.user else None,
            group=self.user.pw_gid if drop and self.user else None,
            extra_groups=[] if drop else None,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} failed with exit status {result.returncode}\n"
                f"{result.stdout}{result.stderr}{self._log_tail()}"
            )
        return result.stdout

    def _log_tail(self) -> str:
        log = self.workdir / "server.log"
        with suppress(OSError):
            lines = log.read_text(errors="replace").splitlines()[-30:]
            if lines:
                return "--- server.log (tail) ---\n" + "\n".join(lines)
        return ""


@contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so `finally` blocks (our cleanup) run.

    KeyboardInterrupt rather than SystemExit: pytest records a SystemExit raised inside
    a test as that test's failure and carries on, but stops the session (running fixture
    teardown) on KeyboardInterrupt, which is what a SIGTERM means.

    Only when SIGTERM still has its default action and we are on the main thread;
    otherwise somebody else owns signal handling and we leave it alone.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"received signal {signum}")

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _create_database(runner: _Runner, socket_dir: Path) -> None:
    if os.access(runner.bindir / "createdb", os.X_OK):
        # A client: no need to drop privileges (root can reach the socket anyway).
        runner.run(
            "createdb",
            f"--host={socket_dir}",
            f"--port={PORT}",
            f"--username={SUPERUSER}",
            DATABASE,
            as_server_user=False,
        )
        return
    import psycopg  # only when the client tools are not next to the server

    with psycopg.connect(
        host=str(socket_dir), port=PORT, user=SUPERUSER, dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{DATABASE}"')


def _url(socket_dir: Path) -> str:
    host = quote(str(socket_dir), safe="")
    return f"postgresql+psycopg://{SUPERUSER}@/{DATABASE}?host={host}&port={PORT}"


@contextmanager
def running_postgres() -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yield a SQLAlchemy URL to a fresh empty database.

    The URL uses the psycopg 3 driver and a unix socket, connecting as superuser
    ``postgres`` without a password, e.g.
    ``postgresql+psycopg://postgres@/supsurvey_test?host=%2Ftmp%2Fsupsurvey-pg-x%2Fsocket&port=5432``.

    Raises PostgresUnavailable if no server binaries are installed.
    """
    with running_postgres_server() as server:
        yield server.url


@dataclass(frozen=True)
class PostgresServer:
    """A running throwaway server that a fault test may stop and start again."""

    url: str
    _runner: _Runner
    _data: Path
    _log: Path

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session (rolling back its transaction) and shuts down cleanly."""
        self._runner.run("pg_ctl", "stop", f"--pgdata={self._data}", f"--mode={mode}", "--wait")

    def start(self) -> None:
        self._runner.run(
            "pg_ctl",
            "start",
            f"--pgdata={self._data}",
            f"--log={self._log}",
            "--wait",
            f"--timeout={START_TIMEOUT_SECONDS}",
            "--silent",
        )

    def restart(self) -> None:
        self.stop()
        self.start()


@contextmanager
def running_postgres_server() -> Iterator[PostgresServer]:
    """As running_postgres, yielding a handle that can also stop and start the server."""
    bindir = find_postgres_bindir()
    user = _server_user()

    with _sigterm_as_exit():
        # As root, stay out of a $TMPDIR the server user might not be able to traverse;
        # /tmp is world-searchable.  Short paths also keep the socket path < 108 bytes.
        base = "/tmp" if user is not None and os.path.isdir("/tmp") else None
        workdir = Path(tempfile.mkdtemp(prefix="supsurvey-pg-", dir=base))
        data = workdir / "data"
        socket_dir = workdir / "socket"
        log = workdir / "server.log"
        runner = _Runner(bindir, workdir, user)
        started = False
        try:
            socket_dir.mkdir()
            log.touch()
            if user is not None:
                for path in (workdir, socket_dir, log):
                    os.chown(path, user.pw_uid, user.pw_gid)

            runner.run(
                "initdb",
                f"--pgdata={data}",
                f"--username={SUPERUSER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            )
            # Later settings override initdb's; the file keeps its owner when root appends.
            with (data / "postgresql.conf").open("a") as conf:
                conf.write(
                    "\n# throwaway test server (tests/support/postgres_server.py)\n"
                    "listen_addresses = ''\n"
                    f"unix_socket_directories = '{socket_dir}'\n"
                    f"port = {PORT}\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n"
                    "full_page_writes = off\n"
                )

            server = PostgresServer(_url(socket_dir), runner, data, log)
            started = True  # from here on a stop is attempted (harmless if start failed)
            server.start()
            _create_database(runner, socket_dir)
            yield server
        finally:
            try:
                if started:
                    _stop(runner, data)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)


def _stop(runner: _Runner, data: Path) -> None:
    pidfile = data / "postmaster.pid"
    if not pidfile.exists():
        return
    try:
        runner.run(
            "pg_ctl",
            "stop",
            f"--pgdata={data}",
            "--mode=immediate",
            "--wait",
            "--silent",
        )
    except RuntimeError as exc:
        # Don't leave an orphan behind, and don't mask the test outcome with a teardown error.
        with suppress(OSError, ValueError, IndexError):
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
        warnings.warn(f"stopping the test PostgreSQL server failed: {exc}", stacklevel=2)
