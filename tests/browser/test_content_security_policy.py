"""The Content-Security-Policy in a real browser: plotly draws the app's charts under it without
a single refusal (no inline script, no eval), and the policy really does stop inline script on
the app's own pages."""

from __future__ import annotations

import json

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from playwright.sync_api import Page

from app.config import Settings
from app.main import create_app
from app.security import CONTENT_SECURITY_POLICY

FIGURE = {
    "data": [
        {"type": "bar", "x": ["Team A", "Team B"], "y": [62, 48], "name": "Positive %"},
        {"type": "scatter", "mode": "markers", "x": ["Team A", "Team B"], "y": [55, 51]},
    ],
    "layout": {"title": {"text": "Drawn under the policy"}, "yaxis": {"range": [0, 100]}},
}
CHART_PAGE = f"""<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>Chart under the policy</title></head>
<body>
  <main>
    <h1>Chart under the policy</h1>
    <div class="js-chart" data-figure="figure" data-label="Positive share by team"></div>
    <script type="application/json" id="figure">{json.dumps(FIGURE)}</script>
    <script src="/static/vendor/plotly.min.js"></script>
    <script src="/static/charts.js"></script>
  </main>
</body>
</html>"""
INLINE_AND_EVAL = """<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><title>Inline and eval</title></head>
<body><main><h1>Inline and eval</h1>
<script>window.ranInline = true;</script>
<script src="/_csp/try-eval.js"></script>
</main></body></html>"""
TRY_EVAL = """
try { window.evil = eval("1 + 1"); window.triedEval = "ran"; }
catch (refused) { window.triedEval = "refused"; }
"""
WATCH_THE_POLICY = """
window.refusals = [];
document.addEventListener('securitypolicyviolation', (event) => window.refusals.push(
  `${event.violatedDirective} ${event.blockedURI} ${event.sample || ''}`));
"""
"""Runs before the page's own scripts (Playwright injects it), whatever the policy says."""


@pytest.fixture
def live_app(settings: Settings) -> FastAPI:
    """The real app, its policy included, plus a page drawing a chart the way results pages
    do: a JSON block, plotly from the app, and the app's own charts.js."""
    app = create_app(settings)
    app.add_api_route("/_csp/chart", lambda: HTMLResponse(CHART_PAGE), include_in_schema=False)
    app.add_api_route(
        "/_csp/inline-and-eval", lambda: HTMLResponse(INLINE_AND_EVAL), include_in_schema=False
    )
    app.add_api_route(
        "/_csp/try-eval.js",
        lambda: Response(TRY_EVAL, media_type="text/javascript"),
        include_in_schema=False,
    )
    return app


def _errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def test_plotly_draws_the_charts_under_the_policy_without_a_refusal(
    live_server: str, page: Page
) -> None:
    errors = _errors(page)
    page.add_init_script(WATCH_THE_POLICY)
    response = page.goto(f"{live_server}/_csp/chart")
    assert response is not None
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    page.wait_for_function("() => document.querySelectorAll('svg.main-svg .point').length >= 4")
    assert page.locator(".js-chart").get_attribute("role") == "img"
    page.mouse.move(0, 0)  # hover effects and resizing: plotly's styles are inline
    page.set_viewport_size({"width": 600, "height": 800})
    page.wait_for_timeout(300)
    assert page.evaluate("window.refusals") == []
    assert errors == []


def test_plotly_exports_an_image_under_the_policy(live_server: str, page: Page) -> None:
    """Plotly's "download as PNG" draws its SVG through a `blob:` image: `img-src` allows it."""
    page.add_init_script(WATCH_THE_POLICY)
    page.goto(f"{live_server}/_csp/chart")
    page.wait_for_function("() => document.querySelector('svg.main-svg .point')")
    image = page.evaluate(
        "() => Plotly.toImage(document.querySelector('.js-chart'), {format: 'png'})"
    )
    assert image.startswith("data:image/png;base64,")
    assert page.evaluate("window.refusals") == []


def test_the_policy_stops_inline_script_and_eval(live_server: str, page: Page) -> None:
    """On a page of the app: an inline script never runs, and the app's own script cannot
    turn a string into code."""
    page.add_init_script(WATCH_THE_POLICY)
    page.goto(f"{live_server}/_csp/inline-and-eval")
    page.wait_for_function("() => window.triedEval")
    assert page.evaluate("window.ranInline") is None
    assert page.evaluate("window.triedEval") == "refused"
    refused = page.evaluate("window.refusals")
    assert any(refusal.startswith("script-src-elem inline") for refusal in refused), refused
    assert any(refusal.startswith("script-src eval") for refusal in refused), refused
    with pytest.raises(Exception, match="Content Security Policy"):
        page.add_script_tag(content="window.injected = true")
