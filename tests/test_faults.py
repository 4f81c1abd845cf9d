"""Faults while staff are answering, against a real two-worker server on a PostgreSQL of its own:
the database restarted under submissions in flight, and a worker killed mid-load.

No response the server acknowledged may be lost; whatever it did not acknowledge got a 503 that
says to try again (or no answer at all, from a killed worker), and trying again worked, from the
draft as it was. The service recovers by itself.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
from collections.abc import Iterator

import httpx2 as httpx
import pytest
from sqlalchemy import create_engine, text

from app.errors import DATABASE_UNAVAILABLE
from bench.load import (
    BASE,
    CONFIRMED,
    Audit,
    Before,
    Journey,
    Rush,
    audit,
    before,
    crowd,
    prepare,
    rush,
    server_environment,
)
from tests.support.live_server import LiveServer, live_server
from tests.support.postgres_server import (
    PostgresServer,
    PostgresUnavailable,
    running_postgres_server,
)

pytestmark = pytest.mark.postgres

WORKERS = 2
STAFF = 30
SUBMIT_SPREAD_SECONDS = 1.5
"""The held submissions go over this long, the restart beginning a fifth of the way in."""


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    """A server of its own, to restart, with the demo seeded. Commits wait for the WAL flush, as
    in production (the shared test server does not wait)."""
    try:
        with running_postgres_server() as server:
            prepare(server.url)
            admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text("ALTER SYSTEM SET synchronous_commit = on"))
                connection.execute(text("SELECT pg_reload_conf()"))
            admin.dispose()
            yield server
    except PostgresUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {error}")
        pytest.skip(f"PostgreSQL not available: {error}")


def _checked(
    postgres: PostgresServer, secret_key: str, journeys: list[Journey], earlier: Before
) -> Audit:
    checked = audit(postgres.url, secret_key, journeys, earlier)
    assert (checked.lost, checked.without_receipt, checked.duplicates, checked.partial) == (
        0,
        0,
        0,
        0,
    ), checked
    assert checked.acknowledged == checked.stored == checked.receipts == len(journeys)
    return checked


def _only_unavailable(result: Rush) -> None:
    """Every 5xx the browsers saw was the retryable 503, none a 500."""
    assert [error for error in result.traffic.server_errors if not error.startswith("503 ")] == []


def test_database_restart_under_submissions_loses_no_acknowledged_response(
    postgres: PostgresServer,
) -> None:
    earlier = before(postgres.url)
    secret_key = secrets.token_urlsafe(32)
    with live_server(server_environment(postgres.url, secret_key), workers=WORKERS) as server:
        workers = server.worker_pids()
        postgres.stop()
        try:
            page = httpx.get(f"{server.url}{BASE}")
            api = httpx.get(f"{server.url}/healthz", headers={"Accept": "application/json"})
        finally:
            postgres.start()
        result = asyncio.run(_submit_across_a_restart(server, postgres, staff=STAFF))
        recovered = httpx.get(f"{server.url}/healthz")
        assert server.worker_pids() == workers, "recovered without restarting any worker"

    assert page.status_code == 503 and page.headers["retry-after"] == "5"
    assert "Sorry, the service is unavailable" in page.text and DATABASE_UNAVAILABLE in page.text
    assert api.status_code == 503
    assert api.json() == {"detail": DATABASE_UNAVAILABLE, "retryable": True}
    assert recovered.status_code == 200

    assert result.failures == [], "every refused submission went through when tried again"
    _only_unavailable(result)
    assert result.traffic.dropped.total() == 0
    refused = result.traffic.server_errors.count("503 POST submit")
    assert refused > 0, "the restart should have caught submissions in flight"
    # Stored once and whole: so the draft a refused submission came from was still there.
    checked = _checked(postgres, secret_key, result.journeys, earlier)
    # A double click's second click, refused and tried again after the first was confirmed, has
    # no draft cookie left: it is sent to the start page, its answers already stored (above).
    after_confirmation = [
        landing
        for journey in result.journeys
        for landing in journey.submit_replies
        if landing != CONFIRMED
    ]
    assert set(after_confirmation) <= {"303 start page"}
    print(
        f"\ndatabase restart: acknowledged {checked.acknowledged}, stored {checked.stored}, "
        f"lost {checked.lost}; submissions refused with 503 {refused} "
        f"(all 503s {len(result.traffic.server_errors)}), each tried again and stored; "
        f"second clicks sent to the start page after their first was confirmed "
        f"{len(after_confirmation)}"
    )


async def _submit_across_a_restart(
    server: LiveServer, postgres: PostgresServer, staff: int
) -> Rush:
    """Everyone answers up to the check page and waits there; then they send over
    SUBMIT_SPREAD_SECONDS while the database restarts."""
    waiting = 0
    everyone_waiting = asyncio.Event()
    send = asyncio.Event()

    async def hold_then_send(journey: Journey) -> None:
        nonlocal waiting
        waiting += 1
        if waiting == staff:
            everyone_waiting.set()
        await send.wait()
        await asyncio.sleep(SUBMIT_SPREAD_SECONDS * (journey.staff.number % staff) / staff)

    running = asyncio.create_task(
        rush(server.url, crowd(staff, rush_seconds=2.0), deadline_seconds=90.0, gate=hold_then_send)
    )
    ready = asyncio.create_task(everyone_waiting.wait())
    await asyncio.wait([running, ready], return_when=asyncio.FIRST_COMPLETED)
    send.set()
    await asyncio.sleep(SUBMIT_SPREAD_SECONDS / 5)
    await asyncio.to_thread(postgres.restart)
    ready.cancel()
    return await running


def test_killed_worker_loses_no_acknowledged_response(postgres: PostgresServer) -> None:
    earlier = before(postgres.url)
    secret_key = secrets.token_urlsafe(32)
    with live_server(server_environment(postgres.url, secret_key), workers=WORKERS) as server:
        victim = min(server.worker_pids())
        during = asyncio.run(_kill_mid_rush(server, victim, staff=STAFF))
        server.wait_for_workers(started=WORKERS + 1)
        replaced = server.worker_pids()
        after = asyncio.run(rush(server.url, crowd(10, 1.0, first=1000), deadline_seconds=60.0))

    assert victim not in replaced and len(replaced) == WORKERS, "uvicorn started another worker"
    assert during.failures == [] and after.failures == []
    _only_unavailable(during)
    assert after.traffic.server_errors == [] and after.traffic.dropped.total() == 0
    checked = _checked(postgres, secret_key, during.journeys + after.journeys, earlier)
    print(
        f"\nworker killed: acknowledged {checked.acknowledged}, stored {checked.stored}, "
        f"lost {checked.lost}; connections dropped {during.traffic.dropped.total()} "
        f"{dict(during.traffic.dropped)}, 503s {len(during.traffic.server_errors)}; "
        f"{len(after.journeys)} journeys after the replacement all stored"
    )


async def _kill_mid_rush(server: LiveServer, victim: int, staff: int) -> Rush:
    running = asyncio.create_task(
        rush(server.url, crowd(staff, rush_seconds=2.0), deadline_seconds=90.0)
    )
    await asyncio.sleep(2.5)  # every journey begun, most far from done
    assert not running.done()
    os.kill(victim, signal.SIGKILL)
    return await running
