"""The survey owner signs in and walks the admin pages in Chromium, errors included, with
axe-core checking every page they see."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from playwright.sync_api import Page
from sqlalchemy.orm import Session, sessionmaker

from app.config import PROJECT_ROOT
from tests.browser.conftest import assert_no_axe_violations, screenshot
from tests.support.factories import SURVEY, create_wave_for_test
from tests.support.staff import PASSWORD, create_user_for_test

ADMIN = "admin@example.org"
COVENTRY = PROJECT_ROOT / "survey_definitions" / SURVEY


def _checked(page: Page, name: str) -> None:
    assert_no_axe_violations(page)
    screenshot(page, f"admin-{name}")


def _go(page: Page, link: str) -> None:
    """Follow a link of the admin pages' own navigation."""
    with page.expect_navigation():
        page.get_by_role("navigation", name="Admin pages").get_by_role("link", name=link).click()


def _submit(page: Page, button: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=button).click()


def test_the_survey_owner_walks_the_admin_pages(
    page: Page,
    live_server: str,
    session_factory: sessionmaker[Session],
    coventry: dict[str, Any],
    tmp_path: Path,
) -> None:
    create_user_for_test(session_factory, ADMIN, ("admin",))
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=10)
    page.goto(f"{live_server}/admin")
    assert page.url.startswith(f"{live_server}/sign-in?next=/admin")
    page.get_by_label("Email address").fill(ADMIN)
    page.get_by_label("Password").fill(PASSWORD)
    _submit(page, "Sign in")
    assert page.url == f"{live_server}/admin"
    assert page.get_by_role("table", name="Waves of Coventry Children & Families").is_visible()
    _checked(page, "overview")

    _go(page, "Upload a definition")
    broken = tmp_path / "2016.yaml"
    broken.write_text(
        (COVENTRY / "2015.yaml").read_text().replace('version: "2015"', 'version: "2016"')
        + "\nunexpected: true\n"
    )
    page.get_by_label("Definition file (YAML)").set_input_files(broken)
    _submit(page, "Check the file")
    assert page.get_by_role("heading", name="There is a problem").is_visible()
    assert page.get_by_role("table", name="The validator's messages for 2016.yaml").is_visible()
    _checked(page, "definition-problems")
    broken.write_text(broken.read_text().replace("\nunexpected: true\n", "\n"))
    page.get_by_label("Definition file (YAML)").set_input_files(broken)
    _submit(page, "Check the file")
    assert page.get_by_role("heading", name="2016.yaml is valid").is_visible()
    _checked(page, "definition-valid")
    _submit(page, "Publish version 2016")
    assert page.get_by_role("alert").filter(has_text="published as a new version").is_visible()

    _go(page, "Create a wave")
    page.get_by_label("Wave key").fill("2016 wave")
    _submit(page, "Create the wave")
    assert page.get_by_role("link", name="Enter the date the wave opens").is_visible()
    _checked(page, "wave-new-errors")
    page.get_by_label("Wave key").fill("2016")
    page.get_by_label("Opens on").fill(dt.date.today().isoformat())
    page.get_by_label("Closes on").fill((dt.date.today() + dt.timedelta(days=30)).isoformat())
    page.get_by_label("Respondents need a single-use access code").check()
    _submit(page, "Create the wave")
    assert page.get_by_role("heading", name="Wave 2016").is_visible()
    _checked(page, "wave")

    page.get_by_role("link", name="issue codes").click()
    page.get_by_label("How many codes").fill("3")
    _submit(page, "Issue the codes")
    shown = page.get_by_role("list", name="The codes").get_by_role("listitem").all_inner_texts()
    assert len(shown) == 3
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the codes (CSV)").click()
    assert download.value.suggested_filename == f"{SURVEY}-2016-codes.csv"
    assert Path(download.value.path()).read_text().split() == ["code", *shown]
    _checked(page, "codes-issued")

    page.goto(f"{live_server}/admin/surveys/{SURVEY}/waves/2015/headcounts")
    csv_file = tmp_path / "headcounts.csv"
    csv_file.write_text("team,headcount\ncf_first,99\nno_such_team,3\n")
    page.get_by_label("CSV file").set_input_files(csv_file)
    _submit(page, "Preview")
    assert page.get_by_role("link", name="Row 3: no team 'no_such_team'", exact=False).is_visible()
    _checked(page, "headcount-errors")

    _go(page, "Accounts")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email address").fill("scrutiny@example.org")
    page.get_by_label("Scrutiny").check()
    _submit(page, "Create the account")
    assert page.get_by_role("heading", name="Account created").is_visible()
    _checked(page, "account-created")
    page.get_by_role("link", name="scrutiny@example.org's account").click()
    _checked(page, "account")

    _go(page, "Audit log")
    assert page.get_by_role("table", name="Recent admin actions").get_by_role("row").count() == 5
    _checked(page, "audit")
