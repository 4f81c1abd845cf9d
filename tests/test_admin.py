"""The survey owner's pages, driven through their forms with the CSRF token a browser sends:
definitions, waves, thresholds, headcounts, access codes, accounts, and the audit log that
records each of them without a code, password or answer."""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import io
import os
import re
import uuid
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.deps import CSRF_FIELD
from app.accounts.models import User
from app.accounts.service import create_token, create_user
from app.admin.audit import AuditAction
from app.admin.models import AuditEvent
from app.config import PROJECT_ROOT, Settings
from app.db import transaction
from app.models import AccessCode, Draft, Headcount, Survey, SurveyVersion, Team, Wave
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import get_wave, published_version
from tests.conftest import _settings
from tests.support.answers import complete_answers
from tests.support.factories import SURVEY, create_wave_for_test
from tests.support.journey import forms, summary_errors
from tests.support.smtp import Mailbox, smtp_server
from tests.support.staff import PASSWORD, create_user_for_test, csrf_of, sign_in

COVENTRY = PROJECT_ROOT / "survey_definitions" / SURVEY
ADMIN = "admin@example.org"
WAVE_PAGE = f"/admin/surveys/{SURVEY}/waves/2015"


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    with smtp_server() as box:
        yield box


@pytest.fixture
def settings(database_url: str, mailbox: Mailbox) -> Settings:
    """The admin pages send their invitations to a real SMTP server on 127.0.0.1."""
    return _settings(database_url).model_copy(update={"smtp_url": mailbox.url})


@pytest.fixture
def admin(client: TestClient, session_factory: sessionmaker[Session]) -> TestClient:
    """The client, signed in as an admin."""
    create_user_for_test(session_factory, ADMIN, ("admin",))
    assert sign_in(client, ADMIN).status_code == 303
    return client


def send(
    client: TestClient,
    page: str,
    action: str,
    data: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
) -> Any:
    """Send a form of `page` to `action` as a browser does, with the page's CSRF token."""
    form = {CSRF_FIELD: csrf_of(client, page), **(data or {})}
    return client.post(action, data=form, files=files, follow_redirects=False)


def upload(client: TestClient, text: str, name: str) -> Any:
    files = {"definition": (name, text.encode(), "application/x-yaml")}
    return send(client, "/admin/definitions", "/admin/definitions", files=files)


def publish(client: TestClient, checked: Any) -> Any:
    """Press "Publish" on the page showing a checked definition: a multipart form that sends
    the definition's text back."""
    fields = hidden_fields(checked.text, "/admin/definitions/publish")
    files = {name: (None, value) for name, value in fields.items()}
    return client.post("/admin/definitions/publish", files=files, follow_redirects=False)


PAGE_ACTIONS = set(AuditAction) - {AuditAction.token_created, AuditAction.retention_applied}
"""What the admin pages do; tokens are made and retention applied on the command line only
(their events: tests/test_cli.py, tests/test_retention.py)."""


def hidden_fields(html: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to `action`, unescaped as a browser sends them."""
    (form,) = [form for form in forms(html) if form.action == action]
    return {name: values[0] for name, values in form.hidden.items()}


def audit_events(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def every_value(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted: a snapshot to tell whether anything changed."""
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        return {
            table.name: sorted(tuple(map(repr, row)) for row in connection.execute(select(table)))
            for table in metadata.sorted_tables
        }


def respond(
    client: TestClient,
    factory: sessionmaker[Session],
    wave: str = "2015",
    access_code: str | None = None,
) -> str:
    """One response through the API; returns its id."""
    with transaction(factory) as session:
        published = published_version(
            session=session,
            version=get_wave(session=session, survey_key=SURVEY, wave_key=wave).version,
        )
    body = {
        "submission_id": uuid.uuid4().hex,
        "team": "referral_assessment",
        "role": "social_worker",
        "answers": complete_answers(published),
        "access_code": access_code,
    }
    reply = client.post(f"/api/v1/surveys/{SURVEY}/waves/{wave}/responses", json=body)
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def stored_wave(factory: sessionmaker[Session], wave: str = "2015") -> Wave:
    with factory() as session:
        return get_wave(session=session, survey_key=SURVEY, wave_key=wave)


# ------------------------------------------------------------------------- access


def admin_routes(client: TestClient, user_id: int = 1) -> list[tuple[str, str]]:
    """Every admin route as (method, path), its parameters filled in."""
    values = {"survey": SURVEY, "wave": "2015", "user_id": str(user_id)}
    return [
        (method, re.sub(r"{(\w+)}", lambda m: values[m.group(1)], path))
        for context in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
        if context.path.startswith("/admin")
        for path in _each_mailing(context.path)
        for method in sorted((context.methods or set()) - {"HEAD"})
    ]


def _each_mailing(path: str) -> list[str]:
    """The staff list's one mail route is two actions: send the invitations, or remind."""
    if "{mailing}" not in path:
        return [path]
    return [path.replace("{mailing}", mailing) for mailing in ("send", "remind")]


def test_only_admins_reach_the_admin_pages(
    client: TestClient, session_factory: sessionmaker[Session], coventry: dict[str, Any]
) -> None:
    create_wave_for_test(session_factory)
    routes = admin_routes(client)
    assert len(routes) >= 20, routes
    page = client.get("/admin", headers={"accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/sign-in?next=/admin"
    assert client.get("/admin").status_code == 401
    for role in ("none", "scrutiny", "hr"):
        roles = () if role == "none" else (role,)
        create_user_for_test(session_factory, f"{role}@example.org", roles)
        client.cookies.clear()
        assert sign_in(client, f"{role}@example.org").status_code == 303
        token = csrf_of(client, "/sign-in")
        for method, path in routes:
            reply = client.request(
                method, path, data={CSRF_FIELD: token} if method == "POST" else None
            )
            assert reply.status_code == 403, (role, method, path, reply.status_code)
        assert 'href="/admin"' not in client.get("/sign-in").text
    create_user_for_test(session_factory, ADMIN, ("admin",))
    client.cookies.clear()
    assert sign_in(client, ADMIN).status_code == 303
    for method, path in routes:
        if method == "GET":
            assert client.get(path).status_code == 200, path
    assert 'href="/admin"' in client.get("/sign-in").text
    with transaction(session_factory) as session:
        admin_user = session.scalars(select(User).where(User.email == ADMIN)).one()
        token = create_token(session=session, user=admin_user, name="exports")
    client.cookies.clear()
    for method, path in routes:  # a token is for scripted exports: here it signs nobody in
        reply = client.request(method, path, headers={"authorization": f"Bearer {token}"})
        assert reply.status_code == 401, (method, path, reply.status_code)


# ------------------------------------------------------------------------- definitions


def test_a_definition_is_uploaded_checked_and_published(
    admin: TestClient,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    real_open, real_os_open = builtins.open, os.open

    def watched_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(file))
        return real_open(file, *args, **kwargs)

    def watched_os_open(path: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(str(path))
        return real_os_open(path, *args, **kwargs)

    source_2014 = (COVENTRY / "2014.yaml").read_text()
    monkeypatch.setattr(builtins, "open", watched_open)
    monkeypatch.setattr(io, "open", watched_open)
    monkeypatch.setattr(os, "open", watched_os_open)
    checked = upload(admin, source_2014, name="../../etc/passwd")
    monkeypatch.undo()
    assert checked.status_code == 200, checked.text
    assert not [path for path in opened if "passwd" in path or "etc" in Path(path).parts]
    assert "passwd is valid" in checked.text
    assert "Coventry Children &amp; Families Supervision Survey" in checked.text
    fields = hidden_fields(checked.text, "/admin/definitions/publish")
    assert fields["source"] == source_2014 and fields["name"] == "passwd"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(SurveyVersion)) == 0

    published = publish(admin, checked)
    assert published.status_code == 303 and published.headers["location"] == "/admin?done=created"
    assert "published as a new version" in admin.get(published.headers["location"]).text

    checked = upload(admin, (COVENTRY / "2015.yaml").read_text(), name="2015.yaml")
    assert "2015.yaml is valid" in checked.text
    assert "Publishing stores version 2015" in checked.text
    assert publish(admin, checked).headers["location"] == "/admin?done=created"
    with session_factory() as session:
        before = session.scalars(select(SurveyVersion).order_by(SurveyVersion.key)).all()
        assert [(v.key, v.previous_version_key) for v in before] == [
            ("2014", None),
            ("2015", "2014"),
        ]
        published_at = before[1].published_at

    again = upload(admin, (COVENTRY / "2015.yaml").read_text(), name="2015.yaml")
    assert "already published with exactly this content" in again.text
    assert publish(admin, again).headers["location"] == "/admin?done=unchanged"
    with session_factory() as session:
        version = session.scalars(select(SurveyVersion).where(SurveyVersion.key == "2015")).one()
        assert version.published_at == published_at
    events = audit_events(session_factory)
    assert [(e.action, e.target, e.details["outcome"]) for e in events] == [
        ("definition_published", f"{SURVEY}/2014", "created"),
        ("definition_published", f"{SURVEY}/2015", "created"),
        ("definition_published", f"{SURVEY}/2015", "unchanged"),
    ]
    assert all(e.actor_email == ADMIN for e in events)


def test_the_validators_messages_are_shown_and_nothing_is_published(
    admin: TestClient, session_factory: sessionmaker[Session]
) -> None:
    broken = (
        (COVENTRY / "2014.yaml")
        .read_text()
        .replace(
            "      - key: dates_booked\n",
            "      - key: dates_booked\n        show_if: {question: no_such_question, in: [yes]}\n",
            1,
        )
        .replace("suppression_threshold: 5", "suppression_threshold: 5\npreviously: 4", 1)
    )
    reply = upload(admin, broken, name="coventry.yaml")
    assert reply.status_code == 400
    assert summary_errors(reply.text) == [
        "coventry.yaml has 1 problem: correct the file and upload it again"
    ]
    assert "unknown field (check the spelling)" in reply.text  # the parser's message

    fixed_format = broken.replace("\npreviously: 4", "")
    reply = upload(admin, fixed_format, name="coventry.yaml")
    assert reply.status_code == 400
    page = unescape(reply.text)
    assert "question 5 (key dates_booked)" in page
    assert "condition on unknown question 'no_such_question'" in page
    assert "/admin/definitions/publish" not in page

    no_previous = (COVENTRY / "2015.yaml").read_text()
    page = unescape(upload(admin, no_previous, name="2015.yaml").text)
    assert (
        "previous version '2014' of coventry-supervision is not published: publish it first" in page
    )

    for name, content, message in [
        ("empty.yaml", b"  \n", "The file is empty"),
        (
            "latin1.yaml",
            "survey: caf\xe9".encode("latin-1"),
            "The file must be text saved as UTF-8",
        ),
        ("big.yaml", b"#" * (200 * 1024 + 1), "The file must be smaller than 200 KiB"),
    ]:
        reply = send(
            admin,
            "/admin/definitions",
            "/admin/definitions",
            files={"definition": (name, content, "application/x-yaml")},
        )
        assert reply.status_code == 400 and summary_errors(reply.text) == [message]
    reply = send(admin, "/admin/definitions", "/admin/definitions", files={"definition": ("", b"")})
    assert summary_errors(reply.text) == ["Choose a definition (YAML) file"]
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Survey)) == 0
    assert audit_events(session_factory) == []


def test_different_content_for_an_answered_version_is_refused(
    admin: TestClient, session_factory: sessionmaker[Session], coventry: dict[str, Any]
) -> None:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=5)
    respond(admin, session_factory)
    changed = (
        (COVENTRY / "2015.yaml")
        .read_text()
        .replace(
            'title: "Coventry Children & Families Supervision Survey – October 2015"',
            'title: "Coventry Children & Families Supervision Survey – October 2015 (corrected)"',
        )
    )
    checked = upload(admin, changed, name="2015.yaml")
    assert "already published with different content" in unescape(checked.text)
    reply = publish(admin, checked)
    assert reply.status_code == 400
    (message,) = summary_errors(reply.text)
    assert message.startswith(
        "coventry-supervision version 2015 already has responses, so it can never change."
    )
    with session_factory() as session:
        version = session.scalars(select(SurveyVersion).where(SurveyVersion.key == "2015")).one()
        assert version.title.endswith("October 2015")
    assert audit_events(session_factory) == []


# ------------------------------------------------------------------------- waves


def test_a_wave_is_created_opened_and_closed(
    admin: TestClient, session_factory: sessionmaker[Session], coventry: dict[str, Any]
) -> None:
    today = dt.date.today()
    form = {
        "version": f"{SURVEY}/2015",
        "key": "2016",
        "opens_on": today.isoformat(),
        "closes_on": (today + dt.timedelta(days=30)).isoformat(),
        "title": "Supervision survey, autumn 2016",
        "codes": "no",
        "open_link": "yes",
    }
    blank = admin.get("/admin/waves/new").text
    assert re.search(r'<input[^>]*id="codes"[^>]*value="yes" checked[ >]', blank), blank
    for change, messages in [
        (
            {"open_link": ""},
            ["Confirm that anyone with the link may respond, or require access codes"],
        ),
        ({"codes": ""}, ["Choose whether respondents need an access code"]),
        ({"title": "x" * 201}, ["Enter a title of 200 characters or fewer"]),
        ({"key": "20 16"}, ["Enter a wave key of up to 32 letters, digits"]),
        ({"version": f"{SURVEY}/2017"}, ["Choose the published version the wave asks"]),
        (
            {"opens_on": "", "closes_on": "2016-02-30"},
            ["Enter the date the wave opens", "The date the wave closes must be a real date"],
        ),
        (
            {"closes_on": (today - dt.timedelta(days=1)).isoformat()},
            ["The wave must close on or after the day it opens"],
        ),
    ]:
        reply = send(admin, "/admin/waves/new", "/admin/waves", {**form, **change})
        assert reply.status_code == 400
        errors = summary_errors(reply.text)
        assert len(errors) == len(messages), errors
        assert all(
            error.startswith(message) for error, message in zip(errors, messages, strict=True)
        ), errors
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Wave)) == 0

    created = send(admin, "/admin/waves/new", "/admin/waves", form)
    assert created.status_code == 303
    page = f"/admin/surveys/{SURVEY}/waves/2016"
    assert created.headers["location"] == f"{page}?done=created"
    assert "Wave 2016 was created" in admin.get(created.headers["location"]).text
    wave = stored_wave(session_factory, "2016")
    assert (wave.status, wave.access_codes_required) == ("scheduled", False)
    assert wave.title == form["title"]
    duplicate = send(admin, "/admin/waves/new", "/admin/waves", form)
    assert summary_errors(duplicate.text) == ["coventry-supervision already has a wave 2016"]

    assert send(admin, page, f"{page}/open").headers["location"] == f"{page}?done=opened"
    assert stored_wave(session_factory, "2016").status == "open"
    with transaction(session_factory) as session:
        session.add(Draft(key_hash="d" * 64, wave_id=wave.id, answers={}, discarded=[]))
    respond(admin, session_factory, "2016")
    respond(admin, session_factory, "2016")
    overview = admin.get("/admin").text
    row = re.search(
        r"<tr>\s*<th scope=\"row\"><a href=\"" + page + r"\">2016</a></th>(.*?)</tr>",
        overview,
        re.S,
    )
    assert row, overview
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)
    assert cells == [
        "2015",
        "Open",
        today.strftime("%-d %b %Y"),
        (today + dt.timedelta(days=30)).strftime("%-d %b %Y"),
        "2",
        "5",
        "Not used",
    ]

    unconfirmed = send(admin, page, f"{page}/close")
    assert unconfirmed.status_code == 400
    assert summary_errors(unconfirmed.text) == ["Confirm that unfinished drafts will be deleted"]
    assert stored_wave(session_factory, "2016").status == "open"
    closed = send(admin, page, f"{page}/close", {"confirm": "yes"})
    assert closed.headers["location"] == f"{page}?done=closed"
    assert stored_wave(session_factory, "2016").status == "closed"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 0
    reopened = send(admin, page, f"{page}/open")
    assert reopened.status_code == 400
    assert "a closed wave never reopens" in summary_errors(reopened.text)[0]
    assert stored_wave(session_factory, "2016").status == "closed"
    events = audit_events(session_factory)
    assert [(e.action, e.target) for e in events] == [
        ("wave_created", f"{SURVEY}/2016"),
        ("wave_opened", f"{SURVEY}/2016"),
        ("wave_closed", f"{SURVEY}/2016"),
        ("results_released", f"{SURVEY}/2016"),
    ]
    assert events[0].details == {
        "version": "2015",
        "opens_on": form["opens_on"],
        "closes_on": form["closes_on"],
        "access_codes_required": False,
        "title": form["title"],
    }
    assert events[2].details == {"status_before": "open", "responses": 2}


def test_a_threshold_is_set_only_before_results_can_be_shown(
    admin: TestClient, session_factory: sessionmaker[Session], coventry: dict[str, Any]
) -> None:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=5)
    action = f"{WAVE_PAGE}/threshold"
    for written, message in [
        ("1", "The threshold must be a whole number from 2 to 1000"),
        ("ten", "Enter the threshold as a whole number from 2 to 1000"),
        ("-3", "Enter the threshold as a whole number from 2 to 1000"),
        ("", "Enter the threshold as a whole number from 2 to 1000"),
    ]:
        reply = send(admin, WAVE_PAGE, action, {"threshold": written})
        assert reply.status_code == 400 and summary_errors(reply.text) == [message], written
    assert stored_wave(session_factory).suppression_threshold is None

    assert send(admin, WAVE_PAGE, action, {"threshold": "10"}).status_code == 303
    assert stored_wave(session_factory).suppression_threshold == 10
    page = admin.get(f"{WAVE_PAGE}?done=threshold").text
    assert "The threshold of wave 2015 is now 10." in page
    assert "10 (set for this wave; the version's is 5)" in page

    send(admin, WAVE_PAGE, f"{WAVE_PAGE}/close", {"confirm": "yes"})
    refused = send(admin, WAVE_PAGE, action, {"threshold": "7"})
    assert refused.status_code == 400
    assert summary_errors(refused.text) == [
        "Wave 2015 is closed and its results can be shown, so its threshold can no longer change."
    ]
    assert stored_wave(session_factory).suppression_threshold == 10

    # Open in status, but past its closing date: its results are shown, so the same holds.
    create_wave_for_test(
        session_factory, wave="2014", version="2014", opens_in_days=-20, closes_in_days=-1
    )
    page_2014 = f"/admin/surveys/{SURVEY}/waves/2014"
    assert "Closed (its closing date has passed)" in admin.get(page_2014).text
    refused = send(admin, page_2014, f"{page_2014}/threshold", {"threshold": "7"})
    assert refused.status_code == 400
    assert stored_wave(session_factory, "2014").suppression_threshold is None
    events = audit_events(session_factory)
    assert [(e.action, e.details) for e in events] == [
        ("threshold_set", {"threshold_before": 5, "threshold": 10}),
        ("wave_closed", {"status_before": "open", "responses": 0}),
        (
            "results_released",
            {
                "release": 1,
                "content_hash": events[-1].details["content_hash"],
                "method": "milp",
                "replaces": None,
                "dropped": [],
            },
        ),
    ]


# ------------------------------------------------------------------------- headcounts


def _headcounts(factory: sessionmaker[Session], wave: str = "2015") -> dict[str, int]:
    with factory() as session:
        rows = session.execute(
            select(Team.key, Headcount.headcount)
            .join(Headcount, Headcount.team_id == Team.id)
            .join(Wave, Wave.id == Headcount.wave_id)
            .where(Wave.key == wave)
        )
        return {key: headcount for key, headcount in rows}


def _upload_headcounts(client: TestClient, text: str) -> Any:
    page = f"{WAVE_PAGE}/headcounts"
    files = {"headcounts": ("headcounts.csv", text.encode(), "text/csv")}
    return send(client, page, f"{page}/preview", files=files)


def test_headcount_errors_are_named_by_row_and_nothing_is_saved(
    admin: TestClient,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
) -> None:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=5)
    before = _headcounts(session_factory)
    teams = coventry["2015"].population.teams
    lines = [
        "team,headcount",
        f"{teams[0].key},90",
        "Nonexistent Team,4",
        f"{teams[1].name},ten",
        f"{teams[2].key},-3",
        f"{teams[0].name},91",
        f"{teams[3].key},12,extra",
        f"{teams[4].key},2.5",
    ]
    reply = _upload_headcounts(admin, "\n".join(lines) + "\n")
    assert reply.status_code == 400
    missing = ", ".join(team.name for team in [teams[3], *teams[5:]])  # row 7 names none
    assert summary_errors(reply.text) == [
        "Row 3: no team 'Nonexistent Team' in this wave's version (give its key or exact name)",
        "Row 4: the headcount 'ten' is not a whole number",
        "Row 5: the headcount -3 is negative",
        f"Row 6: {teams[0].name} appears again (first on row 2)",
        "Row 7: expected 2 columns, team and headcount, but found 3",
        "Row 8: the headcount '2.5' is not a whole number",
        f"Every team needs a headcount; missing: {missing}",
    ]
    assert 'id="row-3" class="admin-table__problem"' in reply.text
    assert "Save these headcounts" not in reply.text

    for text, message in [
        ("name,count\nx,1\n", "The first row must be the header: team,headcount"),
        ("", "The file is empty"),
    ]:
        reply = _upload_headcounts(admin, text)
        assert summary_errors(reply.text) == [message]
    assert _headcounts(session_factory) == before
    assert audit_events(session_factory) == []


def test_headcounts_are_previewed_then_saved_until_the_wave_closes(
    admin: TestClient,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
) -> None:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=5)
    teams = coventry["2015"].population.teams
    wanted = {team.key: 10 + index for index, team in enumerate(teams)}
    rows = [  # by key and by exact name, in any order, with a blank line
        f'"{team.name}",{wanted[team.key]}' if index % 2 else f"{team.key},{wanted[team.key]}"
        for index, team in enumerate(reversed(teams))
    ]
    text = "\ufeffTeam,Headcount\r\n" + "\r\n".join(rows[:3]) + "\r\n\r\n" + "\r\n".join(rows[3:])
    before = _headcounts(session_factory)
    preview = _upload_headcounts(admin, text)
    assert preview.status_code == 200, summary_errors(preview.text)
    assert "Check the new headcounts" in preview.text
    assert _headcounts(session_factory) == before
    page = f"{WAVE_PAGE}/headcounts"
    saved = admin.post(page, data=hidden_fields(preview.text, page), follow_redirects=False)
    assert saved.headers["location"] == f"{page}?done=saved"
    assert _headcounts(session_factory) == wanted
    assert "The headcounts of wave 2015 were saved." in admin.get(saved.headers["location"]).text
    (event,) = audit_events(session_factory)
    assert (event.action, event.details) == (
        "headcounts_saved",
        {"teams": len(teams), "total": sum(wanted.values())},
    )

    send(admin, WAVE_PAGE, f"{WAVE_PAGE}/close", {"confirm": "yes"})
    assert _upload_headcounts(admin, text).status_code == 200  # a preview changes nothing
    refused = admin.post(page, data=hidden_fields(preview.text, page), follow_redirects=False)
    assert refused.status_code == 400
    assert "its headcounts can no longer change" in summary_errors(refused.text)[0]
    assert _headcounts(session_factory) == wanted


# ------------------------------------------------------------------------- access codes


def test_access_codes_are_shown_once_and_only_their_hashes_kept(
    admin: TestClient,
    session_factory: sessionmaker[Session],
    engine: Engine,
    coventry: dict[str, Any],
) -> None:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=5)
    page = f"{WAVE_PAGE}/codes"
    refused = send(admin, page, page, {"count": "3"})
    assert refused.status_code == 400
    assert summary_errors(refused.text)[0].startswith("Wave 2015 does not ask for access codes")
    with transaction(session_factory) as session:
        get_wave(session=session, survey_key=SURVEY, wave_key="2015").access_codes_required = True
    for written in ("0", "many", str(5001)):
        reply = send(admin, page, page, {"count": written})
        assert summary_errors(reply.text) == [
            "Enter how many codes to make, a whole number from 1 to 5,000"
        ]
    issued = send(admin, page, page, {"count": "4"})
    assert issued.status_code == 200
    codes = re.findall(r"<li>([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</li>", issued.text)
    assert len(set(codes)) == 4
    assert all(
        code.replace("-", "") in issued.text.replace("-", "").replace("%2D", "") for code in codes
    )
    assert "data:text/csv;charset=utf-8,code%0A" in issued.text
    with session_factory() as session:
        hashes = set(session.scalars(select(AccessCode.code_hash)))
    assert hashes == {hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes}
    stored = repr(every_value(engine))
    assert not [code for code in codes if code in stored or code.replace("-", "") in stored]
    again = admin.get(page).text
    assert not any(code in again for code in codes) and "4 codes issued so far" in again
    (event,) = audit_events(session_factory)
    assert (event.action, event.details) == ("codes_issued", {"count": 4})


# ------------------------------------------------------------------------- accounts


def test_accounts_are_created_changed_unlocked_and_removed(
    admin: TestClient, session_factory: sessionmaker[Session]
) -> None:
    missing = send(admin, "/admin/users/new", "/admin/users", {"email": ""})
    assert summary_errors(missing.text) == [
        "Enter the person's email address",
        "Choose at least one role",
    ]
    taken = send(admin, "/admin/users/new", "/admin/users", {"email": ADMIN, "roles": "hr"})
    assert summary_errors(taken.text) == [f"There is already an account for {ADMIN}."]
    created = send(
        admin,
        "/admin/users/new",
        "/admin/users",
        {"email": "Scrutiny.Member@Example.org", "roles": ["scrutiny", "hr"]},
    )
    assert created.status_code == 200
    password = re.search(r'<p class="resume-key" id="password">([^<]+)</p>', created.text)
    assert password
    with session_factory() as session:
        member = session.scalars(
            select(User).where(User.email == "scrutiny.member@example.org")
        ).one()
        assert member.roles == ["scrutiny", "hr"] and password.group(1) not in member.password_hash
    with TestClient(admin.app) as other:  # type: ignore[arg-type]
        assert sign_in(other, member.email, password.group(1)).status_code == 303

    page = f"/admin/users/{member.id}"
    assert password.group(1) not in admin.get(page).text
    changed = send(admin, page, f"{page}/roles", {"roles": ["admin"]})
    assert changed.headers["location"] == f"{page}?done=roles"
    none = send(admin, page, f"{page}/roles", {})
    assert summary_errors(none.text) == ["Choose at least one role, or remove the account instead"]

    with transaction(session_factory) as session:
        session.get_one(User, member.id).locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(
            minutes=9
        )
    assert "Yes, after too many failed sign-ins" in admin.get(page).text
    assert send(admin, page, f"{page}/unlock").headers["location"] == f"{page}?done=unlocked"
    with session_factory() as session:
        assert session.get_one(User, member.id).locked_until is None

    assert send(admin, page, f"{page}/remove").status_code == 400  # not confirmed
    removed = send(admin, page, f"{page}/remove", {"confirm": "yes"})
    assert removed.headers["location"] == "/admin/users?done=removed"
    with session_factory() as session:
        assert session.get(User, member.id) is None
    events = audit_events(session_factory)
    assert [(e.action, e.target, e.details) for e in events] == [
        ("user_created", "scrutiny.member@example.org", {"roles": ["scrutiny", "hr"]}),
        (
            "roles_changed",
            "scrutiny.member@example.org",
            {"roles_before": ["scrutiny", "hr"], "roles": ["admin"]},
        ),
        ("user_unlocked", "scrutiny.member@example.org", {}),
        ("user_removed", "scrutiny.member@example.org", {"roles": ["admin"]}),
    ]


def test_an_admin_keeps_their_own_admin_role_and_account(
    admin: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        me = session.scalars(select(User).where(User.email == ADMIN)).one()
    page = f"/admin/users/{me.id}"
    own_role = send(admin, page, f"{page}/roles", {"roles": ["scrutiny", "hr"]})
    assert own_role.status_code == 400
    assert summary_errors(own_role.text)[0].startswith("You cannot take away your own admin role")
    own_account = send(admin, page, f"{page}/remove", {"confirm": "yes"})
    assert own_account.status_code == 400
    assert summary_errors(own_account.text)[0].startswith("You cannot remove your own account")
    with session_factory() as session:
        assert session.get_one(User, me.id).roles == ["admin"]
    assert audit_events(session_factory) == []
    # Another admin may: the audit log keeps the removed admin's email.
    with transaction(session_factory) as session:
        create_user(session=session, email="second@example.org", roles=["admin"], password=PASSWORD)
    assert send(admin, page, f"{page}/roles", {"roles": ["admin", "hr"]}).status_code == 303
    admin.cookies.clear()
    assert sign_in(admin, "second@example.org").status_code == 303
    assert send(admin, page, f"{page}/remove", {"confirm": "yes"}).status_code == 303
    first, second = audit_events(session_factory)
    assert (first.actor_email, first.actor_id, second.actor_email) == (
        ADMIN,
        None,
        "second@example.org",
    )


# ------------------------------------------------------------------------- CSRF and the log


def test_a_form_without_a_valid_csrf_token_changes_nothing(
    admin: TestClient,
    session_factory: sessionmaker[Session],
    engine: Engine,
    coventry: dict[str, Any],
) -> None:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=5)
    with transaction(session_factory) as session:
        get_wave(session=session, survey_key=SURVEY, wave_key="2015").access_codes_required = True
        other = create_user(
            session=session, email="other@example.org", roles=["hr"], password=PASSWORD
        )
        other.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=9)
        other_id = other.id
    user_page = f"/admin/users/{other_id}"
    source = (COVENTRY / "2015.yaml").read_text().replace('October 2015"', 'October 2015 (v2)"', 1)
    csv_text = "team,headcount\n" + "\n".join(
        f"{t.key},1" for t in coventry["2015"].population.teams
    )
    staff_list = "email,team\nada@example.org,cf_first\n"
    posts: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = [
        ("/admin/definitions", {}, {"definition": ("2015.yaml", source.encode())}),
        ("/admin/definitions/publish", {"name": "2015.yaml", "source": source}, None),
        (
            "/admin/waves",
            {
                "version": f"{SURVEY}/2015",
                "key": "2016",
                "opens_on": "2026-01-01",
                "closes_on": "2026-02-01",
            },
            None,
        ),
        (f"{WAVE_PAGE}/threshold", {"threshold": "9"}, None),
        (f"{WAVE_PAGE}/breakdowns", {"breakdowns": "team_role"}, None),
        (f"{WAVE_PAGE}/headcounts/preview", {}, {"headcounts": ("h.csv", csv_text.encode())}),
        (f"{WAVE_PAGE}/headcounts", {"content": csv_text}, None),
        (f"{WAVE_PAGE}/codes", {"count": "3"}, None),
        (f"{WAVE_PAGE}/staff/preview", {}, {"staff": ("s.csv", staff_list.encode())}),
        (f"{WAVE_PAGE}/staff", {"content": staff_list}, None),
        (f"{WAVE_PAGE}/staff/send", {}, None),
        (f"{WAVE_PAGE}/staff/remind", {}, None),
        (f"{WAVE_PAGE}/close", {"confirm": "yes"}, None),
        ("/admin/users", {"email": "new@example.org", "roles": "hr"}, None),
        (f"{user_page}/roles", {"roles": "scrutiny"}, None),
        (f"{user_page}/unlock", {}, None),
        (f"{user_page}/remove", {"confirm": "yes"}, None),
        (f"{WAVE_PAGE}/open", {}, None),
    ]
    every_post = {path for method, path in admin_routes(admin, other_id) if method == "POST"}
    assert {path for path, _, _ in posts} == every_post
    with TestClient(admin.app) as elsewhere:  # type: ignore[arg-type]
        anothers = csrf_of(elsewhere, "/sign-in")  # valid, but for another browser's cookie
    own = csrf_of(admin, "/sign-in")
    altered = own[:-1] + ("1" if own.endswith("0") else "0")
    before = every_value(engine)
    for token in (None, "forged", anothers, altered):
        for path, data, files in posts:
            form = dict(data) if token is None else {CSRF_FIELD: token, **data}
            reply = admin.post(path, data=form, files=files, follow_redirects=False)
            assert reply.status_code == 400, (path, reply.status_code)
            assert summary_errors(reply.text)[0].startswith(
                "The form had expired or did not come from this site, so nothing was changed."
            ), path
    assert every_value(engine) == before


def test_the_audit_log_lists_every_action_without_a_code_password_or_answer(
    admin: TestClient,
    session_factory: sessionmaker[Session],
    coventry: dict[str, Any],
    mailbox: Mailbox,
) -> None:
    today = dt.date.today()
    page = f"/admin/surveys/{SURVEY}/waves/2016"
    send(
        admin,
        "/admin/waves/new",
        "/admin/waves",
        {
            "version": f"{SURVEY}/2015",
            "key": "2016",
            "codes": "yes",
            "opens_on": today.isoformat(),
            "closes_on": (today + dt.timedelta(days=9)).isoformat(),
        },
    )
    send(admin, page, f"{page}/open")
    issued = send(admin, f"{page}/codes", f"{page}/codes", {"count": "3"}).text
    codes = re.findall(r"<li>([A-Z2-9-]{19})</li>", issued)
    assert len(codes) == 3
    response_id = respond(admin, session_factory, "2016", access_code=codes[0])
    staff = f"{page}/staff"
    listed = "email,team\nada@example.org,referral_assessment\nben@example.org,cf_first\n"
    preview = send(admin, staff, f"{staff}/preview", files={"staff": ("s.csv", listed.encode())})
    assert "Add 2 people to the list" in preview.text
    admin.post(staff, data=hidden_fields(preview.text, staff))
    assert "2 invitations delivered" in send(admin, staff, f"{staff}/send").text
    assert "2 reminders delivered" in send(admin, staff, f"{staff}/remind").text
    invited = [link.rpartition("#code=")[2] for link in mailbox.links()]
    assert len(invited) == 4 and len(set(invited)) == 2
    send(admin, page, f"{page}/threshold", {"threshold": "6"})
    send(admin, page, f"{page}/breakdowns", {"breakdowns": "team_role"})
    assert "On: the results show each team" in admin.get(page).text
    teams = coventry["2015"].population.teams
    csv_text = "team,headcount\n" + "\n".join(f"{t.key},{t.headcount + 1}" for t in teams)
    preview = send(
        admin,
        f"{page}/headcounts",
        f"{page}/headcounts/preview",
        files={"headcounts": ("h.csv", csv_text.encode())},
    )
    admin.post(f"{page}/headcounts", data=hidden_fields(preview.text, f"{page}/headcounts"))
    send(admin, page, f"{page}/close", {"confirm": "yes"})
    created = send(
        admin, "/admin/users/new", "/admin/users", {"email": "hr@example.org", "roles": "hr"}
    )
    password = re.search(r'id="password">([^<]+)<', created.text)
    assert password
    with session_factory() as session:
        hr = session.scalars(select(User).where(User.email == "hr@example.org")).one()
    user_page = f"/admin/users/{hr.id}"
    send(admin, user_page, f"{user_page}/roles", {"roles": ["hr", "scrutiny"]})
    send(admin, user_page, f"{user_page}/unlock")
    send(admin, user_page, f"{user_page}/remove", {"confirm": "yes"})
    source = (COVENTRY / "2015.yaml").read_text().replace('version: "2015"', 'version: "2016"')
    checked = upload(admin, source, name="2016.yaml")
    admin.post(
        "/admin/definitions/publish",
        files={
            k: (None, v)
            for k, v in hidden_fields(checked.text, "/admin/definitions/publish").items()
        },
    )

    events = audit_events(session_factory)
    assert {event.action for event in events} == {action.value for action in PAGE_ACTIONS}
    assert all(event.actor_email == ADMIN and event.actor_id is not None for event in events)
    codes += invited
    secrets = [*codes, *(code.replace("-", "") for code in codes), password.group(1), response_id]
    with session_factory() as session:
        rows = [repr(row) for row in session.execute(select(AuditEvent.__table__)).all()]
    assert not [secret for secret in secrets if any(secret in row for row in rows)]

    log = admin.get("/admin/audit")
    assert log.status_code == 200
    text = unescape(log.text)
    for action in PAGE_ACTIONS:
        assert action.label in text
    assert "count: 3" in text and "threshold before: 5; threshold: 6" in text
    assert not [secret for secret in secrets if secret in text]
    newest = re.search(r"<tbody>\s*<tr>(.*?)</tr>", log.text, re.S)
    assert newest and "Published a definition" in newest.group(1)


def test_a_staff_list_shows_its_problems_by_line_and_stores_nothing(
    admin: TestClient,
    session_factory: sessionmaker[Session],
    engine: Engine,
    coventry: dict[str, Any],
    mailbox: Mailbox,
) -> None:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=5)
    staff = f"{WAVE_PAGE}/staff"
    assert "Nobody is on the list yet" in admin.get(staff).text
    before = every_value(engine)
    listed = "email,team\nada@example.org,cf_first\nada@example.org,cf_first\nben,nowhere\n"
    preview = send(admin, staff, f"{staff}/preview", files={"staff": ("s.csv", listed.encode())})
    assert preview.status_code == 400
    assert summary_errors(preview.text) == [
        "Line 3: ada@example.org appears again (first on line 2)",
        "Line 4: 'ben' is not an email address",
    ]
    assert "Nothing was stored" in preview.text and 'id="import"' not in preview.text
    forged = admin.post(staff, data={CSRF_FIELD: csrf_of(admin, staff), "content": listed})
    assert "appears again" in forged.text
    assert every_value(engine) == before
    good = (
        "email,team\nada@example.org,cf_first\nben@example.org,Children & Families First Service\n"
    )
    preview = send(admin, staff, f"{staff}/preview", files={"staff": ("s.csv", good.encode())})
    assert "Add 2 people to the list" in preview.text
    added = admin.post(staff, data=hidden_fields(preview.text, staff))
    assert "2 people were added to the staff list" in added.text
    row = re.search(
        r"<th scope=\"row\">Children &amp; Families First Service</th>(.*?)</tr>", added.text
    )
    assert row and re.findall(r">(\d+)<", row.group(1)) == ["2", "0"]
    assert "0 of the 2 on the list have answered" in added.text
    with session_factory() as session:
        assert get_wave(session=session, survey_key=SURVEY, wave_key="2015").access_codes_required
    assert not mailbox.messages
