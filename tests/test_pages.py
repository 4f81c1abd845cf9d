"""The respondent's pages over HTTP: routing without JavaScript, errors, save and resume, and
submitting once. (Real-browser journeys with accessibility checks are in tests/browser.)"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models import Answer, Draft, Question, Response, RoleGrouping, Team, Wave, WaveStatus
from app.surveys.definitions import SurveyDefinition
from app.surveys.pages import SENT
from tests.support.factories import create_wave_for_test
from tests.support.journey import (
    answer_page,
    complete_journey,
    forms,
    resume,
    start,
    summary_errors,
)

BASE = "/s/coventry-supervision/2015"
MANAGER = {"gives_supervision": "yes", "team_manager_level": "yes", "in_post_under_12_months": "no"}
WORKER = {"gives_supervision": "no", "in_post_under_12_months": "no"}


@pytest.fixture
def wave(
    session_factory: sessionmaker[Session], coventry: dict[str, SurveyDefinition]
) -> sessionmaker[Session]:
    create_wave_for_test(session_factory, opens_in_days=-1, closes_in_days=20)
    return session_factory


def _stored(factory: sessionmaker[Session]) -> list[tuple[str, str, dict[str, list[str]]]]:
    with transaction(factory) as session:
        rows = []
        for response in session.scalars(select(Response)):
            team = session.get_one(Team, response.team_id).key
            role = session.get_one(RoleGrouping, response.role_grouping_id).key
            answers: dict[str, list[str]] = {}
            for key, option_id in session.execute(
                select(Question.key, Answer.option_id)
                .join(Answer, Answer.question_id == Question.id)
                .where(Answer.response_id == response.id)
            ):
                answers.setdefault(key, []).append(option_id)
            rows.append((team, role, answers))
        return rows


def _submit(client: TestClient) -> int:
    check = client.get(f"{BASE}/check")
    (form,) = forms(check.text)
    return client.post(
        f"{BASE}/submit", data={"csrf": form.hidden["csrf"][0]}, follow_redirects=False
    ).status_code


def test_a_team_manager_answers_18_and_20_and_is_stored_once(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    visited = complete_journey(client, BASE, "referral_assessment", "team_manager", MANAGER)
    assert f"{BASE}/section/for_supervisors" in visited
    assert f"{BASE}/section/manager_supervision" in visited
    check = client.get(f"{BASE}/check")
    (form,) = forms(check.text)
    key = client.cookies["draft"]
    first = client.post(
        f"{BASE}/submit", data={"csrf": form.hidden["csrf"][0]}, follow_redirects=False
    )
    # A double click: the browser sends the same form again before it reads the first reply.
    client.cookies.set("draft", key, path=BASE)
    second = client.post(
        f"{BASE}/submit", data={"csrf": form.hidden["csrf"][0]}, follow_redirects=False
    )
    assert (first.status_code, second.status_code) == (303, 303)
    assert first.headers["location"] == second.headers["location"] == f"{BASE}/done"
    ((team, role, answers),) = _stored(wave)
    assert (team, role) == ("referral_assessment", "team_manager")
    assert "sup_staff_prepared" in answers and "mgmt_notes" in answers
    with transaction(wave) as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 0
    # A "Send" retried after the first reply arrived (e.g. after a 503): the browser now holds
    # the cookie the first reply set, and still lands on the confirmation.
    assert first.headers["set-cookie"].startswith(f"draft={SENT};")
    retried = client.post(
        f"{BASE}/submit", data={"csrf": form.hidden["csrf"][0]}, follow_redirects=False
    )
    assert retried.status_code == 303 and retried.headers["location"] == f"{BASE}/done"
    assert len(_stored(wave)) == 1
    done = client.get(f"{BASE}/done")
    assert "Your answers have been sent" in done.text
    assert not re.search(r"reference (number|code)\s*[:#]", done.text, re.I)


def test_a_social_worker_never_sees_18_or_20(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    visited = complete_journey(client, BASE, "cf_first", "social_worker", WORKER)
    assert not any("for_supervisors" in url or "manager_supervision" in url for url in visited)
    assert _submit(client) == 303
    ((_, _, answers),) = _stored(wave)
    assert not {"sup_staff_prepared", "mgmt_notes"} & set(answers)


def test_4b_appears_after_4a_is_answered_yes_by_someone_new_in_post(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    start(client, BASE)
    answer_page(client, f"{BASE}/you", {"team": "cf_first", "role": "social_worker"})
    answer_page(
        client,
        f"{BASE}/section/about_you",
        {"gives_supervision": "no", "in_post_under_12_months": "yes"},
    )
    page = client.get(f"{BASE}/section/key_basics")
    assert 'name="agreement_signed"' not in page.text
    status, _ = answer_page(client, f"{BASE}/section/key_basics", {"agreement": "yes"})
    assert status == 200  # the same page again, now with 4b
    again = client.get(f"{BASE}/section/key_basics")
    assert 'name="agreement_signed"' in again.text


def test_a_missing_answer_gets_an_error_summary_and_keeps_the_other_answers(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    start(client, BASE)
    answer_page(client, f"{BASE}/you", {"team": "cf_first", "role": "social_worker"})
    page = client.get(f"{BASE}/section/about_you")
    (form,) = forms(page.text)
    reply = client.post(
        form.action,
        data={
            "csrf": form.hidden["csrf"][0],
            "shown": form.hidden["shown"],
            "gives_supervision": "no",
        },
    )
    assert reply.status_code == 422
    assert reply.text.count("There is a problem") == 1
    assert '<a href="#q-in_post_under_12_months">Select an answer to question A2</a>' in reply.text
    assert reply.text.startswith("<!DOCTYPE html>")
    assert "<title>Error: About you" in reply.text
    (kept,) = forms(reply.text)
    assert kept.checked == {"gives_supervision": ["no"]}


def test_a_value_that_is_not_an_option_is_an_error_not_a_crash(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    start(client, BASE)
    answer_page(client, f"{BASE}/you", {"team": "cf_first", "role": "social_worker"})
    page = client.get(f"{BASE}/section/about_you")
    (form,) = forms(page.text)
    reply = client.post(
        form.action,
        data={
            **{k: v for k, v in form.hidden.items()},
            "gives_supervision": "maybe",
            "in_post_under_12_months": "no",
        },
    )
    assert reply.status_code == 422
    assert "Select one of the answers shown for question A1" in reply.text


def test_changing_an_answer_discards_the_questions_it_no_longer_calls_for(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    complete_journey(client, BASE, "cf_first", "team_manager", MANAGER)
    answer_page(
        client,
        f"{BASE}/section/about_you",
        {"gives_supervision": "no", "in_post_under_12_months": "no"},
    )
    check = client.get(f"{BASE}/check")
    assert "Some answers were removed" in check.text
    assert "Question 18a" in check.text
    assert _submit(client) == 303
    ((_, _, answers),) = _stored(wave)
    assert "sup_staff_prepared" not in answers


def test_save_and_come_back_later_with_the_key(
    wave: sessionmaker[Session], client: TestClient, settings
) -> None:  # type: ignore[no-untyped-def]
    start(client, BASE)
    answer_page(client, f"{BASE}/you", {"team": "cf_first", "role": "social_worker"})
    answer_page(client, f"{BASE}/section/about_you", WORKER)
    page = client.get(f"{BASE}/section/key_basics")
    (form,) = forms(page.text)
    saved = client.post(form.action, data={"csrf": form.hidden["csrf"][0], "action": "save"})
    assert saved.status_code == 200
    key = re.search(r'id="resume-key">([A-Z-]+)<', saved.text).group(1)  # type: ignore[union-attr]
    assert re.fullmatch(r"[A-Z]{5}(-[A-Z]{5}){3}", key)
    with transaction(wave) as session:
        (draft,) = session.scalars(select(Draft)).all()
        assert key not in str(draft.key_hash) and draft.team == "cf_first"

    from app.main import create_app

    with TestClient(create_app(settings)) as other_device:
        wrong = resume(other_device, BASE, "ABCDE-FGHJK-MNPQR-STUVW")
        assert wrong.status_code == 422
        assert "No saved answers match that key" in wrong.text
        malformed = resume(other_device, BASE, "123")
        assert "4 groups of 5 letters" in malformed.text
        resumed = resume(other_device, BASE, key.lower().replace("-", " "))
        assert resumed.status_code == 303
        assert resumed.headers["location"] == f"{BASE}/section/key_basics"
        page = other_device.get(resumed.headers["location"])
        assert 'name="dates_booked"' in page.text


def test_guessing_resume_keys_is_limited(wave: sessionmaker[Session], client: TestClient) -> None:
    replies = [resume(client, BASE, "ABCDE-FGHJK-MNPQR-STUVW").status_code for _ in range(12)]
    assert replies[:10] == [422] * 10
    assert replies[10:] == [429, 429]


def test_a_form_without_its_token_changes_nothing(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    start(client, BASE)
    reply = client.post(
        f"{BASE}/you", data={"csrf": "forged", "team": "cf_first", "role": "social_worker"}
    )
    assert reply.status_code == 400
    with transaction(wave) as session:
        assert session.scalars(select(Draft.team)).one() is None


@pytest.mark.parametrize("token", [None, "forged"])
@pytest.mark.parametrize("form", ["start", "resume"])
def test_the_start_and_resume_forms_need_their_token(
    wave: sessionmaker[Session], client: TestClient, form: str, token: str | None
) -> None:
    client.get(BASE)  # the browser has a nonce: a token for it is still required
    data = {"key": "ABCDE-FGHJK-MNPQR-STUVW"} | ({} if token is None else {"csrf": token})
    reply = client.post(f"{BASE}/{form}", data=data, follow_redirects=False)
    assert reply.status_code == 400
    assert summary_errors(reply.text) == [
        "The page had expired or the form did not come from this site. Try again"
    ]
    assert "draft" not in client.cookies
    with transaction(wave) as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 0
    (again,) = [f for f in forms(reply.text) if f.action.endswith(f"/{form}")]
    assert again.hidden["csrf"][0], "the page shown again carries a fresh token"


def test_a_closed_wave_says_so(
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
    client: TestClient,
) -> None:
    create_wave_for_test(
        session_factory, opens_in_days=-40, closes_in_days=-10, status=WaveStatus.closed
    )
    page = client.get(BASE)
    assert "This survey is closed" in page.text
    assert "Start now" not in page.text
    assert client.post(f"{BASE}/start").status_code == 409


def test_pages_without_a_draft_go_back_to_the_start(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    reply = client.get(f"{BASE}/section/key_basics", follow_redirects=False)
    assert reply.status_code == 303
    assert reply.headers["location"] == f"{BASE}?expired=1"
    assert "could not find your answers" in client.get(reply.headers["location"]).text


def test_an_oversized_form_is_refused_with_a_page(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    start(client, BASE)
    reply = client.post(
        f"{BASE}/you", data={"team": "x" * 300_000}, headers={"accept": "text/html"}
    )
    assert reply.status_code == 413
    assert "<h1" in reply.text and "too large" in reply.text


def test_closing_a_wave_deletes_its_drafts(wave: sessionmaker[Session], client: TestClient) -> None:
    from app.surveys.service import set_wave_status

    start(client, BASE)
    answer_page(client, f"{BASE}/you", {"team": "cf_first", "role": "social_worker"})
    with transaction(wave) as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 1
        set_wave_status(
            session=session,
            survey_key="coventry-supervision",
            wave_key="2015",
            status=WaveStatus.closed,
        )
    with transaction(wave) as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 0
    assert "This survey is closed" in client.get(f"{BASE}/section/key_basics").text


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"garbage"),
        ("multipart/form-data; boundary=xx", b"--xx\r\nnot a header\r\n\r\n"),
        ("application/x-www-form-urlencoded", "&".join(f"f{i}=1" for i in range(1000)).encode()),
    ],
)
def test_a_malformed_form_gets_a_4xx_page_and_loses_nothing(
    wave: sessionmaker[Session], client: TestClient, content_type: str, body: bytes
) -> None:
    start(client, BASE)
    answer_page(client, f"{BASE}/you", {"team": "cf_first", "role": "social_worker"})
    reply = client.post(
        f"{BASE}/section/about_you", content=body, headers={"content-type": content_type}
    )
    assert reply.status_code == 400
    assert reply.headers["content-type"].startswith("text/html")
    assert "earlier answers are still saved" in reply.text
    with transaction(wave) as session:
        assert session.scalars(select(Draft.team)).one() == "cf_first"


def test_an_unknown_survey_or_section_is_a_404_page(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    for url in ("/s/no-such-survey/2015", f"{BASE}/section/no_such_section"):
        reply = client.get(url)
        assert reply.status_code == 404
        assert reply.headers["content-type"].startswith("text/html")


def test_change_on_the_check_page_comes_back_to_it_by_way_of_what_the_change_brings_in(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    complete_journey(client, BASE, "cf_first", "social_worker", WORKER)
    check = client.get(f"{BASE}/check").text
    change = {key: url for url, key in re.findall(r'href="([^"#]+)#q-([a-z0-9_]+)"', check)}
    url = change["gives_supervision"]
    assert url == f"{BASE}/section/about_you?from=check"
    assert f'<a href="{BASE}/check" class="back-link">Back</a>' in client.get(url).text
    assert answer_page(client, url, WORKER) == (303, f"{BASE}/check")

    status, location = answer_page(client, url, {**WORKER, "gives_supervision": "yes"})
    while status == 200:  # a follow-up on the same page, still on the way back
        status, location = answer_page(client, url, MANAGER)
    visited = []
    while not location.endswith("/check"):
        assert location.endswith("?from=check"), location
        visited.append(location)
        status, location = answer_page(client, location, MANAGER)
        assert status in (200, 303)
        if status == 200:
            location = visited.pop()
    assert f"{BASE}/section/for_supervisors?from=check" in visited
    assert location == f"{BASE}/check"


def test_each_section_page_links_back_to_the_page_before(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    start(client, BASE)
    answer_page(client, f"{BASE}/you", {"team": "cf_first", "role": "social_worker"})
    backs = {
        section: re.search(
            r'<a href="([^"]+)" class="back-link">Back</a>',
            client.get(f"{BASE}/section/{section}").text,
        )
        for section in ("about_you", "key_basics")
    }
    assert {section: found and found.group(1) for section, found in backs.items()} == {
        "about_you": f"{BASE}/you",
        "key_basics": f"{BASE}/section/about_you",
    }


def test_the_wave_heads_its_pages_with_its_own_title(
    wave: sessionmaker[Session], client: TestClient
) -> None:
    """Not the questionnaire's ("... October 2015"), which names the year it was written for."""
    default = client.get(BASE).text
    assert (
        '<h1 class="heading-xl">Coventry Children &amp; Families Supervision Survey 2015</h1>'
        in default
    )
    assert "October 2015" not in default
    with transaction(wave) as session:
        session.execute(update(Wave).values(title="Supervision survey, autumn 2016"))
    assert '<h1 class="heading-xl">Supervision survey, autumn 2016</h1>' in client.get(BASE).text


def test_every_page_has_an_icon(wave: sessionmaker[Session], client: TestClient) -> None:
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get(BASE).text
    for path in ("/favicon.ico", "/static/favicon.svg"):
        icon = client.get(path)
        assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
