"""Fieldwork end to end on each database: a staff list imported, invitations and reminders
through a real SMTP server on 127.0.0.1, responses through the personal codes, and the progress
figures a survey owner sees while the wave is open."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import transaction
from app.deps import get_today
from app.fieldwork.models import Invitation
from app.main import create_app
from app.models import AccessCode, Response, WaveStatus
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import PublishedVersion, set_wave_status
from tests.support.answers import complete_answers
from tests.support.factories import SURVEY, create_wave_for_test
from tests.support.smtp import Mailbox, smtp_server
from tests.support.staff import staff_tokens

WAVE = ["--survey", SURVEY, "--wave", "2016"]
TEAMS = {"referral_assessment": 7, "cf_first": 3, "mash_cse": 2}
"""Twelve people: seven in one team, three and two in teams that stay under k = 5."""
STAFF = [
    (f"person{number}@coventry.example", team)
    for number, team in enumerate(
        [team for team, people in TEAMS.items() for _ in range(people)], start=1
    )
]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def wave(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> PublishedVersion:
    return create_wave_for_test(session_factory, wave="2016", opens_in_days=-2, closes_in_days=12)


def _run(settings: Settings, mailbox: Mailbox, *args: str) -> Any:
    environment = {
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "SMTP_URL": mailbox.url,
        "MAIL_FROM": "survey@coventry.example",
        "BASE_URL": "https://survey.coventry.example",
    }
    return CliRunner().invoke(cli, ["invitations", *args, *WAVE], env=environment)


def _staff_file(tmp_path: Path, lines: list[str]) -> str:
    path = tmp_path / "staff.csv"
    path.write_text("email,team\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _respond(
    client: TestClient,
    published: PublishedVersion,
    team: str = "referral_assessment",
    code: str | None = None,
) -> int:
    reply = client.post(
        f"/api/v1/surveys/{SURVEY}/waves/2016/responses",
        json={
            "submission_id": uuid.uuid4().hex,
            "team": team,
            "role": "social_worker",
            "answers": complete_answers(published),
            "access_code": code,
        },
    )
    return reply.status_code


def test_a_staff_list_with_a_problem_stores_nothing(
    settings: Settings,
    session_factory: sessionmaker[Session],
    wave: PublishedVersion,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    lines = [
        "ada@coventry.example,referral_assessment",
        "ben@coventry.example,Referral and Assessment (nowhere)",
        "not an address,mash_cse",
        "ADA@coventry.example,mash_cse",
        "cara@coventry.example,mash – cse",
    ]
    ran = _run(settings, mailbox, "import", "--file", _staff_file(tmp_path, lines))
    assert ran.exit_code == 1
    assert "nothing was stored" in ran.output
    problems = [line for line in ran.output.splitlines() if line.startswith("Line ")]
    assert problems == [
        "Line 3: no team 'Referral and Assessment (nowhere)' in this wave's version "
        "(give its key or name)",
        "Line 4: 'not an address' is not an email address",
        "Line 5: ADA@coventry.example appears again (first on line 2)",
    ]
    header = tmp_path / "wrong.csv"
    header.write_text("address,team\nada@coventry.example,mash_cse\n")
    wrong = _run(settings, mailbox, "import", "--file", str(header))
    assert "The first line must be the header: email,team" in wrong.output
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Invitation)) == 0
        assert session.scalar(select(func.count()).select_from(AccessCode)) == 0


def test_twelve_invited_three_answer_nine_reminded_and_progress_withholds_small_teams(
    settings: Settings,
    session_factory: sessionmaker[Session],
    wave: PublishedVersion,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    staff_file = _staff_file(tmp_path, [f"{email},{team}" for email, team in STAFF])
    imported = _run(settings, mailbox, "import", "--file", staff_file)
    assert imported.exit_code == 0, imported.output
    assert "12 added to the staff list" in imported.output
    again = _run(settings, mailbox, "import", "--file", staff_file)
    assert "0 added to the staff list; 12 already on it" in again.output

    dry = _run(settings, mailbox, "send", "--dry-run")
    assert "dry run: 12 invitations would be sent" in dry.output and not mailbox.messages
    sent = _run(settings, mailbox, "send")
    assert sent.exit_code == 0, sent.output
    assert "12 of 12 invitations delivered" in sent.output
    assert sorted(mailbox.to()) == sorted(email for email, _ in STAFF)
    links = dict(zip(mailbox.to(), mailbox.links(), strict=True))
    assert len(set(links.values())) == 12
    assert all(
        link.startswith(f"https://survey.coventry.example/s/{SURVEY}/2016#code=")
        for link in links.values()
    )
    first = mailbox.messages[0]
    assert first["From"] == "survey@coventry.example"
    assert (
        first["Subject"] == "Your invitation: Coventry Children & Families Supervision Survey 2016"
    )
    text = mailbox.text_of(first)
    assert "closes on" in text and "never your name, email address" in text
    html = first.get_body(preferencelist=("html",))
    assert html is not None and 'href="https://survey.coventry.example/s/' in html.get_content()
    assert "no invitations to send: everyone on the list has been sent theirs" in (
        _run(settings, mailbox, "send").output
    )
    assert len(mailbox.messages) == 12

    answering = [email for email, team in STAFF if team == "referral_assessment"][:2]
    answering.append(next(email for email, team in STAFF if team == "cf_first"))
    teams = dict(STAFF)
    with TestClient(create_app(settings)) as client:
        for email in answering:
            code = links[email].rpartition("#code=")[2]
            assert _respond(client, wave, teams[email], code) == 201
        assert _respond(client, wave, "mash_cse", links[answering[0]].rpartition("=")[2]) == 403

    reminded = _run(settings, mailbox, "remind")
    assert reminded.exit_code == 0, reminded.output
    assert "9 of 9 reminders delivered" in reminded.output
    reminders = mailbox.messages[12:]
    assert sorted(str(m["To"]) for m in reminders) == sorted(
        email for email, _ in STAFF if email not in answering
    )
    assert all(
        str(m["Subject"]).startswith(
            "Reminder: Coventry Children & Families Supervision Survey 2016 closes on"
        )
        for m in reminders
    )
    assert {link for link in mailbox.links()[12:]} <= set(links.values())

    with TestClient(create_app(settings)) as client:
        token = staff_tokens(session_factory)["hr"]
        reply = client.get(
            f"/api/v1/reports/{SURVEY}/waves/2016/progress",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert reply.status_code == 200, reply.text
    progress = reply.json()
    assert progress["state"] == "open" and progress["days_left"] == 13
    assert progress["total"]["responses"] == 3
    by_team = {row["team"]: row for row in progress["teams"]}
    assert by_team["cf_first"]["responses"] is None and by_team["cf_first"]["withheld"]
    assert by_team["mash_cse"]["responses"] is None
    shown = [row["responses"] for row in progress["teams"] if not row["withheld"]]
    withheld = [row for row in progress["teams"] if row["withheld"]]
    assert len(withheld) >= 2, "a single withheld team would be the total less the others"
    assert sum(shown) <= 3

    with transaction(session_factory) as session:
        set_wave_status(
            session=session, survey_key=SURVEY, wave_key="2016", status=WaveStatus.closed
        )
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Invitation)) == 0
    closed = _run(settings, mailbox, "remind")
    assert closed.exit_code == 1 and "is closed" in closed.output


def test_a_refused_address_is_reported_and_tried_again_next_time(
    settings: Settings,
    session_factory: sessionmaker[Session],
    wave: PublishedVersion,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    people = ["ada@coventry.example", "gone@coventry.example", "cara@coventry.example"]
    staff_file = _staff_file(tmp_path, [f"{email},mash_cse" for email in people])
    assert _run(settings, mailbox, "import", "--file", staff_file).exit_code == 0
    mailbox.refuse.add("gone@coventry.example")
    sent = _run(settings, mailbox, "send")
    assert sent.exit_code == 1
    assert "2 of 3 invitations delivered" in sent.output
    assert "not delivered to gone@coventry.example: 550 5.1.1 No such mailbox here" in sent.output
    mailbox.refuse.clear()
    retried = _run(settings, mailbox, "send")
    assert "1 of 1 invitations delivered" in retried.output
    assert sorted(mailbox.to()) == sorted(people)


def test_without_an_smtp_server_nothing_is_marked_sent(
    settings: Settings,
    session_factory: sessionmaker[Session],
    wave: PublishedVersion,
    mailbox: Mailbox,
    tmp_path: Path,
) -> None:
    staff_file = _staff_file(tmp_path, ["ada@coventry.example,mash_cse"])
    assert _run(settings, mailbox, "import", "--file", staff_file).exit_code == 0
    environment = {"DATABASE_URL": settings.database_url, "SMTP_URL": ""}
    unset = CliRunner().invoke(cli, ["invitations", "send", *WAVE], env=environment)
    assert unset.exit_code == 1 and "set SMTP_URL" in unset.output
    with session_factory() as session:
        assert session.scalars(select(Invitation.invited)).all() == [False]


def test_an_open_waves_progress_does_not_move_within_a_day(
    settings: Settings,
    session_factory: sessionmaker[Session],
    wave: PublishedVersion,
) -> None:
    """Counted at the first look of the day: whatever is sent after it shows the next day."""
    today = {"date": dt.date.today()}
    app = create_app(settings)
    app.dependency_overrides[get_today] = lambda: today["date"]
    token = staff_tokens(session_factory)["hr"]
    progress_url = f"/api/v1/reports/{SURVEY}/waves/2016/progress"
    rates_url = f"/api/v1/reports/{SURVEY}/waves/2016/response-rates"
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(app, headers=headers) as client:
        for _ in range(6):
            assert _respond(client, wave) == 201
        before = client.get(progress_url).json()
        assert before["total"]["responses"] == 6
        assert before["counted_on"] == today["date"].isoformat()
        rates_before = client.get(rates_url).json()
        for _ in range(5):
            assert _respond(client, wave) == 201
        assert client.get(progress_url).json() == before
        assert client.get(rates_url).json() == rates_before
        today["date"] += dt.timedelta(days=1)
        after = client.get(progress_url).json()
    assert after["total"]["responses"] == 11
    assert after["counted_on"] == today["date"].isoformat()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 11


def test_a_nightly_count_is_what_readers_see_all_day(
    settings: Settings,
    session_factory: sessionmaker[Session],
    wave: PublishedVersion,
    mailbox: Mailbox,
) -> None:
    token = staff_tokens(session_factory)["hr"]
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(5):
            assert _respond(client, wave) == 201
        counted = _run(settings, mailbox, "count")
        assert counted.exit_code == 0, counted.output
        assert "responses counted for" in counted.output
        assert _respond(client, wave) == 201
        progress = client.get(f"/api/v1/reports/{SURVEY}/waves/2016/progress").json()
    assert progress["total"]["responses"] == 5
    with transaction(session_factory) as session:
        set_wave_status(
            session=session, survey_key=SURVEY, wave_key="2016", status=WaveStatus.closed
        )
    closed = _run(settings, mailbox, "count")
    assert closed.exit_code == 1 and "only an open wave is counted" in closed.output
