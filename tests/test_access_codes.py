"""Single-use access codes: issued by the CLI, checked at the start, spent once, never linked."""

from __future__ import annotations

import csv
import math
import uuid
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
from app.surveys.service import get_wave, published_version
from tests.support.answers import complete_answers
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


def test_an_office_behind_one_address_can_all_start_in_a_minute(
    codes: list[str], client: TestClient
) -> None:
    """Only wrong guesses count towards the limit, not people starting with their own code."""
    for code in codes[10:25]:
        client.cookies.clear()
        assert _start(client, code)[0] == 303


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


API = "/api/v1/surveys/coventry-supervision/waves/2015/responses"


def _api_body(factory: sessionmaker[Session], code: str | None, **chosen: str) -> dict[str, object]:
    with transaction(factory) as session:
        wave = get_wave(session=session, survey_key="coventry-supervision", wave_key="2015")
        published = published_version(session=session, version=wave.version)
    body: dict[str, object] = {
        "submission_id": uuid.uuid4().hex,
        "team": "cf_first",
        "role": "social_worker",
        "answers": complete_answers(published, {**WORKER, **chosen}),
    }
    if code is not None:
        body["access_code"] = code
    return body


def _responses(factory: sessionmaker[Session]) -> int:
    with transaction(factory) as session:
        return session.scalar(select(func.count()).select_from(Response)) or 0


def test_the_api_refuses_a_code_required_wave_without_a_code_it_may_spend(
    codes: list[str], session_factory: sessionmaker[Session], client: TestClient
) -> None:
    missing = client.post(API, json=_api_body(session_factory, None))
    assert missing.status_code == 401
    assert missing.json()["errors"] == [
        {
            "field": "access_code",
            "code": "missing",
            "message": "This wave requires an access code: send it as access_code.",
        }
    ]
    made_up = client.post(API, json=_api_body(session_factory, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"))
    assert made_up.status_code == 403 and made_up.json()["errors"][0]["code"] == "unknown"
    assert _responses(session_factory) == 0

    body = _api_body(session_factory, codes[3].lower())
    stored = client.post(API, json=body)
    assert stored.status_code == 201, stored.text
    assert client.post(API, json=body).status_code == 200  # a retry: stored once, not refused
    reused = client.post(API, json=_api_body(session_factory, codes[3]))
    assert reused.status_code == 403 and reused.json()["errors"][0]["code"] == "used"
    assert _responses(session_factory) == 1


def test_wrong_answers_do_not_use_up_a_code_on_the_api(
    codes: list[str], session_factory: sessionmaker[Session], client: TestClient
) -> None:
    wrong = _api_body(session_factory, codes[4])
    wrong["team"] = "no_such_team"
    assert client.post(API, json=wrong).status_code == 422
    assert client.post(API, json=_api_body(session_factory, codes[4])).status_code == 201


def test_padding_a_small_team_over_k_fails_on_a_code_required_wave(
    codes: list[str], session_factory: sessionmaker[Session], client: TestClient
) -> None:
    """One real person in a team, five made-up responses to lift it over k: on a wave that
    requires codes none of the five is stored, so the team stays under k and withheld."""
    assert client.post(API, json=_api_body(session_factory, codes[5])).status_code == 201
    padding = [
        client.post(API, json=_api_body(session_factory, code))
        for code in (None, "", "AAAA-AAAA-AAAA-AAAA", codes[5], codes[5].replace("-", " "))
    ]
    assert [reply.status_code for reply in padding] == [401, 401, 403, 403, 403]
    assert _responses(session_factory) == 1
