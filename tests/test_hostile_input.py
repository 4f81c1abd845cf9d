"""What a curious or hostile visitor sends, to every route the app has: oversized and malformed
bodies, the wrong content types, deep and invalid JSON, forged and missing form tokens, hostile
path and query values, and hostile text in every field of every form.

Each gets a 4xx with a clear message (JSON `detail` under /api, a page with a heading and an
explanation elsewhere), never a 5xx, nothing in the database changes, and no page repeats the
hostile text unescaped. Routes are found by walking the app, so routes added later are covered
without being named here.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.accounts.models import User
from app.config import Settings
from app.db import make_engine, make_session_factory, transaction
from app.main import create_app
from app.models import WaveStatus
from app.surveys.definitions import SurveyDefinition
from app.surveys.service import (
    create_wave,
    get_wave,
    publish_definition,
    published_version,
    set_wave_status,
)
from app.surveys.validation import load_definition
from tests.conftest import BACKENDS, DATA, _settings, migrated_database
from tests.support.answers import complete_answers
from tests.support.journey import answer_page, start
from tests.support.routes import BODY_METHODS, DEMO_VALUES, RouteUse, route_uses
from tests.support.small_site import build_small_site
from tests.support.staff import sign_in, staff_tokens

OPEN_WAVE = "/s/coventry-supervision/2016"
SCRIPT = '<script>alert("hostile")</script>'
HOSTILE_TEXT = {
    "script": SCRIPT,
    "attribute": '"><img src=x onerror=alert(1)>',
    "sql": "x' OR '1'='1'; DROP TABLE responses; --",
    "long": "A" * 5000,
    "nul": "a\x00b",
    "unicode": "\u202e\ufeff\U0001f600 \udcff".encode("utf-8", "surrogatepass").decode("latin-1"),
}
"""Field values; the last is invalid UTF-8 (a lone surrogate) sent byte for byte."""
HOSTILE_SEGMENTS = {
    "traversal": "..%2F..%2F..%2Fetc%2Fpasswd",
    "dots": "%2e%2e",
    "sql": quote("1' OR '1'='1", safe=""),
    "script": quote(SCRIPT, safe=""),
    "long": "a" * 3000,
    "invalid-utf8": "%FF%FE%FD",
    "nul": "a%00b",
}
"""Path and query values, as they appear in the address."""
UNESCAPED = ("<script>alert(", "<img src=x onerror")
VISITORS = ("admin", "respondent", "anonymous")


@dataclass
class Site:
    app: FastAPI
    engine: Engine
    admin: TestClient
    """Signed in as an admin, asking for HTML like a browser."""
    respondent: TestClient
    """Half-way through the open wave: a draft with a team and role."""
    api: TestClient
    """Sends the admin's API token and asks for JSON."""
    anonymous: TestClient
    """A browser with no session and no draft."""


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    coventry_definitions: dict[str, SurveyDefinition],
) -> Iterator[Site]:
    """One small site per backend for the module: every refusal leaves it as it was."""
    settings = _settings(migrated_database(request, tmp_path_factory.mktemp("hostile")))
    engine = make_engine(settings)
    factory = make_session_factory(engine)
    for version in ("2014", "2015"):
        with transaction(factory) as session:
            publish_definition(session=session, definition=coventry_definitions[version])
    tokens = build_small_site(settings, factory)
    app = create_app(settings)
    browser = {"accept": "text/html,application/xhtml+xml"}
    with (
        TestClient(app, headers=browser) as admin,
        TestClient(app, headers=browser) as respondent,
        TestClient(app, headers={"authorization": f"Bearer {tokens['admin']}"}) as api,
        TestClient(app, headers=browser) as anonymous,
    ):
        assert sign_in(admin, "admin@example.org").status_code == 303
        assert start(respondent, OPEN_WAVE).status_code == 303
        chosen = {"team": "cf_first", "role": "social_worker"}
        assert answer_page(respondent, f"{OPEN_WAVE}/you", chosen)[0] == 303
        yield Site(app, engine, admin, respondent, api, anonymous)
    engine.dispose()


def _state(engine: Engine) -> dict[str, str]:
    """Every table's rows, as a digest per table: equal digests, nothing stored or changed."""
    metadata = MetaData()
    metadata.reflect(engine)
    state = {}
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            count = connection.execute(select(func.count()).select_from(table)).scalar_one()
            assert count == len(rows)
            state[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return state


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.headings = 0
        self.words = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.headings += tag == "h1"

    def handle_data(self, data: str) -> None:
        self.words += len(data.split())


def _unclear(reply: Any, path: str) -> str | None:
    """Why the refusal does not explain itself, if it does not."""
    content_type = reply.headers.get("content-type", "")
    if path.startswith("/api/"):
        if not content_type.startswith("application/json"):
            return f"the API answered {content_type}"
        detail = reply.json().get("detail")
        return None if detail else "no detail"
    if content_type.startswith("application/json"):
        detail = reply.json().get("detail")
        return None if isinstance(detail, str) and len(detail.split()) >= 2 else f"{detail!r}"
    if not content_type.startswith("text/html"):
        return f"answered {content_type}"
    text = _Text()
    text.feed(reply.text)
    return None if text.headings and text.words >= 8 else "a page without a heading and words"


class Check:
    """Sends requests and collects what went wrong, so one test reports every route at once.
    The database is compared once, after the last request: each was refused, so together they
    must have changed nothing."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.state = _state(site.engine)
        self.problems: list[str] = []
        self.sent = 0

    def send(
        self, client: TestClient, method: str, path: str, *, refused: bool = True, **kwargs: Any
    ) -> Any:
        reply = client.request(method, path, follow_redirects=False, **kwargs)
        self.sent += 1
        where = f"{method} {path[:120]} -> {reply.status_code}"
        if reply.status_code >= 500:
            self.problems.append(f"{where}: {reply.text[:200]}")
        elif refused and not 400 <= reply.status_code < 500:
            self.problems.append(f"{where}: not refused")
        elif 400 <= reply.status_code < 500 and (unclear := _unclear(reply, path)):
            self.problems.append(f"{where}: {unclear}")
        if reply.headers.get("content-type", "").startswith("text/html"):
            for fragment in UNESCAPED:
                if fragment in reply.text:
                    self.problems.append(f"{where}: repeats {fragment!r} unescaped")
        return reply

    def verify(self, at_least: int) -> None:
        after = _state(self.site.engine)
        changed = [name for name in after if after[name] != self.state.get(name)]
        assert self.sent >= at_least, self.sent
        assert not self.problems, "\n".join(self.problems)
        assert not changed, f"the refused requests changed {changed}"


def _body_routes(site: Site) -> list[RouteUse]:
    uses = [use for use in route_uses(site.app) if use.method in BODY_METHODS]
    assert any(use.pattern.startswith("/api/") for use in uses)
    assert any(use.pattern.startswith("/s/") for use in uses)
    assert any(use.pattern.startswith("/admin/") for use in uses)
    return uses


def _client(site: Site, use: RouteUse) -> TestClient:
    if use.pattern.startswith("/api/"):
        return site.api
    return site.respondent if use.pattern.startswith("/s/") else site.admin


def test_oversized_bodies_get_413_whatever_they_declare(site: Site) -> None:
    check = Check(site)
    limit = site.app.state.settings.max_request_bytes
    for use in _body_routes(site):
        client, path = _client(site, use), use.path()
        is_api = use.pattern.startswith("/api/")
        kind = "application/json" if is_api else "application/x-www-form-urlencoded"
        body = (b'{"a": "' + b"x" * limit + b'"}') if is_api else b"csrf=" + b"x" * limit
        declared = check.send(
            client, use.method, path, content=body, headers={"content-type": kind}
        )
        streamed = check.send(
            client, use.method, path, content=iter([body[:1000], body[1000:]]),
            headers={"content-type": kind},
        )  # fmt: skip
        for reply in (declared, streamed):
            if reply.status_code != 413:
                check.problems.append(f"{use.method} {path}: {reply.status_code}, not 413")
        assert "larger than" in declared.text or "too large" in declared.text
    check.verify(at_least=30)


def test_the_wrong_content_type_gets_415(site: Site) -> None:
    check = Check(site)
    for use in _body_routes(site):
        client, path = _client(site, use), use.path()
        if use.pattern.startswith("/api/"):
            wrong = [
                {"data": {"submission_id": "x"}},
                {"content": b"submission_id=x", "headers": {"content-type": "text/plain"}},
                {"content": b"<a/>", "headers": {"content-type": "application/xml"}},
            ]
        else:
            wrong = [
                {"json": {"csrf": "x", "team": "cf_first"}},
                {"content": b"csrf=x", "headers": {"content-type": "text/plain"}},
                {"content": b"csrf=x", "headers": {"content-type": "application/octet-stream"}},
                {"content": b"csrf=x"},  # no content type at all
            ]
        for request in wrong:
            reply = check.send(client, use.method, path, **request)
            if reply.status_code != 415:
                check.problems.append(f"{use.method} {path} {request}: {reply.status_code}")
    check.verify(at_least=30)


def test_malformed_bodies_are_refused(site: Site) -> None:
    """Deep, invalid and truncated JSON to the API; broken multipart and too many fields to the
    forms."""
    check = Check(site)
    json_type = {"content-type": "application/json"}
    for use in _body_routes(site):
        client, path = _client(site, use), use.path()
        if use.pattern.startswith("/api/"):
            for body in (
                b"[" * 50_000 + b"]" * 50_000,
                b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
                b'{"submission_id": "\xff\xfe", "team": "\xc3\x28"}',
                b'{"submission_id": ',
                b"NaN",
                json.dumps({"submission_id": SCRIPT, "team": [SCRIPT] * 100}).encode(),
            ):
                check.send(client, use.method, path, content=body, headers=json_type)
        else:
            for content_type, body in (
                ("multipart/form-data", b"no boundary"),
                ("multipart/form-data; boundary=xx", b"--xx\r\nnot a header\r\n\r\n"),
                ("multipart/form-data; boundary=xx", b"--xx\r\n" * 5000),
                ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(900))),
            ):
                check.send(
                    client, use.method, path, content=body, headers={"content-type": content_type}
                )
    check.verify(at_least=60)


def test_hostile_path_values_find_nothing(site: Site) -> None:
    """Every route with a path parameter, each parameter in turn given each hostile value."""
    check = Check(site)
    for use in route_uses(site.app):
        for parameter in use.parameters:
            for value in HOSTILE_SEGMENTS.values():
                path = use.path(dict(DEMO_VALUES, **{parameter: value}))
                kwargs = {"data": {"csrf": "x"}} if use.method in BODY_METHODS else {}
                if use.method in BODY_METHODS and use.pattern.startswith("/api/"):
                    kwargs = {"json": {}}
                check.send(_client(site, use), use.method, path, **kwargs)
    check.verify(at_least=150)


def test_hostile_query_values_are_refused_or_ignored_and_never_echoed(site: Site) -> None:
    """A query value may be ignored (`/sign-in?next=` falls back to a safe page), but never
    breaks a page or comes back unescaped."""
    check = Check(site)
    for use in route_uses(site.app):
        for parameter in use.query:
            for value in HOSTILE_SEGMENTS.values():
                check.send(
                    _client(site, use), use.method, f"{use.path()}?{parameter}={value}",
                    refused=False,
                )  # fmt: skip
    check.verify(at_least=40)


@dataclass
class FoundForm:
    action: str
    fields: dict[str, list[str]]
    """Every named control with its value(s) as the page gives them."""
    editable: list[str]
    """Controls a person fills or picks (not hidden)."""
    files: list[str]


class _Forms(HTMLParser):
    """The POST forms of a page (a GET form, such as a results filter, changes nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[FoundForm] = []
        self.open: FoundForm | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "form":
            posted = a.get("method", "get").lower() == "post"
            self.open = FoundForm(a.get("action", ""), {}, [], []) if posted else None
            self.forms += [self.open] if self.open else []
            return
        if not self.open or tag not in {"input", "select", "textarea"} or not a.get("name"):
            return
        form, name, kind = self.open, a["name"], a.get("type", "text")
        if kind == "file":
            form.files.append(name)
            return
        if kind in {"radio", "checkbox"} and "checked" not in a:
            form.fields.setdefault(name, [])
        else:
            form.fields.setdefault(name, []).append(a.get("value", ""))
        if kind not in {"hidden", "submit"} and name not in form.editable:
            form.editable.append(name)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.open = None


def _parse_forms(html: str) -> list[FoundForm]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def _forms(client: TestClient, site: Site) -> list[FoundForm]:
    """The POST forms of every page this client can open."""
    found = []
    with site.engine.connect() as connection:
        user_id = connection.execute(select(User.id).where(User.email == "none@example.org"))
        values = dict(DEMO_VALUES, user_id=str(user_id.scalar_one()))
    pages = {
        use.path(dict(values, wave=wave))
        for use in route_uses(site.app)
        if use.method == "GET"
        for wave in ("2015", "2016")  # closed and open: their pages have different forms
    }
    if client is site.respondent:
        pages = {path for path in pages if path.startswith(OPEN_WAVE)}
        pages |= {f"{OPEN_WAVE}/section/{s.key}" for s in _sections(site)}
    for path in sorted(pages):
        reply = client.get(path, follow_redirects=False)
        if reply.status_code == 200 and reply.headers["content-type"].startswith("text/html"):
            for form in _parse_forms(reply.text):
                form.action = form.action or path
                found.append(form)
    distinct = {(form.action, tuple(sorted(form.fields))): form for form in found}
    return list(distinct.values())


def _sections(site: Site) -> list[Any]:
    with transaction(make_session_factory(site.engine)) as session:
        wave = get_wave(session=session, survey_key="coventry-supervision", wave_key="2016")
        return list(published_version(session=session, version=wave.version).definition.sections)


@pytest.fixture(scope="module")
def site_forms(site: Site) -> dict[str, list[FoundForm]]:
    """The forms the admin and the respondent find on the pages they can open."""
    return {who: _forms(getattr(site, who), site) for who in VISITORS}


@pytest.mark.parametrize("who", VISITORS)
def test_a_form_without_its_token_or_with_a_forged_one_changes_nothing(
    site: Site, site_forms: dict[str, list[FoundForm]], who: str
) -> None:
    """Every form on every page, sent as the page gives it but for its token."""
    client = getattr(site, who)
    forms = [form for form in site_forms[who] if "csrf" in form.fields]
    assert len(forms) >= {"admin": 8, "respondent": 4, "anonymous": 1}[who], forms
    check = Check(site)
    for form in forms:
        fields = {name: values for name, values in form.fields.items() if values}
        for token in (None, "0" * 64, form.fields["csrf"][0][::-1], ""):
            data = (
                dict(fields, csrf=[token])
                if token is not None
                else {name: values for name, values in fields.items() if name != "csrf"}
            )
            check.send(client, "POST", form.action, data=data)
    check.verify(at_least=len(forms) * 4)


@pytest.mark.parametrize("who", VISITORS)
@pytest.mark.parametrize("hostile", sorted(HOSTILE_TEXT))
def test_hostile_text_in_every_field_of_every_form_is_refused(
    site: Site, site_forms: dict[str, list[FoundForm]], who: str, hostile: str
) -> None:
    """Every editable field of every form given the hostile text at once (a real token kept):
    each form says what is wrong, stores nothing and shows the text only escaped."""
    client = getattr(site, who)
    value = HOSTILE_TEXT[hostile]
    forms = [form for form in site_forms[who] if form.editable or form.files]
    assert forms
    check = Check(site)
    for form in forms:
        data = {name: values for name, values in form.fields.items() if values}
        data |= {name: [value] for name in form.editable}
        files = {
            name: ("../../etc/passwd", value.encode("latin-1", "replace")) for name in form.files
        }
        body = "&".join(
            f"{quote(name)}={quote(v.encode('latin-1'))}"
            for name, values in data.items()
            for v in values
        ).encode()
        if files:
            check.send(client, "POST", form.action, data=data, files=files)
        else:
            check.send(
                client, "POST", form.action, content=body,
                headers={"content-type": "application/x-www-form-urlencoded"},
            )  # fmt: skip
    check.verify(at_least=len(forms))


def test_hostile_json_fields_are_refused_one_by_one(site: Site) -> None:
    """The submission API with each field hostile in turn: 422 naming the field."""
    check = Check(site)
    url = "/api/v1/surveys/coventry-supervision/waves/2016/responses"
    good = {"submission_id": "a" * 32, "team": "cf_first", "role": "social_worker", "answers": {}}
    for field in ("submission_id", "team", "role"):
        for value in HOSTILE_TEXT.values():
            reply = check.send(site.api, "POST", url, json=dict(good, **{field: value}))
            fields = {error["field"] for error in reply.json().get("errors", [])}
            if reply.status_code == 422 and field not in fields and field != "team":
                check.problems.append(f"{field}={value[:20]!r}: errors name {fields}")
    for value in HOSTILE_TEXT.values():
        check.send(site.api, "POST", url, json=dict(good, answers={value: value}))
        check.send(site.api, "POST", url, json=dict(good, answers={"q4a": [value] * 60}))
        check.send(site.api, "POST", url, json=dict(good, extra=value))
    check.verify(at_least=30)


def test_the_site_still_works_after_all_that(site: Site) -> None:
    """The hostile requests broke nothing: the respondent's draft and the admin's session
    still work, and the API still stores a response."""
    you = site.respondent.get(f"{OPEN_WAVE}/you")
    assert you.status_code == 200
    assert re.search(r'value="cf_first"[^>]*checked', you.text)
    assert site.admin.get("/admin").status_code == 200
    with transaction(make_session_factory(site.engine)) as session:
        wave = get_wave(session=session, survey_key="coventry-supervision", wave_key="2016")
        published = published_version(session=session, version=wave.version)
    submission = {
        "submission_id": "b" * 32,
        "team": "cf_first",
        "role": "social_worker",
        "answers": complete_answers(published),
    }
    url = "/api/v1/surveys/coventry-supervision/waves/2016/responses"
    assert site.api.post(url, json=submission).status_code == 201


FORMULA = '=HYPERLINK("https://evil.example/","open me")'


@pytest.fixture
def hostile_survey(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> tuple[FastAPI, str]:
    """The mini survey with script in every name a person sees and a formula in one: an open
    wave, and a closed one with enough responses to report; returns the app and an admin's
    API token."""
    source = (DATA / "mini-survey" / "1.yaml").read_text(encoding="utf-8")
    for plain, hostile in {
        '"Mini survey"': f"Survey {SCRIPT}",
        '"Test Council"': 'Council "><img src=x onerror=alert(1)>',
        '"Mini survey, first edition"': f"Edition {SCRIPT}",
        '"North"': f"North {SCRIPT}",
        '"Worker"': FORMULA,
        '"Main"': f"Main {SCRIPT}",
        '"Which kinds of support do you use?"': f"Which support? {SCRIPT}",
        '"Peer support"': f"Peer {SCRIPT}",
    }.items():
        assert plain in source, plain
        source = source.replace(plain, "'" + hostile.replace("'", "''") + "'")
    source += (
        f"indicators:\n  - {{key: support, title: '{SCRIPT}', question: support, target_pct: 90}}\n"
    )
    path = tmp_path / "1.yaml"
    path.write_text(source, encoding="utf-8")
    today = dt.date.today()
    with transaction(session_factory) as session:
        publish_definition(session=session, definition=load_definition(path))
        for wave, status in (("closed", WaveStatus.open), ("open", WaveStatus.open)):
            create_wave(
                session=session, survey_key="mini-survey", wave_key=wave, version_key="1",
                opens_on=today - dt.timedelta(days=1), closes_on=today + dt.timedelta(days=20),
                status=status,
            )  # fmt: skip
    app = create_app(settings)
    with TestClient(app) as client:
        for number in range(12):
            answers = {"manages": "yes", "support": ["peer"], "budget": "no"}
            answers["support_comment"] = f"{SCRIPT} {FORMULA}"
            reply = client.post(
                "/api/v1/surveys/mini-survey/waves/closed/responses",
                json={
                    "submission_id": f"hostile-survey-{number:04}",
                    "team": "north",
                    "role": "worker",
                    "answers": answers,
                },
            )
            assert reply.status_code == 201, reply.text
    with transaction(session_factory) as session:
        set_wave_status(
            session=session, survey_key="mini-survey", wave_key="closed", status=WaveStatus.closed
        )
    return app, staff_tokens(session_factory)["admin"]


def _assert_escaped(where: str, text: str) -> None:
    for fragment in UNESCAPED:
        assert fragment not in text, f"{where} repeats {fragment!r} unescaped"


def test_script_in_names_and_answers_is_escaped_on_every_page(
    hostile_survey: tuple[FastAPI, str],
) -> None:
    app, _ = hostile_survey
    base = "/s/mini-survey/open"
    with TestClient(app) as respondent:
        shown = {base: respondent.get(base).text}
        start(respondent, base)
        answer_page(respondent, f"{base}/you", {"team": "north", "role": "worker"})
        answer_page(respondent, f"{base}/section/about", {"manages": "yes"})
        (form,) = [f for f in _parse_forms(respondent.get(f"{base}/section/main").text)]
        data = {name: values for name, values in form.fields.items() if values}
        data |= {"support": ["peer"], "budget": ["no"], "support_comment": [SCRIPT]}
        reply = respondent.post(form.action, data=data, follow_redirects=False)
        assert reply.status_code in (200, 303), reply.text
        for page in ("you", "section/about", "section/main", "check"):
            shown[page] = respondent.get(f"{base}/{page}").text
    assert "&lt;script&gt;alert(&#34;hostile&#34;)&lt;/script&gt;" in shown["check"]
    assert "North &lt;script&gt;" in shown["you"]
    with TestClient(app, headers={"accept": "text/html"}) as admin:
        assert sign_in(admin, "admin@example.org").status_code == 303
        values = dict(DEMO_VALUES, survey="mini-survey", wave="closed", team="north")
        values |= {"team_key": "north", "version": "1", "question": "2", "section": "main"}
        for use in route_uses(app):
            if use.method == "GET" and use.parameters:
                reply = admin.get(use.path(values))
                assert reply.status_code < 500, (use.path(values), reply.text[:300])
                if reply.headers.get("content-type", "").startswith("text/html"):
                    shown[use.path(values)] = reply.text
    assert any("North &lt;script&gt;" in text for path, text in shown.items() if "results" in path)
    for where, text in shown.items():
        _assert_escaped(where, text)


def test_exports_hold_no_formula_from_a_name_or_an_answer(
    hostile_survey: tuple[FastAPI, str],
) -> None:
    """A name or answer beginning with `=` would run as a formula when HR opens the export in a
    spreadsheet."""
    app, token = hostile_survey
    found = []
    with TestClient(app, headers={"authorization": f"Bearer {token}"}) as client:
        for use in route_uses(app):
            if use.method != "GET" or not use.pattern.startswith("/exports/"):
                continue
            for by in ("team", "role"):
                path = use.path(dict(DEMO_VALUES, survey="mini-survey", wave="closed"))
                reply = client.get(f"{path}?by={by}&from=closed&to=closed")
                assert reply.status_code < 500, (path, reply.text[:300])
                if reply.status_code != 200:
                    continue
                found.append(reply.text if path.endswith(".csv") else _xlsx_text(reply.content))
                if path.endswith(".csv"):
                    cells = [cell for row in csv.reader(io.StringIO(reply.text)) for cell in row]
                    formulas = [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
                    assert not [c for c in formulas if "HYPERLINK" in c], (path, formulas)
                else:
                    book = openpyxl.load_workbook(io.BytesIO(reply.content))
                    for sheet in book.worksheets:
                        for row in sheet.iter_rows():
                            for cell in row:
                                assert cell.data_type != "f", (path, sheet.title, cell.value)
    assert any("HYPERLINK" in text for text in found), "no export showed the role's name"


def _xlsx_text(content: bytes) -> str:
    book = openpyxl.load_workbook(io.BytesIO(content))
    return "\n".join(
        str(cell.value) for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
    )


def test_a_survey_without_indicators_reports_none(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """Found by the walk above: the indicators report of a survey that defines none failed with
    a 500."""
    today = dt.date.today()
    with transaction(session_factory) as session:
        publish_definition(
            session=session, definition=load_definition(DATA / "mini-survey" / "1.yaml")
        )
        create_wave(
            session=session, survey_key="mini-survey", wave_key="2026", version_key="1",
            opens_on=today - dt.timedelta(days=30), closes_on=today - dt.timedelta(days=1),
            status=WaveStatus.closed,
        )  # fmt: skip
    tokens = staff_tokens(session_factory)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        reply = client.get(
            "/api/v1/reports/mini-survey/indicators",
            headers={"authorization": f"Bearer {tokens['admin']}"},
        )
    assert reply.status_code == 200, reply.text
    assert reply.json() == []
