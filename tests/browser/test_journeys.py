"""Five respondents complete the questionnaire in Chromium by keyboard alone, with axe-core
checking every page they see, errors included; then their responses are read back."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import transaction
from app.models import Answer, Option, Question, Response, RoleGrouping, Team
from app.surveys.definitions import SurveyDefinition
from tests.browser.conftest import (
    assert_no_axe_violations,
    assert_no_horizontal_scroll,
    screenshot,
)
from tests.support.factories import create_wave_for_test

SURVEY = "coventry-supervision"
MAX_KEYS_PER_PAGE = 600


def _focused(page: Page) -> dict[str, Any]:
    return page.evaluate(
        """() => { const e = document.activeElement;
                   return {tag: e.tagName, type: e.type || '', name: e.name || '',
                           value: e.value || '', checked: !!e.checked, id: e.id || ''}; }"""
    )


def _group_values(page: Page, name: str) -> list[str]:
    return page.evaluate("name => [...document.getElementsByName(name)].map(e => e.value)", name)


def _checks(page: Page, *, phone: bool) -> None:
    assert_no_axe_violations(page)
    if phone:
        assert_no_horizontal_scroll(page)


def answer_by_keyboard(page: Page, chosen: dict[str, str], *, button: str = "continue") -> None:
    """Tab through the page as a keyboard user would: arrow keys pick each radio answer (the
    first option unless `chosen` says otherwise), Enter on the button sends the page."""
    done: set[str] = set()
    for _ in range(MAX_KEYS_PER_PAGE):
        page.keyboard.press("Tab")
        focused = _focused(page)
        if focused["tag"] == "INPUT" and focused["type"] == "radio":
            name = focused["name"]
            if name in done:
                continue
            done.add(name)
            values = _group_values(page, name)
            target = values.index(chosen.get(name, values[0]))
            steps = (target - values.index(focused["value"])) % len(values)
            if steps == 0 and not focused["checked"]:
                page.keyboard.press("Space")
            for _ in range(steps):
                page.keyboard.press("ArrowDown")
        elif focused["tag"] == "BUTTON" and focused["value"] in (button, ""):
            with page.expect_navigation():
                page.keyboard.press("Enter")
            return
    pytest.fail(f"never reached the {button!r} button on {page.url}")


def journey(
    page: Page,
    server: str,
    wave: str,
    team: str,
    role: str,
    chosen: dict[str, str],
    *,
    phone: bool = False,
    shots: str | None = None,
) -> list[str]:
    """Start to confirmation; returns the addresses of the section pages seen."""
    base = f"{server}/s/{SURVEY}/{wave}"
    page.goto(base)
    _checks(page, phone=phone)
    if shots:
        screenshot(page, f"{shots}-start")
    answer_by_keyboard(page, {}, button="")
    assert page.url == f"{base}/you"
    _checks(page, phone=phone)
    answer_by_keyboard(page, {"team": team, "role": role})
    seen = []
    while not page.url.endswith("/check"):
        seen.append(page.url)
        _checks(page, phone=phone)
        if shots and len(seen) <= 3:
            screenshot(page, f"{shots}-section-{len(seen)}")
        answer_by_keyboard(page, chosen)
        assert len(seen) < 40, "the journey does not end"
    _checks(page, phone=phone)
    if shots:
        screenshot(page, f"{shots}-check")
    answer_by_keyboard(page, {}, button="")
    assert page.url == f"{base}/done"
    _checks(page, phone=phone)
    if shots:
        screenshot(page, f"{shots}-done")
    return seen


def _stored(factory: sessionmaker[Session]) -> list[tuple[str, str, dict[str, str]]]:
    with transaction(factory) as session:
        found = []
        for response in session.scalars(select(Response)):
            answers = dict(
                session.execute(
                    select(Question.key, Option.code)
                    .join(Answer, Answer.question_id == Question.id)
                    .join(Option, Option.id == Answer.option_id)
                    .where(Answer.response_id == response.id)
                ).all()
            )
            found.append(
                (
                    session.get_one(Team, response.team_id).key,
                    session.get_one(RoleGrouping, response.role_grouping_id).key,
                    answers,
                )
            )
        return found


@pytest.fixture
def waves(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> sessionmaker[Session]:
    create_wave_for_test(session_factory, wave="2015", opens_in_days=-1, closes_in_days=20)
    create_wave_for_test(
        session_factory, wave="2014", version="2014", opens_in_days=-1, closes_in_days=20
    )
    return session_factory


def test_a_social_worker_on_a_phone(
    phone_page: Page, live_server: str, waves: sessionmaker[Session]
) -> None:
    seen = journey(
        phone_page, live_server, "2015", "cf_first", "social_worker",
        {"gives_supervision": "no", "in_post_under_12_months": "no"},
        phone=True, shots="phone",
    )  # fmt: skip
    assert not any("for_supervisors" in url or "manager_supervision" in url for url in seen)
    ((team, role, answers),) = _stored(waves)
    assert (team, role) == ("cf_first", "social_worker")
    assert answers["gives_supervision"] == "no"
    assert "sup_staff_prepared" not in answers and "agreement_signed" not in answers


def test_a_team_manager_gets_18_and_20(
    page: Page, live_server: str, waves: sessionmaker[Session]
) -> None:
    seen = journey(
        page, live_server, "2015", "referral_assessment", "team_manager",
        {"gives_supervision": "yes", "team_manager_level": "yes", "in_post_under_12_months": "no"},
        shots="desktop",
    )  # fmt: skip
    assert any(url.endswith("/section/for_supervisors") for url in seen)
    assert any(url.endswith("/section/manager_supervision") for url in seen)
    ((team, role, answers),) = _stored(waves)
    assert (team, role) == ("referral_assessment", "team_manager")
    assert {"sup_staff_prepared", "sup_outcomes", "sup_training", "mgmt_notes"} <= set(answers)


def test_a_newly_qualified_worker_in_2014_gets_the_nqsw_question(
    page: Page, live_server: str, waves: sessionmaker[Session]
) -> None:
    journey(
        page, live_server, "2014", "social_care_neighbourhoods", "social_worker",
        {"gives_supervision": "no", "in_post_under_12_months": "no", "newly_qualified_asye": "yes"},
    )  # fmt: skip
    ((_, _, answers),) = _stored(waves)
    assert "nqsw_caseload" in answers


def test_someone_new_in_post_gets_4b(
    page: Page, live_server: str, waves: sessionmaker[Session]
) -> None:
    journey(
        page, live_server, "2015", "route_21", "personal_adviser_route_21",
        {"gives_supervision": "no", "in_post_under_12_months": "yes", "agreement": "yes"},
    )  # fmt: skip
    ((_, _, answers),) = _stored(waves)
    assert answers["agreement"] == "yes"
    assert "agreement_signed" in answers


def test_cancelled_sessions_bring_up_6c_and_a_missed_answer_gets_an_error(
    page: Page, live_server: str, waves: sessionmaker[Session]
) -> None:
    base = f"{live_server}/s/{SURVEY}/2015"
    page.goto(base)
    answer_by_keyboard(page, {}, button="")
    answer_by_keyboard(page, {"team": "cf_first", "role": "social_worker"})
    # The about-you page sent with nothing chosen: an error summary, linked to the question.
    page.focus("#main-content")
    with page.expect_navigation():
        page.locator("button[value=continue]").press("Enter")
    assert page.locator(".error-summary").is_visible()
    assert_no_axe_violations(page)
    screenshot(page, "error-summary")
    page.locator(".error-summary a").first.press("Enter")
    assert _focused(page)["id"] == "q-gives_supervision"
    page.keyboard.press("ArrowDown")  # the link put focus on the question: choose "No"
    journey_rest = {
        "gives_supervision": "no", "in_post_under_12_months": "no",
        "cancelled_by_you": "often", "cancelled_by_supervisor": "never",
    }  # fmt: skip
    answer_by_keyboard(page, journey_rest)
    answer_by_keyboard(page, journey_rest)  # key basics: 6c is not there yet
    assert page.locator("#q-cancelled_made_up").count() == 1  # ...and now it is
    assert_no_axe_violations(page)
    while not page.url.endswith("/check"):
        answer_by_keyboard(page, journey_rest)
    answer_by_keyboard(page, {}, button="")
    ((_, _, answers),) = _stored(waves)
    assert answers["cancelled_by_you"] == "often"
    assert "cancelled_made_up" in answers


def test_save_and_come_back_later_in_the_browser(
    page: Page, live_server: str, waves: sessionmaker[Session], settings: Settings
) -> None:
    base = f"{live_server}/s/{SURVEY}/2015"
    page.goto(base)
    answer_by_keyboard(page, {}, button="")
    answer_by_keyboard(page, {"team": "cf_first", "role": "social_worker"})
    answer_by_keyboard(page, {"gives_supervision": "no"}, button="save")
    key = page.locator("#resume-key").inner_text()
    assert_no_axe_violations(page)
    page.context.clear_cookies()
    page.goto(f"{base}/resume")
    page.fill("#key", "WRONG")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator(".error-summary").is_visible()
    assert_no_axe_violations(page)
    page.fill("#key", key)
    with page.expect_navigation():
        page.keyboard.press("Enter")
    # Back where they left off: the first page with a question still to answer.
    assert page.url.endswith("/section/key_basics")
    page.goto(f"{base}/section/about_you")
    assert page.locator("#q-gives_supervision-no").is_checked()
