"""Respondent pages served per second, against /healthz in the same run.

Whole 2015 questionnaires are answered through the pages (start, team and role, every section,
check, send, confirmation) in process; the same number of requests then goes to /healthz.
Prints `ratio pages/healthz` (target >= 0.25).

    python bench/respond.py [--journeys N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2 as httpx
from fastapi import FastAPI

from app.config import Settings
from app.db import make_session_factory, transaction
from app.main import create_app
from app.models import WaveStatus
from app.surveys.service import create_wave
from bench.submit import _prepare

SURVEY = "coventry-supervision"
BASE = f"/s/{SURVEY}/respond"
CHOSEN = {"team": "cf_first", "role": "social_worker", "gives_supervision": "no"}


FORM = re.compile(r'<form method="post" action="([^"]+)"')
HIDDEN = re.compile(r'type="hidden" name="(\w+)" value="([^"]*)"')
RADIO = re.compile(r'name="(\w+)" type="radio" value="(\w+)"')


def _answers(html: str) -> tuple[str, dict[str, str | list[str]]]:
    """The client's share of the work kept small (a regex, not an HTML parser), so the figure is
    the server's: the page's form address, its hidden fields, and the first answer to each."""
    actions = [a for a in FORM.findall(html) if not a.endswith("/start")]
    data: dict[str, str | list[str]] = {"action": "continue"}
    for name, value in HIDDEN.findall(html):
        if name == "shown":
            data.setdefault("shown", [])
            data["shown"].append(value)  # type: ignore[union-attr]
        else:
            data[name] = value
    for name, value in RADIO.findall(html):
        data.setdefault(name, CHOSEN.get(name, value))
    return actions[-1], data


async def journey(client: httpx.AsyncClient) -> int:
    """One respondent from start to confirmation; returns the number of requests made."""
    start = await client.get(BASE)
    token = dict(HIDDEN.findall(start.text))["csrf"]
    reply = await client.post(f"{BASE}/start", data={"csrf": token})
    requests = 2
    while True:
        if reply.status_code == 303:
            location = reply.headers["location"]
            reply = await client.get(location)
            requests += 1
            if location.endswith("/done"):
                return requests
        elif reply.status_code != 200:
            raise SystemExit(f"journey stopped at {reply.status_code} {reply.url}")
        # A page to answer (or the same page again, with a follow-up question on it).
        action, data = _answers(reply.text)
        reply = await client.post(action, data=data)
        requests += 1


async def run(app: FastAPI, journeys: int) -> tuple[float, float, int]:
    transport = httpx.ASGITransport(app=app)
    served = 0
    started = time.perf_counter()
    for _ in range(journeys):
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            served += await journey(client)
    pages_rate = served / (time.perf_counter() - started)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        started = time.perf_counter()
        for _ in range(served):
            await client.get("/healthz")
        health_rate = served / (time.perf_counter() - started)
    return pages_rate, health_rate, served


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--journeys", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(
            environment="test",
            database_url=f"sqlite:///{Path(directory) / 'respond.db'}",
            _env_file=None,
        )  # type: ignore[call-arg]
        engine, _, _ = _prepare(settings)
        with transaction(make_session_factory(engine)) as session:
            today = dt.date.today()
            create_wave(
                session=session, survey_key=SURVEY, wave_key="respond", version_key="2015",
                opens_on=today, closes_on=today, status=WaveStatus.open,
            )  # fmt: skip
        app = create_app(settings)
        asyncio.run(run(app, 2))  # warm up: templates compiled, version parsed once
        pages, health, served = asyncio.run(run(app, options.journeys))
    print(f"pages {pages:7.0f}/s  healthz {health:7.0f}/s  ({served} requests each)")
    print(f"ratio pages/healthz {pages / health:.2f}")


if __name__ == "__main__":
    main()
