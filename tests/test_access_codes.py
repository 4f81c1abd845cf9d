"""Single-use access codes: issued by the CLI, checked at the start, spent once, never linked."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import transaction
from app.main import create_app
from app.models import AccessCode, Draft, Response
from app.responses.codes import CODE_ALPHABET, CODE_LENGTH
from app.surveys.definitions import SurveyDefinition
from tests.support.factories import create_wave_for_test
from tests.support.journey import complete_journey, forms, start

BASE = "/s/coventry-supervision/2015"
WORKER = {"gives_supervision": "no", "in_post_under_12_months": "no"}


@pytest.fixture
def codes(
    settings: Settings,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
    tmp_path: Path,
) -> list[str]:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=20)
    out = tmp_path / "codes.csv"
    result = CliRunner().invoke(
        cli,
        [
            "codes",
            "issue",
            "--survey",
            "coventry-supervision",
            "--wave",
            "2015",
            "--count",
            "25",
            "--out",
            str(out),
        ],
        env={"DATABASE_URL": settings.database_url},
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as file:
        return [row["code"] for row in csv.DictReader(file)]


def _start(client: TestClient, code: str) -> tuple[int, str]:
    reply = start(client, BASE, code)
    return reply.status_code, reply.text


def _send(client: TestClient) -> int:
    (form,) = forms(client.get(f"{BASE}/check").text)
    return client.post(
        f"{BASE}/submit", data={"csrf": form.hidden["csrf"][0]}, follow_redirects=False
    ).status_code


def test_codes_are_random_unambiguous_and_stored_only_as_hashes(
    codes: list[str], session_factory: sessionmaker[Session]
) -> None:
    assert len(set(codes)) == 25
    assert CODE_LENGTH * math.log2(len(CODE_ALPHABET)) >= 60
    assert not set(CODE_ALPHABET) & set("0O1IL")
    with transaction(session_factory) as session:
        stored = session.scalars(select(AccessCode.code_hash)).all()
    assert len(stored) == 25
    for code in codes:
        assert code not in stored and code.replace("-", "") not in stored


def test_a_code_lets_one_person_in_once(
    codes: list[str], session_factory: sessionmaker[Session], client: TestClient, settings: Settings
) -> None:
    assert "Enter the access code" in _start(client, "")[1]
    status, text = _start(client, "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    assert status == 422 and "not right" in text
    assert _start(client, codes[0].lower())[0] == 303
    complete_journey(client, BASE, "cf_first", "social_worker", WORKER, started=True)
    assert _send(client) == 303
    with transaction(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 1
        assert session.scalars(select(AccessCode.used).where(AccessCode.used.is_(True))).all() == [
            True
        ]
        assert session.scalar(select(func.count()).select_from(Draft)) == 0
    with TestClient(create_app(settings)) as someone_else:
        status, text = _start(someone_else, codes[0])
        assert status == 422 and "already been used" in text


def test_two_people_who_started_with_one_code_cannot_both_send(
    codes: list[str], session_factory: sessionmaker[Session], settings: Settings
) -> None:
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        for person in (first, second):
            assert _start(person, codes[1])[0] == 303
            complete_journey(person, BASE, "cf_first", "social_worker", WORKER, started=True)
        assert _send(first) == 303
        (form,) = forms(second.get(f"{BASE}/check").text)
        refused = second.post(f"{BASE}/submit", data={"csrf": form.hidden["csrf"][0]})
        assert refused.status_code == 409
        assert "already been used" in refused.text
    with transaction(session_factory) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 1


def test_guessing_codes_is_limited(codes: list[str], client: TestClient) -> None:
    replies = [_start(client, "ZZZZ-ZZZZ-ZZZZ-ZZZZ") for _ in range(11)]
    assert all("not right" in text for _, text in replies[:10])
    assert "Too many tries" in replies[10][1]
    assert (
        "Too many tries" in _start(client, codes[2])[1]
    )  # even a right code, until the minute is up


def test_issuing_never_overwrites_a_file(
    codes: list[str], settings: Settings, tmp_path: Path
) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "codes",
            "issue",
            "--survey",
            "coventry-supervision",
            "--wave",
            "2015",
            "--count",
            "1",
            "--out",
            str(tmp_path / "codes.csv"),
        ],
        env={"DATABASE_URL": settings.database_url},
    )
    assert result.exit_code == 1
    assert "already exists" in result.output


def test_a_wrong_code_is_linked_from_the_error_summary(
    codes: list[str], client: TestClient
) -> None:
    status, text = _start(client, "nonsense")
    assert status == 422
    assert '<a href="#code">' in text
    assert 'aria-describedby="code-hint code-error"' in text
