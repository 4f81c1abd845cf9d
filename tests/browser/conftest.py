"""Real-browser fixtures: the app under uvicorn on 127.0.0.1, Debian's Chromium driven by Playwright.

Fixtures
    live_app(settings) -> FastAPI        the app under test; override it in a module to add routes
    live_server(live_app) -> str         base URL, e.g. "http://127.0.0.1:41234" (no trailing slash)
    browser() -> Browser                 one headless Chromium for the whole session
    page(browser, request) -> Page       fresh context per test, 1280x800
    phone_page(browser, request) -> Page fresh context per test, 320x640, is_mobile, has_touch

Every page is guarded: a request to any host other than 127.0.0.1/localhost is aborted and
recorded, and a test whose page made one fails (pages must load nothing from outside the app).
A test that expects such requests takes them with `take_external_requests(page)`.

Helpers (import them from this module)
    assert_no_axe_violations(page)       axe-core, WCAG 2.0/2.1/2.2 A and AA
    axe_violations(page) -> list[dict]   the same run, returned instead of asserted
    assert_no_horizontal_scroll(page)
    assert_no_external_requests(page)
    take_external_requests(page) -> list[str]
    requests_seen(page) -> list[str]     every request the page's context made, as "METHOD url"
    screenshot(page, name) -> Path       PNG in a temporary directory, or var/screenshots/ when
                                         SCREENSHOTS=1

Chromium missing: the tests are skipped, or fail under CI=true. axe-core missing (`npm ci` not
run): the axe helpers skip, or fail under CI=true.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import socket
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Route,
    WebSocket,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine
from app.main import create_app
from app.migrate import upgrade

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    # Playwright adds --no-sandbox itself (needed as root); --headless comes from headless=True.
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
AXE_SCRIPT = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 320, "height": 640}, "is_mobile": True, "has_touch": True}
TIMEOUT_MS = 10_000
"""Default for every Playwright wait and navigation: a broken page fails in seconds, not 30."""


def _in_ci() -> bool:
    return os.environ.get("CI") == "true"


def _skip_or_fail(message: str) -> None:
    if _in_ci():
        pytest.fail(f"{message} (required under CI=true)", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------- live server


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the same pages on PostgreSQL are covered by the HTTP tests."""
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    engine = make_engine(Settings(environment="test", database_url=url, _env_file=None))  # type: ignore[call-arg]
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def live_app(settings: Settings) -> FastAPI:
    """The app the live server runs, on the test's database. A test module can override this
    fixture to add test-only routes (build on `create_app(settings)`)."""
    return create_app(settings)


@pytest.fixture
def live_server(live_app: FastAPI) -> Iterator[str]:
    """Runs `live_app` under uvicorn in a background thread on 127.0.0.1 and yields its base URL.
    The listening socket is bound before the thread starts (port 0: no race for a free port);
    the fixture returns once /healthz answers 200, and stops the server at teardown."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        live_app,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"live-server-{port}", daemon=True
    )
    thread.start()
    try:
        _wait_until_healthy(server, thread, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        sock.close()
        if thread.is_alive():
            pytest.fail(f"live server on port {port} did not stop within 10 s", pytrace=False)


def _wait_until_healthy(server: uvicorn.Server, thread: threading.Thread, port: int) -> None:
    deadline = time.monotonic() + 15
    last_error = "not started"
    while time.monotonic() < deadline:
        if not thread.is_alive():
            pytest.fail("live server thread exited during startup (see the log above)")
        if server.started:
            # http.client, not urllib: it never goes through an HTTP(S)_PROXY from the environment.
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            try:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                body = response.read()
                if response.status == 200:
                    return
                last_error = f"/healthz answered {response.status}: {body[:200]!r}"
            except OSError as error:
                last_error = repr(error)
            finally:
                connection.close()
        time.sleep(0.005)
    pytest.fail(f"live server on port {port} not healthy after 15 s: {last_error}")


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def _playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        _skip_or_fail(
            f"browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium"
        )
    playwright = sync_playwright().start()
    yield playwright
    playwright.stop()


@pytest.fixture(scope="module")
def browser(_playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium (Debian's, not a Playwright download) for the whole session."""
    browser = _playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@dataclass
class NetworkGuard:
    """What one browser context asked the network for."""

    requests: list[str] = field(default_factory=list)
    """Every request, as "METHOD url", in order."""
    external: list[str] = field(default_factory=list)
    """Requests to hosts other than 127.0.0.1/localhost (each aborted) and WebSockets to them
    (recorded only: context.route() does not see WebSockets)."""
    reported: int = 0
    """How many of `external` have already been reported or taken."""

    def unreported(self) -> list[str]:
        return self.external[self.reported :]

    def mark_reported(self) -> None:
        self.reported = len(self.external)


_guards: weakref.WeakKeyDictionary[BrowserContext, NetworkGuard] = weakref.WeakKeyDictionary()
_GUARDS_OF_ITEM = pytest.StashKey[list[NetworkGuard]]()


def is_local_url(url: str) -> bool:
    return urlsplit(url).hostname in LOCAL_HOSTS


def _guarded_page(
    browser: Browser, request: pytest.FixtureRequest, **options: Any
) -> Iterator[Page]:
    context = browser.new_context(locale="en-GB", timezone_id="Europe/London", **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    guard = NetworkGuard()
    _guards[context] = guard
    request.node.stash.setdefault(_GUARDS_OF_ITEM, []).append(guard)

    def route(route: Route) -> None:
        url = route.request.url
        guard.requests.append(f"{route.request.method} {url}")
        if is_local_url(url):
            route.continue_()
        else:
            guard.external.append(url)
            route.abort("blockedbyclient")

    def websocket(ws: WebSocket) -> None:
        # WebSockets bypass context.route(); record outside ones so the test still fails.
        guard.requests.append(f"WEBSOCKET {ws.url}")
        if not is_local_url(ws.url):
            guard.external.append(ws.url)

    context.route("**/*", route)
    context.on("page", lambda new_page: new_page.on("websocket", websocket))
    page = context.new_page()
    yield page
    with contextlib.suppress(PlaywrightError):  # the browser died: the test failed already
        context.close()
    late = guard.unreported()
    if late:
        guard.mark_reported()
        pytest.fail(_external_message(late, "after the test body finished"), pytrace=False)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh desktop context (1280x800), guarded against external requests."""
    yield from _guarded_page(browser, request, **DESKTOP)


@pytest.fixture
def phone_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh phone context (320x640, mobile, touch), guarded like `page`."""
    yield from _guarded_page(browser, request, **PHONE)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fails a test (in its call phase) whose pages requested anything outside the app."""
    try:
        result = yield
    except BaseException:
        # The test failed on its own; still say what left the app, it may be why.
        for guard in item.stash.get(_GUARDS_OF_ITEM, []):
            if guard.unreported():
                item.add_report_section("call", "external requests", "\n".join(guard.unreported()))
                guard.mark_reported()
        raise
    for guard in item.stash.get(_GUARDS_OF_ITEM, []):
        external = guard.unreported()
        if external:
            guard.mark_reported()
            pytest.fail(_external_message(external, "during the test"), pytrace=False)
    return result


def _external_message(urls: list[str], when: str) -> str:
    listed = "\n".join(f"  {url}" for url in urls)
    return (
        f"{len(urls)} request(s) to hosts other than 127.0.0.1/localhost {when} "
        f"(requests aborted, WebSockets recorded; pages must load nothing from outside the app):"
        f"\n{listed}"
    )


def _guard(page: Page) -> NetworkGuard:
    try:
        return _guards[page.context]
    except KeyError:
        raise AssertionError(
            "this page does not come from the `page`/`phone_page` fixtures"
        ) from None


def requests_seen(page: Page) -> list[str]:
    """Every request the page's context has made so far, as "METHOD url"."""
    return list(_guard(page).requests)


def take_external_requests(page: Page) -> list[str]:
    """The external requests recorded (and aborted) so far, which then no longer fail the test."""
    guard = _guard(page)
    taken = guard.unreported()
    guard.mark_reported()
    return taken


def assert_no_external_requests(page: Page) -> None:
    external = _guard(page).unreported()
    assert not external, _external_message(external, "so far")


# --------------------------------------------------------------------------- axe-core


@cache
def _axe_source_or_none() -> str | None:
    return AXE_SCRIPT.read_text(encoding="utf-8") if AXE_SCRIPT.is_file() else None


def _inject_axe(page: Page) -> None:
    source = _axe_source_or_none()
    if source is None:
        _skip_or_fail(
            f"axe-core is not installed ({AXE_SCRIPT.relative_to(PROJECT_ROOT)} is missing): "
            f"run `npm ci` in {PROJECT_ROOT}"
        )
        return
    if page.evaluate("typeof window.axe === 'object'"):
        return
    try:
        page.add_script_tag(content=source)
    except PlaywrightError as error:
        if "Content Security Policy" not in str(error):
            raise
        # A page whose CSP forbids inline scripts: evaluate through the DevTools protocol,
        # which CSP does not govern, so the page keeps its real policy under test.
        page.evaluate(source)


def axe_violations(page: Page, *, tags: tuple[str, ...] = WCAG_TAGS) -> list[dict[str, Any]]:
    """axe-core's violations for the page as it is now (axe's own result objects)."""
    _inject_axe(page)
    result = page.evaluate(
        """(tags) => axe.run(document, {
            runOnly: {type: 'tag', values: tags},
            resultTypes: ['violations'],
        })""",
        list(tags),
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def assert_no_axe_violations(page: Page, *, tags: tuple[str, ...] = WCAG_TAGS) -> None:
    """Fails listing each violation: rule id, impact, help text, and every offending node's
    selector and HTML."""
    violations = axe_violations(page, tags=tags)
    if not violations:
        return
    lines = [f"{len(violations)} axe-core violation(s) ({', '.join(tags)}) on {page.url}:"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} [{violation.get('impact') or 'no impact'}] {violation['help']}"
            f" ({violation.get('helpUrl', '')})"
        )
        for node in violation.get("nodes", []):
            target = " ".join(_selector(part) for part in node.get("target", []))
            html = " ".join(str(node.get("html", "")).split())
            lines.append(f"    {target}    {html[:160]}")
    pytest.fail("\n".join(lines), pytrace=False)


def _selector(part: Any) -> str:
    # A target is a list of selectors; one inside a shadow root or frame is itself a list.
    return " >>> ".join(part) if isinstance(part, list) else str(part)


# --------------------------------------------------------------------------- layout, pictures


def assert_no_horizontal_scroll(page: Page) -> None:
    """The page fits its viewport's width: documentElement.scrollWidth <= window.innerWidth.

    In a mobile context (`phone_page`) the layout viewport itself grows to fit content that is
    too wide, or is 980px when the page has no <meta name="viewport">, so there innerWidth must
    also equal the emulated width; otherwise the phone shrinks the whole page to fit."""
    viewport = page.viewport_size
    sizes = page.evaluate(
        """(limit) => {
            const width = Math.min(window.innerWidth, limit ?? Infinity);
            const wide = [...document.querySelectorAll('body *')]
                .filter((el) => el.getBoundingClientRect().right > width + 0.5)
                .slice(0, 5)
                .map((el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                    + (el.className && typeof el.className === 'string'
                        ? '.' + el.className.trim().split(/\\s+/).join('.') : ''));
            return {
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: window.innerWidth,
                width,
                wide,
                viewportMeta: document.querySelector('meta[name="viewport"]') !== null,
            };
        }""",
        viewport["width"] if viewport else None,
    )
    if sizes["scrollWidth"] <= sizes["width"] and sizes["innerWidth"] <= sizes["width"]:
        return
    problems = [
        f"{page.url} is wider than its {sizes['width']}px viewport: "
        f"scrollWidth {sizes['scrollWidth']}px, innerWidth {sizes['innerWidth']}px"
    ]
    if not sizes["viewportMeta"]:
        problems.append(
            'it has no <meta name="viewport" content="width=device-width, initial-scale=1">'
        )
    if sizes["wide"]:
        problems.append(f"elements past the right edge: {', '.join(sizes['wide'])}")
    pytest.fail("; ".join(problems), pytrace=False)


_tmp_path_factory: pytest.TempPathFactory | None = None
_screenshot_dir: Path | None = None


@pytest.fixture(scope="session", autouse=True)
def _remember_tmp_path_factory(tmp_path_factory: pytest.TempPathFactory) -> None:
    global _tmp_path_factory
    _tmp_path_factory = tmp_path_factory


def _screenshots() -> Path:
    global _screenshot_dir
    if os.environ.get("SCREENSHOTS") == "1":
        directory = PROJECT_ROOT / "var" / "screenshots"
        directory.mkdir(parents=True, exist_ok=True)
        return directory
    if _screenshot_dir is None:
        if _tmp_path_factory is not None:
            _screenshot_dir = _tmp_path_factory.mktemp("screenshots", numbered=False)
        else:
            _screenshot_dir = Path(tempfile.mkdtemp(prefix="screenshots-"))
    return _screenshot_dir


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Saves a PNG of the page and returns its path: under pytest's temporary directory, or
    var/screenshots/ when SCREENSHOTS=1 (same name, same file: the last one wins)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.removesuffix(".png")).strip("-.") or "page"
    path = _screenshots() / f"{stem}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path
