"""Security headers on every response of every route, errors and the server-error page
included; no page relies on inline script; Swagger UI and ReDoc (CDN code) are gone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.main import create_app
from app.security import CONTENT_SECURITY_POLICY, HEADERS
from app.surveys.definitions import SurveyDefinition
from tests.conftest import migrated_sqlite
from tests.support.journey import complete_journey
from tests.support.routes import route_uses
from tests.support.small_site import build_small_site
from tests.support.staff import sign_in

HSTS = "Strict-Transport-Security"
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _assert_headers(reply: object, where: str, *, hsts: bool = False) -> None:
    headers = reply.headers  # type: ignore[attr-defined]
    for name, value in HEADERS.items():
        assert headers.get(name) == value, (where, name, headers.get(name))
    assert (HSTS in headers) is hsts, where
    path = reply.request.url.path  # type: ignore[attr-defined]
    if path.startswith("/s/") or path.endswith("/responses"):
        # a respondent's page, or the API that takes responses: never kept by the browser
        assert headers.get("Cache-Control") == "no-store", where


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Headers are set above the database, so SQLite alone."""
    return migrated_sqlite(tmp_path)


@pytest.fixture
def admin(
    settings: Settings,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
) -> Iterator[TestClient]:
    build_small_site(settings, session_factory)
    with TestClient(create_app(settings), headers={"accept": "text/html"}) as client:
        assert sign_in(client, "admin@example.org").status_code == 303
        yield client


def test_the_policy_allows_no_inline_script_and_no_eval() -> None:
    script = next(d for d in CONTENT_SECURITY_POLICY.split("; ") if d.startswith("script-src"))
    assert script == "script-src 'self'"
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY


def test_every_route_answers_with_the_headers_and_no_page_has_inline_script(
    admin: TestClient,
) -> None:
    """Each route as a signed-in admin and as an anonymous visitor (pages, redirects, 401, 403,
    404, 405, 422 alike), and a respondent's whole journey. What the policy would block in a
    browser, inline script and event-handler attributes, is caught here in every page."""
    uses = list(route_uses(admin.app))  # type: ignore[arg-type]
    assert len(uses) > 25
    pages = {}
    with TestClient(admin.app) as anonymous:
        for use in uses:
            for client in (admin, anonymous):
                reply = client.request(use.method, use.path(), follow_redirects=False)
                _assert_headers(reply, f"{use.method} {use.path()} -> {reply.status_code}")
                if reply.headers.get("content-type", "").startswith("text/html"):
                    pages[f"{use.method} {use.path()}"] = reply.text
        for method, path in [("GET", "/no-such-page"), ("DELETE", "/healthz")]:
            _assert_headers(anonymous.request(method, path), path)
    with TestClient(admin.app) as respondent:
        base = "/s/coventry-supervision/2016"
        for path in complete_journey(respondent, base, "cf_first", "social_worker", {}):
            reply = respondent.get(path)
            _assert_headers(reply, path)
            pages[path] = reply.text
    assert len(pages) > 20
    for where, html in pages.items():
        assert not INLINE_SCRIPT.search(html), (where, INLINE_SCRIPT.search(html))
        assert not INLINE_HANDLER.search(html), (where, INLINE_HANDLER.search(html))


def test_refusals_before_any_route_carry_them_too(admin: TestClient) -> None:
    url = "/api/v1/surveys/coventry-supervision/waves/2016/responses"
    too_large = admin.post(
        url, content=b"x" * 300_000, headers={"content-type": "application/json"}
    )
    wrong_type = admin.post(url, content=b"x", headers={"content-type": "text/plain"})
    assert (too_large.status_code, wrong_type.status_code) == (413, 415)
    for reply in (too_large, wrong_type):
        _assert_headers(reply, str(reply.status_code))


@pytest.fixture
def failing_app(settings: Settings) -> FastAPI:
    app = create_app(settings)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    return app


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_a_server_error_gets_the_headers_and_a_reference(failing_app: FastAPI, accept: str) -> None:
    with TestClient(failing_app, raise_server_exceptions=False) as client:
        reply = client.get("/broken", headers={"accept": accept})
    assert reply.status_code == 500
    _assert_headers(reply, "500")
    reference = reply.headers["x-request-id"]
    assert f"give this reference to the survey team: {reference}" in reply.text
    assert "a bug" not in reply.text and "Traceback" not in reply.text
    assert reply.headers["content-type"].startswith(accept)


def test_hsts_only_in_production(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production", "secret_key": "s" * 40})
    with TestClient(create_app(production)) as client:
        _assert_headers(client.get("/healthz"), "production", hsts=True)
        assert client.get("/healthz").headers[HSTS] == "max-age=31536000"
    with TestClient(create_app(settings)) as client:
        _assert_headers(client.get("/healthz"), "test", hsts=False)


def test_a_response_that_sets_its_own_policy_keeps_it(settings: Settings) -> None:
    from fastapi.responses import PlainTextResponse

    app = create_app(settings)
    app.add_api_route(
        "/own-policy",
        lambda: PlainTextResponse("x", headers={"Content-Security-Policy": "default-src 'none'"}),
    )
    with TestClient(app) as client:
        reply = client.get("/own-policy")
    assert reply.headers["content-security-policy"] == "default-src 'none'"
    assert reply.headers["x-frame-options"] == "DENY"


def test_the_docs_pages_are_gone_and_the_schema_stays(client: TestClient) -> None:
    """Swagger UI and ReDoc load their code from a CDN and start it with inline script."""
    assert client.get("/docs").status_code == 404
    assert client.get("/redoc").status_code == 404
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    assert "/api/v1/surveys" in schema.json()["paths"]
