"""The app served as production serves it, in a subprocess: `supervision-survey serve` with
several uvicorn worker processes.

    with live_server({"DATABASE_URL": url, "SECRET_KEY": secret}, workers=2) as server:
        httpx.get(f"{server.url}/healthz")

Each worker builds the app from the environment (`create_app()` reads the settings). The output
goes to a log file, not a pipe, so a chatty server can never block on a full pipe. On exit the
server gets SIGTERM (uvicorn's graceful shutdown stops its workers), then SIGKILL, workers first,
if it has not gone within a few seconds. Linux only: workers are found through /proc.

Deliberately free of pytest so benchmarks and scripts can use it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.config import PROJECT_ROOT

__all__ = ["LiveServer", "live_server"]

SERVE = Path(sys.executable).with_name("supervision-survey")
"""The console script installed beside this interpreter (`pip install -e .`)."""
STARTED = "Application startup complete"
"""What each uvicorn worker logs once it is ready to take requests."""
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class LiveServer:
    url: str
    """e.g. http://127.0.0.1:41234 (no trailing slash)"""
    process: subprocess.Popen[bytes]
    log: Path
    workers: int

    def worker_pids(self) -> set[int]:
        """The master's worker processes now (multiprocessing children running the app)."""
        workers = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == self.process.pid and b"spawn_main" in command:
                workers.add(int(entry.name))
        return workers

    def workers_started(self) -> int:
        """How many workers have come up since the server started, restarted ones included."""
        return self.log.read_text(errors="replace").count(STARTED)

    def wait_for_workers(self, started: int, timeout: float = START_TIMEOUT_SECONDS) -> None:
        """Until `started` workers have come up in all, and the full number is running now."""
        deadline = time.monotonic() + timeout
        while self.workers_started() < started or len(self.worker_pids()) != self.workers:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{started} workers did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def live_server(environment: Mapping[str, str], *, workers: int = 2) -> Iterator[LiveServer]:
    """Serve the app on 127.0.0.1 with `workers` processes, `environment` added to this process's
    own; yields once every worker has started."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="supsurvey-server-") as directory:
        log = Path(directory) / "server.log"
        argv = [
            str(SERVE), "serve",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        ]  # fmt: skip
        with log.open("wb") as output:
            process = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env={**os.environ, **environment},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        server = LiveServer(f"http://127.0.0.1:{port}", process, log, workers)
        try:
            server.wait_for_workers(workers)
            yield server
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                for worker in server.worker_pids():
                    os.kill(worker, signal.SIGKILL)
                process.kill()
                process.wait()
