"""The anonymity audit: respond through the pages and the API, close the wave, then read every
column of every table, and every log line, for anything that could identify a respondent."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import WaveStatus
from app.observability import JsonFormatter, RequestIdFilter
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import set_wave_status
from tests.support.answers import complete_answers
from tests.support.factories import create_wave_for_test
from tests.support.journey import answer_page, complete_journey, forms, start
from tests.support.smtp import smtp_server

SURVEY = "coventry-supervision"
STAFF = ["ada.worker@coventry.example", "ben.worker@coventry.example"]
BASE = f"/s/{SURVEY}/2015"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) AuditBrowser/99.1"
FORWARDED_FOR = "203.0.113.77"
WORKER = {"gives_supervision": "no", "in_post_under_12_months": "no"}
TIMESTAMP_ALLOWED = {("survey_versions", "published_at"), ("audit_events", "occurred_at")}
"""When a questionnaire was published, and when the survey owner issued codes or closed the wave:
about their work, not about respondents (the log holds counts, never a code or an answer)."""


def _values(engine: Engine) -> list[tuple[str, str, Any]]:
    metadata = MetaData()
    metadata.reflect(engine)
    found = []
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    found.append((table.name, column, value))
    return found


@pytest.fixture
def audited(
    settings: Settings,
    session_factory: sessionmaker[Session],
    engine: Engine,
    coventry: dict[str, SurveyDefinition],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> dict[str, Any]:
    """Ten responses (pages with access codes, the API with them, two people from the staff list
    through their invitations' links), one saved draft, then the wave closes."""
    published = create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=20)
    out = tmp_path / "codes.csv"
    environment = {"DATABASE_URL": settings.database_url, "SECRET_KEY": settings.secret_key}
    CliRunner().invoke(
        cli,
        ["codes", "issue", "--survey", SURVEY, "--wave", "2015", "--count", "9", "--out", str(out)],
        env=environment,
    )
    codes = out.read_text(encoding="utf-8").split()[1:]
    staff = tmp_path / "staff.csv"
    staff.write_text(f"email,team\n{STAFF[0]},cf_first\n{STAFF[1]},cf_first\n")
    wave_options = ["--survey", SURVEY, "--wave", "2015"]
    with smtp_server() as mailbox:
        mail_environment = environment | {"SMTP_URL": mailbox.url}
        for command in (["import", "--file", str(staff)], ["send"]):
            ran = CliRunner().invoke(
                cli, ["invitations", *command, *wave_options], env=mail_environment
            )
            assert ran.exit_code == 0, ran.output
    invited = [link.rpartition("#code=")[2] for link in mailbox.links()]
    codes += invited
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RequestIdFilter())  # as `serve` logs: each record with its request id
    loud = settings.model_copy(update={"sql_echo": True})
    headers = {
        "user-agent": USER_AGENT,
        "x-forwarded-for": FORWARDED_FOR,
        "x-real-ip": FORWARDED_FOR,
    }
    arrival: list[str] = []
    keys: list[str] = []
    with TestClient(create_app(loud), headers=headers) as client:
        for code in [*codes[:4], *invited]:
            client.cookies.clear()
            start(client, BASE, code)
            complete_journey(client, BASE, "cf_first", "social_worker", WORKER, started=True)
            keys.append(client.cookies["draft"])
            (form,) = forms(client.get(f"{BASE}/check").text)
            assert (
                client.post(f"{BASE}/submit", data={"csrf": form.hidden["csrf"][0]}).status_code
                == 200
            )
        for code in codes[5:9]:
            reply = client.post(
                f"/api/v1/surveys/{SURVEY}/waves/2015/responses",
                json={
                    "submission_id": uuid.uuid4().hex,
                    "team": "cf_first",
                    "role": "social_worker",
                    "answers": complete_answers(published),
                    "access_code": code,
                },
            )
            arrival.append(reply.json()["id"])
        client.cookies.clear()
        start(client, BASE, codes[4])
        answer_page(client, f"{BASE}/you", {"team": "cf_first", "role": "social_worker"})
        (form,) = forms(client.get(f"{BASE}/section/about_you").text)
        saved = client.post(form.action, data={"csrf": form.hidden["csrf"][0], "action": "save"})
        keys.append(re.search(r'id="resume-key">([A-Z-]+)<', saved.text).group(1))  # type: ignore[union-attr]
        values_while_open = _values(engine)
    with transaction(session_factory) as session:
        set_wave_status(
            session=session, survey_key=SURVEY, wave_key="2015", status=WaveStatus.closed
        )
    return {
        "codes": codes,
        "keys": keys,
        "api_arrival": arrival,
        "open": values_while_open,
        "closed": _values(engine),
        "log": caplog.text,
        "json_lines": [JsonFormatter().format(record) for record in caplog.records],
        "engine": engine,
    }


def _secrets(audited: dict[str, Any]) -> list[str]:
    codes = audited["codes"] + [code.replace("-", "") for code in audited["codes"]]
    keys = audited["keys"] + [key.replace("-", "") for key in audited["keys"]]
    return [USER_AGENT, "AuditBrowser", FORWARDED_FOR, "testclient", *codes, *keys]


@pytest.mark.parametrize("moment", ["open", "closed"])
def test_no_column_holds_a_time_of_day_an_address_a_browser_a_code_or_a_key(
    audited: dict[str, Any], moment: str
) -> None:
    """Staff addresses are on the wave's list while it is open, and nowhere else; when it
    closes they are gone."""
    for table, column, value in audited[moment]:
        if isinstance(value, dt.datetime) and (table, column) not in TIMESTAMP_ALLOWED:
            pytest.fail(f"{table}.{column} holds a time: {value}")
        flat = str(value)
        for secret in _secrets(audited):
            assert secret not in flat, f"{table}.{column} holds {secret!r}"
        if (moment, table, column) != ("open", "invitations", "email"):
            assert not [address for address in STAFF if address in flat], (table, column)
    listed = [value for table, column, value in audited[moment] if table == "invitations"]
    assert len(listed) == (len(STAFF) * 6 if moment == "open" else 0)


def test_no_table_links_a_staff_list_entry_or_a_draft_to_a_code(audited: dict[str, Any]) -> None:
    """The list holds a seed, the draft a masked hash: neither is any code's hash, so nothing
    joins an address, or an unfinished draft, to a code (nor so to whether it was spent)."""
    code_hashes = {
        value
        for table, column, value in audited["open"]
        if (table, column) == ("access_codes", "code_hash")
    }
    assert len(code_hashes) == len(audited["codes"])
    for table, column, value in audited["open"]:
        if table != "access_codes":
            assert str(value) not in code_hashes, (table, column)


def test_the_log_holds_no_answers_codes_keys_or_addresses(audited: dict[str, Any]) -> None:
    assert "INSERT INTO responses" in audited["log"]
    for secret in _secrets(audited):
        assert secret not in audited["log"], secret
        assert not [line for line in audited["json_lines"] if secret in line], secret


def test_the_access_log_names_each_request_by_its_route_and_nothing_else(
    audited: dict[str, Any],
) -> None:
    """One JSON line per request of the audit: the route's pattern, never the path or query it
    was called with, and nothing about who called."""
    access = [json.loads(line) for line in audited["json_lines"] if '"app.access"' in line]
    assert len(access) >= 10 * 6  # ten respondents, each through several pages or the API
    assert {
        "/s/{survey}/{wave_key}/start",
        "/s/{survey}/{wave_key}/section/{section}",
        "/s/{survey}/{wave_key}/submit",
        "/api/v1/surveys/{survey}/waves/{wave}/responses",
    } <= {entry["route"] for entry in access}
    for entry in access:
        assert set(entry) == {
            "time", "level", "logger", "message", "method", "route", "status", "duration_ms",
            "request_id",
        }, entry  # fmt: skip
        assert SURVEY not in json.dumps(entry) and "2015" not in entry["route"], entry


def test_responses_come_back_in_no_order_of_arrival(audited: dict[str, Any]) -> None:
    """Ids are random, and a plain read of the closed wave's table is in key order, not arrival."""
    with audited["engine"].connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT id FROM responses"))]
    assert len(stored) == 10
    assert all(uuid.UUID(response_id).version == 4 for response_id in stored)
    arrival = audited["api_arrival"]
    as_read = [response_id for response_id in stored if response_id in arrival]
    assert as_read == sorted(arrival)  # key order: the random ids decide it, not arrival


def test_the_start_page_says_exactly_what_is_stored(
    settings: Settings,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
) -> None:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=20)
    with TestClient(create_app(settings)) as client:
        page = client.get(BASE).text
    stored = re.search(r"we store exactly this:</p>\s*<ul[^>]*>(.*?)</ul>", page, re.S)
    assert stored is not None
    items = [
        re.sub(r"\s+", " ", item).strip()
        for item in re.findall(r"<li>(.*?)</li>", stored.group(1), re.S)
    ]
    assert items == [
        "the team you work in and your role grouping, as you choose them",
        "your answers",
    ]
    from app.models import Response

    assert {column.name for column in Response.__table__.columns} == {
        "id",
        "wave_id",
        "team_id",
        "role_grouping_id",
    }
