"""Fixtures. Every database test runs twice: on SQLite and on a real PostgreSQL that this test
session starts itself. Each test gets a fresh database built by the real migrations."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory, transaction
from app.demo.seed import seed_demo
from app.main import create_app
from app.migrate import upgrade
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import publish_definition
from app.surveys.validation import load_definitions
from tests.support.postgres_server import PostgresUnavailable, running_postgres

DATA = Path(__file__).parent / "data"
COVENTRY_DIR = PROJECT_ROOT / "survey_definitions" / "coventry-supervision"
TEMPLATE = "supsurvey_migrated"
_database_numbers = itertools.count()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The server's URL, with a template database already migrated to head."""
    try:
        with running_postgres() as url:
            admin = create_engine(url, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f"CREATE DATABASE {TEMPLATE}"))
            template_engine = make_engine(_settings(_with_database(url, TEMPLATE)))
            upgrade(template_engine)
            template_engine.dispose()
            yield url
            admin.dispose()
    except PostgresUnavailable as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI: {error}")
        pytest.skip(f"PostgreSQL not available: {error}")


def _with_database(url: str, database: str) -> str:
    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _settings(database_url: str) -> Settings:
    return Settings(environment="test", database_url=database_url, _env_file=None)  # type: ignore[call-arg]


def fresh_postgres_database(server_url: str, *, migrated: bool = True) -> str:
    name = f"supsurvey_test_{os.getpid()}_{next(_database_numbers)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        template = f" TEMPLATE {TEMPLATE}" if migrated else ""
        connection.execute(text(f"CREATE DATABASE {name}{template}"))
    admin.dispose()
    return _with_database(server_url, name)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no schema at all."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    server = request.getfixturevalue("postgres_server")
    return fresh_postgres_database(server, migrated=False)


def migrated_database(request: pytest.FixtureRequest, directory: Path) -> str:
    """A new database migrated to head, on the backend the test is parametrised with."""
    if request.param == "sqlite":
        return migrated_sqlite(directory)
    return fresh_postgres_database(request.getfixturevalue("postgres_server"))


def migrated_sqlite(directory: Path) -> str:
    """For tests of what sits above the database, where a second backend would add nothing."""
    url = f"sqlite:///{directory / 'test.db'}"
    engine = make_engine(_settings(url))
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return migrated_database(request, tmp_path)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return _settings(database_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def coventry_definitions() -> dict[str, SurveyDefinition]:
    loaded = load_definitions(sorted(COVENTRY_DIR.glob("*.yaml")))
    return {definition.version: definition for definition in loaded}


@pytest.fixture
def coventry(
    session_factory: sessionmaker[Session], coventry_definitions: dict[str, SurveyDefinition]
) -> dict[str, SurveyDefinition]:
    """Both Coventry versions published, no waves yet."""
    for version in ("2014", "2015"):
        with transaction(session_factory) as session:
            publish_definition(session=session, definition=coventry_definitions[version])
    return coventry_definitions


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


DEMO_TODAY = dt.date(2026, 11, 23)
"""The demo's 2014 and 2015 waves are closed by then and 2016 is open."""


@pytest.fixture(scope="session", params=BACKENDS)
def demo_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding the whole Coventry demo, shared by every test that reads it (so its
    closed waves are suppressed once per test run): add staff users with `staff_tokens`, but
    change nothing the demo's figures depend on."""
    url = migrated_database(request, tmp_path_factory.mktemp("demo"))
    engine = make_engine(_settings(url))
    seed_demo(
        make_session_factory(engine),
        definitions_dir=COVENTRY_DIR.parent,
        echo=lambda _line: None,
        today=DEMO_TODAY,
    )
    engine.dispose()
    return url


SLOW_MODULES = {
    "test_load.py",
    "test_faults.py",
    "test_hostile_input.py",
    "test_schema_fuzz.py",
    "test_printable.py",
    "test_container.py",
}
"""Whole-service tests that take a minute or more each: `make test` runs them, `make test-fast`
does not."""


ABOVE_THE_DATABASE = {
    "test_access.py",
    "test_channels.py",
    "test_dashboards.py",
    "test_exports.py",
    "test_hostile_input.py",
    "test_printable.py",
    "test_schema_fuzz.py",
    "test_security_headers.py",
}
"""Who may use a route, pages, exports, the printable report, and what hostile or fuzzed requests
get: they read through the same services the database tests run on both backends, and are
refused before any query, so they run on SQLite alone. (A single test says so with the
`sqlite_only` marker.)"""


def _on_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    return callspec is not None and any(
        isinstance(value, str) and value == "postgresql" for value in callspec.params.values()
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    kept, deselected = [], []
    for item in items:
        path = item.path
        if "browser" in path.parts:
            item.add_marker(pytest.mark.browser)
        if path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        above_the_database = path.name in ABOVE_THE_DATABASE or item.get_closest_marker(
            "sqlite_only"
        )
        (deselected if above_the_database and _on_postgres(item) else kept).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept
