"""Fieldwork in Chromium: people answer from the links their invitations mailed them, on one
shared office computer; Change on the check page comes back to it; Back after sending shows
nobody's answers; reminders then go to the others only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.surveys.definitions import SurveyDefinition
from tests.browser.conftest import assert_no_axe_violations, screenshot
from tests.support.factories import SURVEY, create_wave_for_test
from tests.support.smtp import Mailbox, smtp_server

TEAMS = ["referral_assessment"] * 6 + ["cf_first"] * 4 + ["mash_cse"] * 2
STAFF = [f"worker{number}@coventry.example" for number in range(1, len(TEAMS) + 1)]
FIRST_OPTION_OF_EACH = """() => {
  for (const input of document.querySelectorAll('input[type=radio]')) {
    if (!document.querySelector(`input[name="${input.name}"]:checked`)) input.checked = true;
  }
}"""
"""Answer every question still unanswered on the page with its first option."""


def _invitations(settings: Settings, mailbox: Mailbox, server: str, *args: str) -> Any:
    environment = {
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "SMTP_URL": mailbox.url,
        "BASE_URL": server,
    }
    ran = CliRunner().invoke(
        cli, ["invitations", *args, "--survey", SURVEY, "--wave", "2016"], env=environment
    )
    assert ran.exit_code == 0, ran.output
    return ran


def _answer_to_the_check_page(page: Page) -> None:
    for _ in range(40):
        if page.url.endswith("/check"):
            return
        page.evaluate(FIRST_OPTION_OF_EACH)
        page.get_by_role("button", name="Continue").click()
        page.wait_for_load_state()
    raise AssertionError(f"never reached the check page from {page.url}")


def test_three_answer_from_their_links_and_the_other_nine_are_reminded(
    page: Page,
    live_server: str,
    settings: Settings,
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
    tmp_path: Path,
) -> None:
    create_wave_for_test(session_factory, wave="2016", opens_in_days=-1, closes_in_days=10)
    staff = tmp_path / "staff.csv"
    staff.write_text(
        "email,team\n" + "".join(f"{e},{t}\n" for e, t in zip(STAFF, TEAMS, strict=True))
    )
    with smtp_server() as mailbox:
        _invitations(settings, mailbox, live_server, "import", "--file", str(staff))
        _invitations(settings, mailbox, live_server, "send")
        assert len(mailbox.messages) == 12
        links = dict(zip(mailbox.to(), mailbox.links(), strict=True))
        assert len(set(links.values())) == 12
        base = f"{live_server}/s/{SURVEY}/2016"

        for number, email in enumerate(STAFF[:3]):
            page.context.clear_cookies()
            page.goto(links[email])
            code = links[email].rpartition("#code=")[2]
            assert page.get_by_label("Your access code").input_value() == code
            assert page.url == base, "the code is taken off the address once it is filled in"
            if number == 0:
                assert_no_axe_violations(page)
                screenshot(page, "invited-start")
            page.get_by_role("button", name="Start now").click()
            page.wait_for_url(f"{base}/you")
            _answer_to_the_check_page(page)
            if number == 0:
                page.get_by_role("link", name="Change your answer to question 3").click()
                assert "from=check" in page.url
                page.get_by_role("link", name="Back").is_visible()
                page.get_by_role("button", name="Continue").click()
                page.wait_for_url(f"{base}/check")
            page.get_by_role("button", name="Send my answers").click()
            page.wait_for_url(f"{base}/done")
            page.go_back()
            page.wait_for_load_state()
            shown = page.content()
            assert "Check your answers" not in shown and "Send my answers" not in shown, page.url

        reminded = _invitations(settings, mailbox, live_server, "remind")
        assert "9 of 9 reminders delivered" in reminded.output
        assert sorted(mailbox.to()[12:]) == sorted(STAFF[3:])
