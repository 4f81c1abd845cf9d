"""The printable report as an A4 PDF, printed by headless Chromium (Debian's, through Playwright).

The report's HTML is rendered in-process, straight from the database, and handed to Chromium
through request interception: no server, no account, nothing fetched from the network. The page's
own print stylesheet lays it out, so the PDF is what a browser prints from the web page.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path

from playwright.sync_api import Route, sync_playwright

from app.config import Settings
from app.db import make_engine, make_session_factory, transaction
from app.main import STATIC_DIR
from app.reports.printable import render_wave_report, wave_report

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ORIGIN = "http://report.invalid"
"""Where the page seems to come from: every request to it is answered here, and only those."""
FOOTER = (
    '<div style="width:100%;margin:0 12mm;font:8px Arial,sans-serif;color:#505a5f;'
    'display:flex;justify-content:space-between">'
    "<span>{title}</span>"
    '<span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span>'
    "</div>"
)


class ChromiumMissing(Exception):
    """There is no Chromium to print with."""


def write_report_pdf(
    settings: Settings,
    *,
    survey_key: str,
    wave_key: str,
    out: Path,
    today: dt.date,
    chromium: Path = CHROMIUM,
) -> None:
    """Print wave `wave_key`'s report to `out`. Raises `ChromiumMissing`, and whatever the
    report raises (`NotFound`, `ResultsNotReleased`), before writing anything."""
    if not chromium.exists():
        raise ChromiumMissing(
            f"printing to PDF needs Chromium at {chromium}: install it (apt-get install chromium)"
        )
    engine = make_engine(settings)
    try:
        with transaction(make_session_factory(engine)) as session:
            report = wave_report(
                session=session, survey_key=survey_key, wave_key=wave_key, today=today
            )
    finally:
        engine.dispose()
    out.write_bytes(
        print_html(
            render_wave_report(report),
            footer=f"{report.organisation}: {report.title}",
            chromium=chromium,
        )
    )


def print_html(html: str, *, footer: str, chromium: Path = CHROMIUM) -> bytes:
    """`html` as an A4 PDF with numbered pages; its `/static/...` files come from the app."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.route("**/*", lambda route: _answer(route, html))
            page.goto(f"{ORIGIN}/report", wait_until="load")
            return page.pdf(
                format="A4",
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER.format(title=escape(footer)),
                margin={"top": "15mm", "right": "12mm", "bottom": "18mm", "left": "12mm"},
            )
        finally:
            browser.close()


def _answer(route: Route, html: str) -> None:
    """The report for the page itself, the app's static files for its links, nothing else."""
    url = route.request.url
    if url == f"{ORIGIN}/report":
        route.fulfill(body=html, content_type="text/html; charset=utf-8")
        return
    if url.startswith(f"{ORIGIN}/static/"):
        wanted = (STATIC_DIR / url.removeprefix(f"{ORIGIN}/static/").split("?")[0]).resolve()
        if wanted.is_file() and wanted.is_relative_to(STATIC_DIR):
            route.fulfill(path=wanted)
            return
    route.abort()
