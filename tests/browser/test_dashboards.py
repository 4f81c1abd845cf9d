"""A scrutiny member signs in and reads the results in Chromium: the overview, a year-on-year
page and a team page. The charts are drawn by the plotly bundle the app serves, the tables hold
the API's figures, withheld cells say so, axe-core finds nothing, and a phone needs no sideways
scrolling."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.main import create_app
from tests.browser.conftest import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    requests_seen,
    screenshot,
)
from tests.conftest import _settings
from tests.support.staff import PASSWORD, sign_in, staff_tokens

SURVEY = "coventry-supervision"
OVERVIEW = f"/results/{SURVEY}"
YEAR_ON_YEAR = (
    f"/results/{SURVEY}/compare?from=2014&to=2015&section=task_assistance"
    "&team=residential_gravel_hill"
)
TEAM = f"/results/{SURVEY}/waves/2015/teams/residential_gravel_hill"
GRAVEL_HILL = "Residential – Gravel Hill"
WITHHELD = "withheld (small group)"


pytestmark = pytest.mark.parametrize("demo_url", ["sqlite"], indirect=True)
"""The pages on PostgreSQL are covered over HTTP (tests/test_dashboards.py)."""


@pytest.fixture(scope="module")
def demo_database(demo_url: str) -> str:
    """The session's Coventry demo on SQLite, whose results other tests have most likely worked
    out already in this process, with a scrutiny member's account."""
    engine = make_engine(_settings(demo_url))
    staff_tokens(make_session_factory(engine))
    engine.dispose()
    return demo_url


@pytest.fixture(scope="module")
def demo_app(demo_database: str) -> Iterator[FastAPI]:
    """One app for the module, its results worked out once before the browser asks (the cold
    suppression of two whole waves takes longer than a page may)."""
    app = create_app(_settings(demo_database))
    with TestClient(app, headers={"accept": "text/html"}) as client:
        assert sign_in(client, "scrutiny@example.org").status_code == 303
        for path in (OVERVIEW, YEAR_ON_YEAR, TEAM):
            assert client.get(path).status_code == 200, path
    yield app


@pytest.fixture
def settings(demo_database: str) -> Settings:
    return _settings(demo_database)


@pytest.fixture
def live_app(demo_app: FastAPI) -> FastAPI:
    return demo_app


def signed_in(page: Page, live_server: str) -> None:
    """Through the sign-in page, as a scrutiny member does."""
    page.goto(f"{live_server}/sign-in")
    page.get_by_label("Email address").fill("scrutiny@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert "You are signed in" in page.content()


def open_page(page: Page, url: str) -> list[str]:
    """Go to a results page and wait until plotly has drawn every chart on it; returns the
    script errors and Content-Security-Policy refusals the page met (there should be none)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: (
            problems.append(message.text)
            if message.type == "error" and "favicon" not in message.text
            else None
        ),
    )
    page.goto(url)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-chart')].every(
            (chart) => chart.querySelector('svg.main-svg .cartesianlayer'))"""
    )
    return problems


def api(page: Page, live_server: str, path: str) -> Any:
    """The reports API, with the browser's own session."""
    reply = page.request.get(f"{live_server}/api/v1/reports/{SURVEY}/{path}")
    assert reply.ok, reply.text()
    return reply.json()


def pct(share: float) -> str:
    return f"{(Decimal(str(share)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def table_rows(page: Page, table_id: str) -> list[list[str]]:
    """A table's body rows as the reader sees them: heading then cells, text only."""
    rows: list[list[str]] = page.evaluate(
        """(id) => [...document.querySelectorAll(`#${id} tbody tr`)].map(
            (tr) => [...tr.children].map((cell) => cell.innerText.trim().replace(/\\s+/g, ' ')))""",
        table_id,
    )
    return rows


def charts_drawn(page: Page) -> int:
    """How many charts plotly drew: an SVG with bars or markers in it."""
    count: int = page.evaluate(
        """[...document.querySelectorAll('.js-plotly-plot')].filter(
            (chart) => chart.querySelector('svg.main-svg .point')).length"""
    )
    return count


def assert_plotly_came_from_the_app(page: Page, live_server: str) -> None:
    assert f"GET {live_server}/static/vendor/plotly.min.js" in requests_seen(page)
    assert f"GET {live_server}/static/charts.js" in requests_seen(page)
    assert page.evaluate("typeof window.Plotly") == "object"


def assert_withheld_is_visible(page: Page) -> None:
    withheld = page.locator("td.withheld").first
    assert withheld.is_visible()
    assert withheld.inner_text().strip() == WITHHELD
    placeholder = page.locator(".js-plotly-plot .annotation-text", has_text="withheld: small group")
    assert placeholder.count() >= 1 and placeholder.first.is_visible()


def test_the_overview(page: Page, live_server: str) -> None:
    signed_in(page, live_server)
    assert open_page(page, f"{live_server}{OVERVIEW}") == []
    assert_plotly_came_from_the_app(page, live_server)
    assert charts_drawn(page) == 3  # response rates, indicators, changes 2014 to 2015
    assert page.locator("#response-rates[role=img]").get_attribute("aria-label")

    profile = {row[0]: row for row in table_rows(page, "response-profile")}
    for index, wave in enumerate(("2014", "2015")):
        for rate in api(page, live_server, f"waves/{wave}/response-rates"):
            name = "All teams" if rate["group"] == "(all)" else rate["group"]
            row = next(r for h, r in profile.items() if h == name or h.startswith(f"{name} ("))
            assert row[1 + 4 * index : 5 + 4 * index] == [
                f"{rate['respondents']:,}",
                f"{rate['headcount']:,}",
                f"{rate['rate_pct']}%",
                f"{rate['one_person_pct']}%",
            ]
    assert any(h.startswith("MASH – CSE (split from MASH – Referral") for h in profile)

    overall = {
        row["number"]: row
        for row in api(page, live_server, "compare?from=2014&to=2015")
        if row["group"] == "All teams"
    }
    for row in table_rows(page, "changes-table-2014-2015"):
        number = row[0].split(" ")[0]
        assert overall[number]["significant"] is True
        assert row[1:3] == [
            pct(overall[number]["positive_share_before"]),
            pct(overall[number]["positive_share_after"]),
        ]
    assert page.locator("td.withheld", has_text=WITHHELD).first.is_visible()
    # Nobody has answered the open wave yet: its total is shown, as every team is withheld.
    assert page.get_by_text("Responses so far: 0 of 570 (0%)").is_visible()
    page.get_by_role("link", name="Responses so far by team").click()
    assert page.get_by_role("heading", name="Responses so far in 2016").is_visible()
    assert page.locator("#days-left").inner_text().startswith("Open until")
    assert page.locator("#progress td.withheld").count() == 2 * 17  # responses and rate
    assert_no_axe_violations(page)
    screenshot(page, "dashboard-progress")
    page.go_back()
    screenshot(page, "dashboard-overview")
    assert_no_axe_violations(page)


def test_a_year_on_year_page(page: Page, live_server: str) -> None:
    signed_in(page, live_server)
    assert open_page(page, f"{live_server}{YEAR_ON_YEAR}") == []
    assert_plotly_came_from_the_app(page, live_server)
    assert charts_drawn(page) >= 1
    team: dict[str, dict[str, Any]] = {}
    for row in api(page, live_server, "compare?from=2014&to=2015"):
        if row["group"] == GRAVEL_HILL:
            team.setdefault(row["number"], row)
    rows = table_rows(page, "positive-share-table")
    assert rows
    for row in rows:
        expected = team[row[0].split(" ")[0]]
        for side, cell in (("before", row[1]), ("after", row[2])):
            withheld = expected[f"base_{side}"] is None
            assert cell == (WITHHELD if withheld else pct(expected[f"positive_share_{side}"]))
    assert_withheld_is_visible(page)
    # The filter form is usable without a script: labelled selects, the choice kept.
    assert page.get_by_label("Team").input_value() == "residential_gravel_hill"
    screenshot(page, "dashboard-year-on-year")
    assert_no_axe_violations(page)


def test_a_team_page(page: Page, live_server: str) -> None:
    signed_in(page, live_server)
    assert open_page(page, f"{live_server}{TEAM}") == []
    assert_plotly_came_from_the_app(page, live_server)
    assert charts_drawn(page) >= 8  # a chart per section with a positive share
    after: dict[str, dict[str, Any]] = {}
    overall: dict[str, dict[str, Any]] = {}
    for row in api(page, live_server, "compare?from=2014&to=2015"):
        if row["group"] in (GRAVEL_HILL, "All teams"):
            (after if row["group"] == GRAVEL_HILL else overall).setdefault(row["number"], row)
    rows = table_rows(page, "team-table-task_assistance")
    assert len(rows) == 13  # 11a to 11m
    for row in rows:
        number = row[0].split(" ")[0]
        mine = after[number]
        assert row[1] == (
            WITHHELD if mine["base_after"] is None else pct(mine["positive_share_after"])
        )
        assert row[3] == pct(overall[number]["positive_share_after"])
    assert_withheld_is_visible(page)
    screenshot(page, "dashboard-team")
    assert_no_axe_violations(page)


def test_the_overview_on_a_phone(phone_page: Page, live_server: str) -> None:
    signed_in(phone_page, live_server)
    assert open_page(phone_page, f"{live_server}{OVERVIEW}") == []
    assert_no_horizontal_scroll(phone_page)
    region = phone_page.get_by_role("region", name="Responses by team and wave")
    assert region.get_attribute("tabindex") == "0"  # a wide table scrolls inside, by keyboard too
    screenshot(phone_page, "dashboard-overview-phone")
    assert_no_axe_violations(phone_page)
