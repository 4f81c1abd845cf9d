"""Request ids, the access log (route patterns, never raw paths, queries, addresses or bodies),
JSON lines from `serve`, and /metrics (who may read it, and that its figures are the database's)."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import Message
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.main import create_app
from app.metrics import MULTIPROCESS_DIRECTORY
from app.observability import (
    JsonFormatter,
    RequestIdFilter,
    current_request_id,
    logging_config,
)
from app.surveys.definitions import SurveyDefinition
from tests.support.factories import create_wave_for_test
from tests.support.journey import forms, start
from tests.support.live_server import live_server
from tests.support.small_site import CLOSED_WAVES, RESPONSES_PER_TEAM, TEAMS, build_small_site

TOKEN = "metrics-token-for-tests-0123456789"
SURVEY = "coventry-supervision"
BASE = f"/s/{SURVEY}/2016"
RESUME_KEY = "ABCDE-FGHJK-MNPQR-STUVW"


def _access(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "app.access"]


@pytest.fixture
def app(
    settings: Settings,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
) -> FastAPI:
    """An open wave (2016) for respondents; no responses."""
    create_wave_for_test(
        session_factory, wave="2016", version="2015", opens_in_days=-1, closes_in_days=20
    )
    return create_app(settings.model_copy(update={"metrics_token": TOKEN}))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def populated(
    settings: Settings,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
) -> Iterator[TestClient]:
    """The small site: a closed wave with responses from two teams, and an open one."""
    build_small_site(settings, session_factory)
    with TestClient(create_app(settings.model_copy(update={"metrics_token": TOKEN}))) as client:
        yield client


def _scrape(client: TestClient) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name -> {sorted labels: value}, from the Prometheus text /metrics answered."""
    reply = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=")
    return _samples(reply.text)


def _samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


# Request ids


def test_a_well_formed_request_id_is_kept_and_echoed(client: TestClient) -> None:
    offered = str(uuid.uuid4())
    assert client.get("/healthz", headers={"x-request-id": offered}).headers["x-request-id"] == (
        offered
    )


@pytest.mark.parametrize(
    "offered", ["", "x" * 65, "has space", "semi;colon", "<script>", "ünïcode"]
)
def test_a_malformed_request_id_is_replaced(client: TestClient, offered: str) -> None:
    headers = {"x-request-id": offered.encode()}
    given = client.get("/healthz", headers=headers).headers["x-request-id"]
    assert given != offered and len(given) == 32 and int(given, 16) >= 0


def test_each_request_gets_its_own_id(client: TestClient) -> None:
    ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
    assert len(ids) == 5


# The access log


def test_the_access_log_has_the_route_pattern_status_duration_and_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    caplog.handler.addFilter(RequestIdFilter())
    start(client, BASE)
    draft = client.cookies["draft"]
    page = client.get(f"{BASE}/resume?key={RESUME_KEY}", headers={"x-request-id": "req-1"})
    (form,) = [f for f in forms(page.text) if f.action.endswith("/resume")]
    reply = client.post(form.action, data={"csrf": form.hidden["csrf"][0], "key": RESUME_KEY})
    assert reply.status_code == 422
    entries = [json.loads(JsonFormatter().format(record)) for record in _access(caplog)]
    assert [(entry["route"], entry["status"]) for entry in entries] == [
        ("/s/{survey}/{wave_key}", 200),
        ("/s/{survey}/{wave_key}/start", 303),
        ("/s/{survey}/{wave_key}/resume", 200),
        ("/s/{survey}/{wave_key}/resume", 422),
    ]
    assert entries[2] == {
        "time": entries[2]["time"],
        "level": "INFO",
        "logger": "app.access",
        "message": f"GET /s/{{survey}}/{{wave_key}}/resume 200 {entries[2]['duration_ms']:.1f} ms",
        "method": "GET",
        "route": "/s/{survey}/{wave_key}/resume",
        "status": 200,
        "duration_ms": entries[2]["duration_ms"],
        "request_id": "req-1",
    }
    assert entries[2]["duration_ms"] > 0
    logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    for private in (RESUME_KEY, draft, "coventry-supervision", "testclient", "key="):
        assert private not in logged


def test_every_record_carries_the_id_of_the_request_it_was_logged_in(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    caplog.handler.addFilter(RequestIdFilter())
    client.get("/healthz", headers={"x-request-id": "first-request"})
    client.get("/no-such-page", headers={"x-request-id": "second-request"})
    (first, second) = _access(caplog)
    assert (first.request_id, second.request_id) == ("first-request", "second-request")  # type: ignore[attr-defined]
    assert (second.route, second.status) == ("(unmatched)", 404)  # type: ignore[attr-defined]


def test_a_request_that_raises_is_logged_as_a_500(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken/{thing}", broken)
    caplog.set_level(logging.INFO, logger="app.access")
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/broken/1").status_code == 500
    (entry,) = _access(caplog)
    assert (entry.route, entry.status) == ("/broken/{thing}", 500)  # type: ignore[attr-defined]


def test_the_servers_own_traceback_of_a_failed_request_carries_its_id(app: FastAPI) -> None:
    """uvicorn logs an escaped exception in the task that served the request, after the app has
    returned: the id must still be set there."""

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    async def serve_once() -> str:
        scope = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
            "scheme": "http", "path": "/broken", "raw_path": b"/broken", "root_path": "",
            "query_string": b"", "headers": [(b"x-request-id", b"trace-me")],
            "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        }  # fmt: skip
        with pytest.raises(RuntimeError):
            await app(scope, receive, send)
        return current_request_id.get()  # what RequestIdFilter stamps on the server's record

    assert asyncio.run(serve_once()) == "trace-me"
    assert sent[0]["status"] == 500


def test_static_files_are_logged_under_their_mount(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.access")
    client.get("/static/app.css")
    (entry,) = _access(caplog)
    assert entry.route == "/static/{path}"  # type: ignore[attr-defined]


def test_json_lines_carry_exceptions_and_extra_fields() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.getLogger("app.test").makeRecord(
            "app.test", logging.ERROR, __file__, 1, "failed %s", ("once",), sys.exc_info()
        )
    record.request_id = "abc"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "failed once"
    assert entry["request_id"] == "abc"
    assert entry["level"] == "ERROR"
    assert "ValueError: boom" in entry["exception"]
    assert entry["time"].endswith("+00:00")


@pytest.mark.parametrize(
    ("environment", "log_format", "expected"),
    [
        ("production", None, "json"),
        ("development", None, "text"),
        ("production", "text", "text"),
        ("test", "json", "json"),
    ],
)
def test_serve_logs_json_in_production_and_turns_uvicorns_access_log_off(
    monkeypatch: pytest.MonkeyPatch,
    environment: str,
    log_format: str | None,
    expected: str,
) -> None:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    env = {"ENVIRONMENT": environment, "SECRET_KEY": "s" * 40}
    if log_format is not None:
        env["LOG_FORMAT"] = log_format
    result = CliRunner().invoke(cli, ["serve"], env=env)
    assert result.exit_code == 0, result.output
    (kwargs,) = calls
    assert kwargs["access_log"] is False
    assert kwargs["log_config"] == logging_config(expected)  # type: ignore[arg-type]
    assert kwargs["log_config"]["handlers"]["stderr"]["formatter"] == expected


def test_several_workers_share_a_metrics_directory_for_as_long_as_they_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    import uvicorn

    seen: list[str | None] = []
    monkeypatch.setattr(
        uvicorn, "run", lambda *a, **k: seen.append(os.environ.get(MULTIPROCESS_DIRECTORY))
    )
    monkeypatch.delenv(MULTIPROCESS_DIRECTORY, raising=False)
    assert CliRunner().invoke(cli, ["serve", "--workers", "1"]).exit_code == 0
    assert CliRunner().invoke(cli, ["serve", "--workers", "3"]).exit_code == 0
    assert seen[0] is None
    assert seen[1] is not None and "supervision-survey-metrics-" in seen[1]
    assert MULTIPROCESS_DIRECTORY not in os.environ
    assert not os.path.exists(seen[1])


def test_a_real_server_with_two_workers_logs_json_lines_and_sums_its_metrics(
    settings: Settings,
) -> None:
    """`serve` as production runs it: every line JSON, one access line per request with the
    id the client sent, and /metrics counting every worker's requests whichever answers."""
    environment = {
        "DATABASE_URL": settings.database_url,
        "ENVIRONMENT": "test",
        "LOG_FORMAT": "json",
        "METRICS_TOKEN": TOKEN,
    }
    requests = 12
    with live_server(environment, workers=2) as server:
        for number in range(requests):
            request = urllib.request.Request(
                f"{server.url}/api/v1/surveys?key={RESUME_KEY}",
                headers={"X-Request-ID": f"load-{number}"},
            )
            with urllib.request.urlopen(request) as reply:
                assert reply.headers["x-request-id"] == f"load-{number}"
        counted = []
        for _ in range(6):
            scrape = urllib.request.Request(
                f"{server.url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
            )
            with urllib.request.urlopen(scrape) as reply:
                samples = _samples(reply.read().decode())
            key = (("method", "GET"), ("route", "/api/v1/surveys"), ("status", "2xx"))
            counted.append(samples["http_requests_total"][key])
        lines = server.log.read_text().splitlines()
    assert counted == [requests] * 6
    entries = [json.loads(line) for line in lines]  # every line is JSON
    access = [entry for entry in entries if entry["logger"] == "app.access"]
    surveys = [entry for entry in access if entry["route"] == "/api/v1/surveys"]
    assert sorted(entry["request_id"] for entry in surveys) == sorted(
        f"load-{number}" for number in range(requests)
    )
    assert not [entry for entry in entries if entry["logger"] == "uvicorn.access"]
    assert RESUME_KEY not in "\n".join(lines)
    assert not [line for line in lines if "127.0.0.1" in line and '"app.access"' in line]


# /metrics


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token-wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x"],
)
def test_metrics_need_the_metrics_token(client: TestClient, authorization: str | None) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    reply = client.get("/metrics", headers=headers)
    assert reply.status_code == 401
    assert "METRICS_TOKEN" in reply.json()["detail"]
    assert "survey_responses_stored" not in reply.text


def test_without_a_metrics_token_set_nobody_reads_metrics(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics", headers={"authorization": "Bearer "}).status_code == 401


def test_responses_per_wave_are_the_databases_count(populated: TestClient) -> None:
    stored = _scrape(populated)["survey_responses_stored"]
    closed = {
        (("survey", SURVEY), ("wave", wave)): len(TEAMS) * RESPONSES_PER_TEAM
        for wave in CLOSED_WAVES
    }
    assert stored == closed | {(("survey", SURVEY), ("wave", "2016")): 0}


def test_requests_are_counted_by_method_route_and_status_class(client: TestClient) -> None:
    client.get("/api/v1/surveys")
    client.get("/api/v1/surveys/coventry-supervision/versions/1999")
    client.get("/api/v1/surveys/coventry-supervision/versions/2014")
    client.request("BREW", "/healthz")
    client.get("/nowhere/at/all")
    samples = _scrape(client)
    requests = samples["http_requests_total"]
    version = "/api/v1/surveys/{survey}/versions/{version}"
    assert requests[(("method", "GET"), ("route", version), ("status", "2xx"))] == 1
    assert requests[(("method", "GET"), ("route", version), ("status", "4xx"))] == 1
    assert requests[(("method", "GET"), ("route", "/api/v1/surveys"), ("status", "2xx"))] == 1
    assert requests[(("method", "other"), ("route", "/healthz"), ("status", "4xx"))] == 1
    assert requests[(("method", "GET"), ("route", "(unmatched)"), ("status", "4xx"))] == 1
    latency = samples["http_request_duration_seconds_count"]
    assert latency[(("method", "GET"), ("route", version), ("status", "2xx"))] == 1


def test_metrics_hold_no_team_and_no_answer(populated: TestClient) -> None:
    populated.get("/api/v1/surveys")
    reply = populated.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    labels = {
        name
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
        for name in sample.labels
    }
    assert labels <= {"method", "route", "status", "le", "survey", "wave"}
    for team in TEAMS:
        assert team not in reply.text


def test_metrics_still_answer_while_the_database_cannot_count(tmp_path: Any) -> None:
    """An empty database (no tables) stands in for one that is down."""
    settings = Settings(
        environment="test",
        database_url=f"sqlite:///{tmp_path / 'empty.db'}",
        metrics_token=TOKEN,
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings)) as client:
        client.get("/api/v1/surveys")
        reply = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 200
    assert "http_requests_total" in reply.text
    assert "survey_responses_stored" not in reply.text
