"""Every route, as every kind of visitor: the access table of DESIGN.md ("Who uses it", "Access").

Respondent pages and the published questionnaires are open to everybody. Results (pages, the
printable report and the reports API) need the scrutiny, HR or admin role; exports the HR or
admin role; the admin pages the admin role. API tokens open only the API and the exports.
A route this table does not name fails the test: every new route must be placed in it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from starlette.routing import Mount

from app.db import make_engine, make_session_factory
from app.main import create_app
from tests.conftest import _settings
from tests.support.staff import ROLES, create_user_for_test, sign_in, staff_tokens

EVERYONE = frozenset(
    {"anonymous", "respondent", "no role", *ROLES, *(f"{role} token" for role in ROLES)}
)
READERS = frozenset({"scrutiny", "hr", "admin"})
EXPORTERS = frozenset({"hr", "admin"})
ADMINS = frozenset({"admin"})
TOKENS = frozenset(f"{role} token" for role in ROLES)

ACCESS: list[tuple[str, frozenset[str]]] = [
    # (path pattern, who may use it); the first pattern that matches decides.
    (r"^/api/v1/reports/", READERS | {"scrutiny token", "hr token", "admin token"}),
    (r"^/api/v1/surveys(/|$)", EVERYONE),  # published questionnaires; respondents submit here
    (r"^/exports/", EXPORTERS | {"hr token", "admin token"}),
    (r"^/results(/|$)", READERS),
    (r"^/reports/", READERS),
    (r"^/admin(/|$)", ADMINS),
    (r"^/s/", EVERYONE),
    (r"^/(sign-in|sign-out)$", EVERYONE),
    (r"^/healthz$", EVERYONE),
    (r"^/metrics$", frozenset()),  # only the monitoring system, with METRICS_TOKEN
    (r"^/static/", EVERYONE),
    (r"^/favicon\.ico$", EVERYONE),
    (r"^/openapi\.json$", EVERYONE),
]

EXAMPLE_VALUES = {
    "survey": "coventry-supervision",
    "wave": "2015",
    "wave_key": "2016",
    "version": "2015",
    "question": "4a",
    "section": "key_basics",
    "team": "cf_first",
    "team_key": "cf_first",
    "mailing": "remind",
}
"""Path parameters filled with the demo's own keys, so allowed visitors reach real pages."""


def allowed(path: str) -> frozenset[str]:
    for pattern, who in ACCESS:
        if re.search(pattern, path):
            return who
    raise AssertionError(f"{path} is not in the access table: decide who may use it")


def _requests(client: TestClient) -> Iterator[tuple[str, str]]:
    """(method, concrete path) for every route the app serves."""
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if isinstance(context.original_route, Mount):
            yield "GET", f"{context.path}/app.css"
            continue
        concrete = re.sub(
            r"\{(\w+)(:\w+)?\}", lambda m: EXAMPLE_VALUES.get(m.group(1), "x"), context.path
        )
        for method in sorted((context.methods or set()) - {"HEAD"}):
            yield method, concrete


@pytest.fixture(scope="module")
def visitors(demo_url: str) -> Iterator[dict[str, TestClient]]:
    settings = _settings(demo_url)
    engine = make_engine(settings)
    factory: sessionmaker = make_session_factory(engine)  # type: ignore[type-arg]
    tokens = staff_tokens(factory)
    clients: dict[str, TestClient] = {}
    app = create_app(settings)
    for name in ("anonymous", "respondent", "no role", *ROLES, *TOKENS):
        clients[name] = TestClient(app, headers={"accept": "text/html,application/json"})
        clients[name].__enter__()
    clients["respondent"].cookies.set("draft", secrets.token_urlsafe(16))
    sign_in(clients["no role"], "none@example.org")
    for role in ROLES:
        assert sign_in(clients[role], f"{role}@example.org").status_code == 303
        clients[f"{role} token"].headers["authorization"] = f"Bearer {tokens[role]}"
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)
    engine.dispose()


def _denied(status: int, location: str) -> bool:
    return status in (401, 403) or (status == 303 and location.startswith("/sign-in"))


def test_every_route_lets_in_exactly_whom_the_design_allows(
    visitors: dict[str, TestClient],
) -> None:
    wrong = []
    routes = list(_requests(visitors["anonymous"]))
    assert len(routes) > 25
    for method, path in routes:
        who = allowed(path)
        for name, client in visitors.items():
            reply = client.request(method, path, follow_redirects=False)
            assert reply.status_code < 500, (name, method, path, reply.text[:300])
            denied = _denied(reply.status_code, reply.headers.get("location", ""))
            if denied == (name in who):
                wrong.append(f"{name}: {method} {path} -> {reply.status_code}")
    assert not wrong, "\n".join(wrong)


def test_the_table_covers_every_staff_area(visitors: dict[str, TestClient]) -> None:
    """So that a route moving out from under its prefix cannot slip past the table, and no line
    of the table outlives its routes."""
    paths = {path for _, path in _requests(visitors["anonymous"])}
    for area in ("/api/v1/reports/", "/sign-in", "/s/"):
        assert any(path.startswith(area) for path in paths), area
    for pattern, _ in ACCESS:
        assert any(re.search(pattern, path) for path in paths), f"{pattern} matches no route"


def test_a_user_without_a_role_sees_no_results(demo_url: str) -> None:
    settings = _settings(demo_url)
    engine = make_engine(settings)
    create_user_for_test(make_session_factory(engine), "nobody@example.org")
    engine.dispose()
    with TestClient(create_app(settings)) as client:
        assert sign_in(client, "nobody@example.org").status_code == 303
        page = client.get("/sign-in")
        assert "Your account has no role yet" in page.text
        assert client.get("/api/v1/reports/coventry-supervision/indicators").status_code == 403
