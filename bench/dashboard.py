"""Scrutiny pages served per second, against the report calls they make, in the same run.

Two sizes: the Coventry demo (370 and 387 responses) and two synthetic waves of 100k responses
each (bench/analysis.py's generator: 30 teams, 15 role groupings, 90 questions). For each, the
overview and a year-on-year page are requested through the app, signed in as scrutiny, and the
same report service calls are then made alone, each in its own session as a request has. Both
are warm (the suppressed results of a closed wave are kept), so the ratio is what rendering
(tables, plotly figures, the template) costs beside the analysis. Prints `ratio page/analysis`
per page and size (target >= 0.5).

    python bench/dashboard.py [--sizes demo,100000] [--requests N] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2 as httpx
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.accounts.service import create_user
from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory, transaction
from app.demo.seed import seed_demo
from app.main import create_app
from app.migrate import upgrade
from app.reports.service import (
    comparison_filters,
    indicators_report,
    response_profile_by_wave,
    survey_outline,
    year_on_year_report,
)
from bench.analysis import SURVEY as SYNTHETIC
from bench.analysis import _database, load

PASSWORD = "bench password, long enough"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Case:
    """One survey to read: its pages' addresses and the wave pair and section they show."""

    survey: str
    from_wave: str
    to_wave: str
    section: str

    @property
    def overview(self) -> str:
        return f"/results/{self.survey}"

    @property
    def year_on_year(self) -> str:
        return (
            f"/results/{self.survey}/compare?from={self.from_wave}&to={self.to_wave}"
            f"&section={self.section}"
        )


def prepare(engine: Engine, size: str) -> Case:
    """The data for one size, and a scrutiny account to read it with."""
    upgrade(engine)
    factory = make_session_factory(engine)
    if size == "demo":
        definitions = PROJECT_ROOT / "survey_definitions"
        seed_demo(factory, definitions_dir=definitions, echo=lambda _line: None)
        case = Case("coventry-supervision", "2014", "2015", "task_assistance")
    else:
        load(engine, int(size), random.Random(int(size)))
        case = Case(SYNTHETIC, "y1", "y2", "s1")
    with transaction(factory) as session:
        create_user(
            session=session, email="bench@example.org", roles=["scrutiny"], password=PASSWORD
        )
    return case


def overview_analysis(session: Session, case: Case, today: dt.date) -> None:
    """The report calls the overview makes."""
    outline = survey_outline(session=session, survey_key=case.survey, today=today)
    response_profile_by_wave(session=session, survey_key=case.survey, today=today)
    indicators_report(session=session, survey_key=case.survey, today=today)
    for comparison in outline.comparisons:
        year_on_year_report(
            session=session, survey_key=case.survey, from_wave=comparison.from_wave,
            to_wave=comparison.to_wave, today=today,
        )  # fmt: skip


def year_on_year_analysis(session: Session, case: Case, today: dt.date) -> None:
    """The report calls a year-on-year page (one section, all teams) makes."""
    survey_outline(session=session, survey_key=case.survey, today=today)
    comparison_filters(
        session=session, survey_key=case.survey, from_wave=case.from_wave,
        to_wave=case.to_wave, today=today,
    )  # fmt: skip
    year_on_year_report(
        session=session, survey_key=case.survey, from_wave=case.from_wave,
        to_wave=case.to_wave, section=case.section, today=today,
    )  # fmt: skip


async def pages_per_second(app: FastAPI, path: str, requests: int) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        form = await client.get("/sign-in")
        token = CSRF.search(form.text)
        assert token, "the sign-in page has a CSRF token"
        signed = await client.post(
            "/sign-in",
            data={"csrf": token.group(1), "email": "bench@example.org", "password": PASSWORD},
        )
        assert signed.status_code == 303, signed.text
        warm = await client.get(path)  # the cold suppression is bench/analysis.py's business
        assert warm.status_code == 200, (path, warm.status_code, warm.text[:500])
        started = time.perf_counter()
        for _ in range(requests):
            reply = await client.get(path)
            assert reply.status_code == 200, path
        return requests / (time.perf_counter() - started)


def calls_per_second(engine: Engine, run: Callable[[Session], None], requests: int) -> float:
    factory = make_session_factory(engine)
    started = time.perf_counter()
    for _ in range(requests):
        with transaction(factory) as session:
            run(session)
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="demo,100000")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    options = parser.parse_args()
    (PROJECT_ROOT / "var").mkdir(exist_ok=True)
    for size in options.sizes.split(","):
        with _database(options.backend) as url:
            settings = Settings(environment="test", database_url=url, _env_file=None)  # type: ignore[call-arg]
            engine = make_engine(settings)
            started = time.perf_counter()
            case = prepare(engine, size)
            loaded = time.perf_counter() - started
            app = create_app(settings)
            today = dt.date.today()
            label = "demo" if size == "demo" else f"{int(size):,}/wave"
            print(f"{options.backend:10} {label:>12}  loaded in {loaded:.1f}s", flush=True)
            for page, path, analysis in (
                ("overview", case.overview, overview_analysis),
                ("year on year", case.year_on_year, year_on_year_analysis),
            ):
                served = asyncio.run(pages_per_second(app, path, options.requests))
                alone = calls_per_second(
                    engine,
                    lambda session, run=analysis, case=case, today=today: run(session, case, today),
                    options.requests,
                )
                print(
                    f"{options.backend:10} {label:>12}  {page:12}  page {served:7.1f}/s  "
                    f"analysis {alone:7.1f}/s  ratio page/analysis {served / alone:.2f}",
                    flush=True,
                )
            engine.dispose()


if __name__ == "__main__":
    main()
