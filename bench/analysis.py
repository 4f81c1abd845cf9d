"""Releasing two closed waves, and the year-on-year report read from them, against a floor.

For each size, two synthetic waves of that many responses (90 questions, by default 30 teams and
15 role groupings) are loaded into SQLite and PostgreSQL. The floor is the bare GROUP BY count
over the same answers (both waves). The release is what closing a wave runs, once: counts,
tabulation, suppression of every figure together (the mixed-integer programme and its audit)
and storing it. The report is what a reader then waits for: year on year by team, read from
the releases. Prints, per size, both times, `ratio release/floor` and `ratio report/floor`,
`growth 100k->1M` of the report, and peak RSS (goals: a 20,000-staff organisation with 400
teams and 20 role groupings released within 10 minutes and 2 GB).

    python bench/analysis.py [--sizes 10000,100000,1000000] [--backend sqlite|postgresql|both]
    python bench/analysis.py --sizes 20000 --teams 400 --roles 20 --backend sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import resource
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, text

from app.config import Settings
from app.db import make_engine, make_session_factory, transaction
from app.migrate import upgrade
from app.models import WaveStatus
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import create_wave, publish_definition, published_version
from tests.support.postgres_server import running_postgres

SURVEY = "bench-synthetic"
TEAMS = 30
ROLES = 15
SECTIONS = 9
ITEMS = 10
BATCH = 20_000


def synthetic_definition(
    version: str, previous: str | None, teams: int = TEAMS, roles: int = ROLES
) -> SurveyDefinition:
    scale = [
        {"code": "always", "label": "Yes, always", "positive": True},
        {"code": "most", "label": "Most times", "positive": True},
        {"code": "sometimes", "label": "Sometimes"},
        {"code": "never", "label": "Hardly ever / never"},
    ]
    na = [{"code": "na", "label": "Not applicable to my role", "excluded_from_base": True}]
    sections = []
    for s in range(SECTIONS):
        items = []
        for i in range(ITEMS):
            key = f"q{s}_{i}"
            item: dict[str, Any] = {
                "key": key,
                "number": f"{s + 1}{'abcdefghij'[i]}",
                "text": f"Item {key}?",
            }
            if i % 5 == 4:
                item["extra_options"] = na
            if previous:
                item["continues"] = {"question": key, "comparability": "comparable"}
            items.append(item)
        sections.append(
            {
                "key": f"s{s}",
                "title": f"Section {s + 1}",
                "questions": [
                    {
                        "type": "grid",
                        "key": f"g{s}",
                        "number": str(s + 1),
                        "stem": "Do you ...",
                        "scale": "always4",
                        "items": items,
                    }
                ],
            }
        )
    return SurveyDefinition.model_validate(
        {
            "survey": SURVEY,
            "survey_title": "Synthetic",
            "version": version,
            "title": f"Synthetic {version}",
            "organisation": "Bench",
            "fieldwork": {"opens": "2026-01-01", "closes": "2026-12-31"},
            "previous_version": previous,
            "population": {
                "teams": [
                    {"key": f"t{t}", "name": f"Team {t}", "headcount": 10} for t in range(teams)
                ],
                "role_groupings": [{"key": f"r{r}", "name": f"Role {r}"} for r in range(roles)],
            },
            "scales": {"always4": {"options": scale}},
            "sections": sections,
        }
    )


def load(
    engine: Engine, size: int, rng: random.Random, teams: int = TEAMS, roles: int = ROLES
) -> None:
    """Publish both versions, make both waves, and bulk-load `size` responses into each."""
    factory = make_session_factory(engine)
    for version, previous in (("y1", None), ("y2", "y1")):
        definition = synthetic_definition(version, previous, teams, roles)
        headcount = max(10, round(size / teams * 1.3))
        definition = definition.model_copy(
            update={
                "population": definition.population.model_copy(
                    update={
                        "teams": [
                            t.model_copy(update={"headcount": headcount})
                            for t in definition.population.teams
                        ]
                    }
                )
            }
        )
        with transaction(factory) as session:
            stored, _ = publish_definition(session=session, definition=definition)
            wave = create_wave(
                session=session,
                survey_key=SURVEY,
                wave_key=version,
                version_key=version,
                opens_on=dt.date(2026, 1, 1),
                closes_on=dt.date(2026, 12, 31),
                status=WaveStatus.closed,
            )
            published = published_version(session=session, version=stored)
            wave_id = wave.id
        _bulk(engine, published, wave_id, size, rng)


def _bulk(engine: Engine, published: Any, wave_id: int, size: int, rng: random.Random) -> None:
    teams = list(published.team_ids.values())
    roles = list(published.role_ids.values())
    questions = [
        (published.question_ids[q.key], list(published.option_ids[q.key].values()))
        for q in published.questions
    ]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for start in range(0, size, BATCH):
            responses, answers = [], []
            for _ in range(min(BATCH, size - start)):
                response_id = uuid.UUID(int=rng.getrandbits(128), version=4).hex
                responses.append((response_id, wave_id, rng.choice(teams), rng.choice(roles)))
                answers.extend(
                    (response_id, question, rng.choice(options)) for question, options in questions
                )
            if engine.dialect.name == "postgresql":
                _copy(
                    cursor,
                    "responses (id, wave_id, team_id, role_grouping_id)",
                    responses,
                )
                _copy(cursor, "answers (response_id, question_id, option_id)", answers)
            else:
                cursor.executemany("INSERT INTO responses VALUES (?, ?, ?, ?)", responses)
                cursor.executemany("INSERT INTO answers VALUES (?, ?, ?)", answers)
            raw.commit()
        if engine.dialect.name == "postgresql":
            cursor.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()


def _copy(cursor: Any, target: str, rows: list[tuple[Any, ...]]) -> None:
    buffer = io.StringIO("".join("\t".join(map(str, row)) + "\n" for row in rows))
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:
        copy.write(buffer.getvalue())


FLOOR = text(
    "SELECT r.team_id, a.question_id, a.option_id, count(*) FROM answers a "
    "JOIN responses r ON r.id = a.response_id WHERE r.wave_id = :wave "
    "GROUP BY r.team_id, a.question_id, a.option_id"
)


def floor(engine: Engine) -> None:
    with engine.connect() as connection:
        for wave in connection.execute(text("SELECT id FROM waves ORDER BY key")).scalars().all():
            connection.execute(FLOOR, {"wave": wave}).all()


def release_both(engine: Engine) -> None:
    """Both waves released from their counts, as closing them does."""
    from app.releases.service import release
    from app.responses.service import load_wave

    factory = make_session_factory(engine)
    with transaction(factory) as session:
        for wave in ("y1", "y2"):
            opened = load_wave(session=session, survey_key=SURVEY, wave_key=wave)
            release(session=session, wave=opened, actor=None)


def report(engine: Engine) -> None:
    """What a reader waits for once the waves are released."""
    from app.reports.service import year_on_year_report

    factory = make_session_factory(engine)
    with transaction(factory) as session:
        year_on_year_report(
            session=session, survey_key=SURVEY, from_wave="y1", to_wave="y2", by="team"
        )


def _best(run: Callable[[], None], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


@contextmanager
def _database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(
            dir=Path(__file__).resolve().parent.parent / "var"
        ) as directory:
            yield f"sqlite:///{Path(directory) / 'analysis.db'}"
    else:
        with running_postgres() as url:
            yield url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--teams", type=int, default=TEAMS)
    parser.add_argument("--roles", type=int, default=ROLES)
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    backends = ["sqlite", "postgresql"] if options.backend == "both" else [options.backend]
    (Path(__file__).resolve().parent.parent / "var").mkdir(exist_ok=True)
    for backend in backends:
        report_times: dict[int, float] = {}
        for size in sizes:
            with _database(backend) as url:
                engine = make_engine(Settings(environment="test", database_url=url, _env_file=None))  # type: ignore[call-arg]
                upgrade(engine)
                started = time.perf_counter()
                load(engine, size, random.Random(size), options.teams, options.roles)
                loaded = time.perf_counter() - started
                floor_time = _best(lambda engine=engine: floor(engine), options.rounds)
                started = time.perf_counter()
                release_both(engine)
                release_time = time.perf_counter() - started
                report_time = _best(lambda engine=engine: report(engine), options.rounds)
                report_times[size] = report_time
                engine.dispose()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"{backend:10} {size:>9,} responses {options.teams} teams "
                f"{options.roles} roles  load {loaded:6.1f}s  floor {floor_time:7.3f}s  "
                f"release {release_time:7.1f}s  ratio release/floor "
                f"{release_time / floor_time:.1f}  report {report_time:7.3f}s  "
                f"ratio report/floor {report_time / floor_time:.2f}  peak RSS {peak:.0f} MB",
                flush=True,
            )
        if 100_000 in report_times and 1_000_000 in report_times:
            print(
                f"{backend:10} growth 100k->1M "
                f"{report_times[1_000_000] / report_times[100_000]:.1f}"
            )


if __name__ == "__main__":
    main()
