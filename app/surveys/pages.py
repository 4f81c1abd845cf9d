"""The respondent's pages: start, team and role, one page per section, check, confirmation.

Everything works without JavaScript: a follow-up question (4b, 6c) appears once the answer it
depends on has been sent. Pages never show or store anything that identifies the respondent.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.accounts.deps import csrf_nonce, csrf_ok, csrf_token, set_csrf_cookie
from app.config import Settings
from app.deps import SessionDep, SettingsDep, TodayDep, commits_in_thread
from app.models import Draft
from app.responses.codes import CodeState, code_hash, code_state, spend_for_submission
from app.responses.drafts import (
    find_draft,
    key_hash,
    masked_code_hash,
    normalise_key,
    save_answers,
    start_draft,
    submission_id_for,
)
from app.responses.service import (
    AnswerMap,
    OpenedWave,
    SubmissionIn,
    SubmissionRejected,
    WaveNotAccepting,
    load_wave,
    store_response,
    validate_submission,
    visible_questions,
    wave_state,
)
from app.surveys.definitions import QuestionType, ResolvedQuestion, Section
from app.surveys.service import NotFound, delete_drafts_of_wave, delete_fieldwork_of_wave

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
TEMPLATES.env.trim_blocks = True
TEMPLATES.env.lstrip_blocks = True
COOKIE = "draft"
SENT = "sent"
"""The draft cookie's value once the answers are sent: the same for everybody, so it tells
nothing, but a late second click or a retried "Send" still lands on the confirmation."""

router = APIRouter(prefix="/s/{survey}/{wave_key}", include_in_schema=False)


@dataclass
class PageError:
    field_id: str
    message: str


@dataclass
class Page:
    """What every respondent template receives."""

    request: Request
    wave: OpenedWave
    survey_key: str
    title: str
    errors: list[PageError] = field(default_factory=list)
    csrf: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    nonce: str | None = None
    """For the forms sent before there is a draft (start, resume): the browser's CSRF nonce,
    set as a cookie with the page."""

    def before_draft(self, settings: Settings) -> None:
        """Give this page's form a token tied to the browser, not to a draft."""
        self.nonce = csrf_nonce(self.request)
        self.csrf = csrf_token(self.nonce, settings)

    def render(self, template: str, status_code: int = 200) -> HTMLResponse:
        definition = self.wave.published.definition
        context = {
            "page": self,
            "definition": definition,
            "wave": self.wave,
            "base": f"/s/{self.survey_key}/{self.wave.key}",
            "errors": self.errors,
            "error_for": {error.field_id: error.message for error in self.errors},
            **self.extra,
        }
        response = TEMPLATES.TemplateResponse(
            self.request, template, context, status_code=status_code
        )
        if self.nonce is not None:
            set_csrf_cookie(response, self.nonce, self.request.app.state.settings)
        return response


def _csrf(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{key_hash(key)}".encode(), hashlib.sha256).hexdigest()


def _not_accepting(page: Page, today: Any, session: Session | None = None) -> HTMLResponse | None:
    state = wave_state(page.wave, today)
    if state == "open":
        return None
    if state == "closed" and session is not None:
        # Closed by its date alone: what closing would have deleted goes at the first visit.
        delete_drafts_of_wave(session=session, wave_id=page.wave.id)
        delete_fieldwork_of_wave(session=session, wave_id=page.wave.id)
    page.title = "This survey is closed" if state == "closed" else "This survey is not open yet"
    page.extra["state"] = state
    return page.render(
        "respondent/not_open.html", status_code=409 if page.request.method == "POST" else 200
    )


def _draft_or_restart(
    request: Request, session: Session, wave: OpenedWave
) -> tuple[Draft, str] | None:
    key = request.cookies.get(COOKIE)
    draft = find_draft(session=session, wave_id=wave.id, key=key)
    if draft is None or key is None:
        return None
    return draft, key


@dataclass
class Visit:
    """A page of a questionnaire in progress that passed the checks every such page makes."""

    wave: OpenedWave
    page: Page
    draft: Draft
    key: str
    section: Section | None
    from_check: bool
    """Opened by a "Change" link on the check page: sending goes back there."""


def _visit(
    request: Request,
    session: Session,
    secret: str,
    today: Any,
    survey: str,
    wave_key: str,
    form: FormData | None = None,
    section: str | None = None,
) -> Visit | Response:
    """The wave (and section) exist, the wave is open, this browser has a draft in it, and a
    form carries the draft's token; otherwise the page that says which is not so."""
    wave = load_wave(session=session, survey_key=survey, wave_key=wave_key)
    spec = None if section is None else _section(wave, section)
    page = Page(request, wave, survey, title="" if spec is None else spec.title)
    closed = _not_accepting(page, today, session)
    if closed is not None:
        return closed
    found = _draft_or_restart(request, session, wave)
    if found is None:
        return _restart(f"/s/{survey}/{wave.key}")
    draft, key = found
    if form is not None and not _check_csrf(form, secret, key):
        return _expired_form(page)
    page.csrf = _csrf(secret, key)
    sent_from = request.query_params.get("from") if form is None else form.get("from")
    page.extra["from_check"] = from_check = sent_from == "check"
    return Visit(wave, page, draft, key, spec, from_check)


def _restart(base: str) -> RedirectResponse:
    return RedirectResponse(f"{base}?expired=1", status_code=303)


async def _form(request: Request) -> FormData:
    """Read in the event loop, so the handler itself can be a plain function in a worker thread
    (it talks to the database, which must not block the loop)."""
    return await request.form(max_files=0, max_fields=400, max_part_size=4096)


FormDep = Annotated[FormData, Depends(_form)]


def _check_csrf(form: FormData, secret: str, key: str) -> bool:
    return hmac.compare_digest(str(form.get("csrf", "")).encode(), _csrf(secret, key).encode())


def _sections(wave: OpenedWave, answers: AnswerMap) -> list[tuple[Section, list[ResolvedQuestion]]]:
    """The sections this respondent meets, each with the questions it shows them now."""
    shown = visible_questions(wave.published, answers)
    by_section: dict[str, list[ResolvedQuestion]] = {}
    for question in shown:
        by_section.setdefault(question.section, []).append(question)
    return [
        (section, by_section[section.key])
        for section in wave.published.definition.sections
        if section.key in by_section
    ]


@router.get("", response_class=HTMLResponse)
@commits_in_thread
def start(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> HTMLResponse:
    wave = load_wave(session=session, survey_key=survey, wave_key=wave_key)
    page = Page(request, wave, survey, title=wave.title)
    closed = _not_accepting(page, today)
    if closed is not None:
        return closed
    page.before_draft(settings)
    _start_details(page, request)
    return page.render("respondent/start.html")


@router.post("/start", response_class=HTMLResponse)
@commits_in_thread
def begin(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    form: FormDep,
) -> Response:
    wave = load_wave(session=session, survey_key=survey, wave_key=wave_key)
    page = Page(request, wave, survey, title=wave.title)
    closed = _not_accepting(page, today)
    if closed is not None:
        return closed
    page.before_draft(settings)
    if not csrf_ok(request, form.get("csrf"), settings):
        field = "code" if wave.access_codes_required else "start"
        return _start_again(page, request, PageError(field, FORM_EXPIRED), status_code=400)
    spent_on: str | None = None
    if wave.access_codes_required:
        problem = _code_problem(request, session, wave, str(form.get("code", "")))
        if problem:
            return _start_again(page, request, PageError("code", problem), status_code=422)
        spent_on = code_hash(str(form.get("code", "")))
    key = start_draft(session=session, wave_id=wave.id, access_code_hash=spent_on)
    response = RedirectResponse(f"/s/{survey}/{wave.key}/you", status_code=303)
    _set_cookie(response, key, survey, wave.key, settings.environment == "production")
    return response


FORM_EXPIRED = "The page had expired or the form did not come from this site. Try again"


def _start_again(page: Page, request: Request, error: PageError, status_code: int) -> HTMLResponse:
    page.title = "Error: " + page.title
    page.errors.append(error)
    _start_details(page, request)
    return page.render("respondent/start.html", status_code=status_code)


def _code_problem(request: Request, session: Session, wave: OpenedWave, typed: str) -> str | None:
    if not typed.strip():
        return "Enter the access code you were sent"
    limiter = request.app.state.guess_limiter
    if limiter.blocked(_client(request)):
        return "Too many tries. Wait a minute, then enter your code again"
    state = code_state(session=session, wave_id=wave.id, typed=typed)
    if state != CodeState.valid:
        limiter.missed(_client(request))
    if state == CodeState.unknown:
        return "That access code is not right. Check it against the one you were sent"
    if state == CodeState.used:
        return "That access code has already been used to send answers. Each code works once"
    return None


def _client(request: Request) -> str:
    """Only to count guesses, in memory: never stored or logged."""
    return request.client.host if request.client else "unknown"


def _start_details(page: Page, request: Request) -> None:
    page.extra.update(
        minutes=page.wave.minutes_to_answer,
        threshold=page.wave.suppression_threshold,
        expired=request.query_params.get("expired") == "1",
    )


def _set_cookie(response: Response, key: str, survey: str, wave: str, secure: bool) -> None:
    response.set_cookie(
        COOKIE, key, path=f"/s/{survey}/{wave}", httponly=True, samesite="lax", secure=secure
    )


@router.get("/you", response_class=HTMLResponse)
@commits_in_thread
def about_you(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> Response:
    visit = _visit(request, session, settings.secret_key, today, survey, wave_key)
    if not isinstance(visit, Visit):
        return visit
    wave, page, draft = visit.wave, visit.page, visit.draft
    page.title = "Your team and role"
    page.extra.update(
        team=draft.team, role=draft.role, progress=_progress(wave, draft, None),
        back=_back(survey, wave, draft, None, visit.from_check),
    )  # fmt: skip
    return page.render("respondent/you.html")


@router.post("/you", response_class=HTMLResponse)
@commits_in_thread
def about_you_sent(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    form: FormDep,
) -> Response:
    visit = _visit(request, session, settings.secret_key, today, survey, wave_key, form)
    if not isinstance(visit, Visit):
        return visit
    wave, page, draft, key = visit.wave, visit.page, visit.draft, visit.key
    page.title = "Your team and role"
    team, role = str(form.get("team", "")), str(form.get("role", ""))
    if team not in wave.published.team_ids:
        page.errors.append(PageError("team", "Select the team you work in"))
        team = ""
    if role not in wave.published.role_ids:
        page.errors.append(PageError("role", "Select your role"))
        role = ""
    draft.team, draft.role = team or draft.team, role or draft.role
    if page.errors:
        page.title = "Error: " + page.title
        page.extra.update(
            team=team, role=role, progress=_progress(wave, draft, None),
            back=_back(survey, wave, draft, None, visit.from_check),
        )  # fmt: skip
        return page.render("respondent/you.html", status_code=422)
    if form.get("action") == "save":
        return _saved(page, key)
    return RedirectResponse(_after(survey, wave, draft, None, visit.from_check), status_code=303)


def _progress(wave: OpenedWave, draft: Draft, section_key: str | None) -> tuple[int, int]:
    """("Section 3 of 9"): the team-and-role page counts as the first."""
    keys = [section.key for section, _ in _sections(wave, draft.answers)]
    position = (
        1 if section_key is None else keys.index(section_key) + 2 if section_key in keys else 1
    )
    return position, len(keys) + 1


def _next_url(survey: str, wave: OpenedWave, draft: Draft, after: str | None) -> str:
    base = f"/s/{survey}/{wave.key}"
    keys = [section.key for section, _ in _sections(wave, draft.answers)]
    following = keys if after is None else keys[keys.index(after) + 1 :] if after in keys else []
    return f"{base}/section/{following[0]}" if following else f"{base}/check"


def _after(
    survey: str, wave: OpenedWave, draft: Draft, section: str | None, from_check: bool
) -> str:
    """Where Continue leads: the next page, or back to the check page after a change (by way
    of any question the change brought in that is still to answer)."""
    if not from_check:
        return _next_url(survey, wave, draft, after=section)
    resume = _resume_url(survey, wave, draft)
    return resume if resume.endswith("/check") else f"{resume}?from=check"


def _back(
    survey: str, wave: OpenedWave, draft: Draft, section: str | None, from_check: bool
) -> str | None:
    """The page before this one: the check page after a change, else the section before (the
    team-and-role page before the first); none before the team-and-role page."""
    base = f"/s/{survey}/{wave.key}"
    if from_check:
        return f"{base}/check"
    if section is None:
        return None
    keys = [shown.key for shown, _ in _sections(wave, draft.answers)]
    before = keys[: keys.index(section)] if section in keys else []
    return f"{base}/section/{before[-1]}" if before else f"{base}/you"


def _resume_url(survey: str, wave: OpenedWave, draft: Draft) -> str:
    """Where the respondent left off: the first page with a question still to answer."""
    base = f"/s/{survey}/{wave.key}"
    if not draft.team or not draft.role:
        return f"{base}/you"
    for section, questions in _sections(wave, draft.answers):
        if any(q.required and q.key not in draft.answers for q in questions):
            return f"{base}/section/{section.key}"
    return f"{base}/check"


def _section_questions(wave: OpenedWave, draft: Draft, section_key: str) -> list[ResolvedQuestion]:
    for section, questions in _sections(wave, draft.answers):
        if section.key == section_key:
            return questions
    return []


def _section(wave: OpenedWave, section_key: str) -> Section:
    for section in wave.published.definition.sections:
        if section.key == section_key:
            return section
    raise NotFound(f"no section {section_key!r}")


@router.get("/section/{section}", response_class=HTMLResponse)
@commits_in_thread
def section_page(
    request: Request,
    survey: str,
    wave_key: str,
    section: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> Response:
    visit = _visit(request, session, settings.secret_key, today, survey, wave_key, None, section)
    if not isinstance(visit, Visit):
        return visit
    wave, page, draft, spec = visit.wave, visit.page, visit.draft, visit.section
    assert spec is not None
    if not draft.team or not draft.role:
        return RedirectResponse(f"/s/{survey}/{wave.key}/you", status_code=303)
    questions = _section_questions(wave, draft, section)
    if not questions:
        return RedirectResponse(
            _after(survey, wave, draft, section, visit.from_check), status_code=303
        )
    page.extra.update(
        section=spec, questions=questions, values=draft.answers,
        progress=_progress(wave, draft, section), added=[],
        back=_back(survey, wave, draft, section, visit.from_check),
    )  # fmt: skip
    return page.render("respondent/section.html")


@router.post("/section/{section}", response_class=HTMLResponse)
@commits_in_thread
def section_sent(
    request: Request,
    survey: str,
    wave_key: str,
    section: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    form: FormDep,
) -> Response:
    visit = _visit(request, session, settings.secret_key, today, survey, wave_key, form, section)
    if not isinstance(visit, Visit):
        return visit
    wave, page, draft, key, spec = visit.wave, visit.page, visit.draft, visit.key, visit.section
    assert spec is not None
    page_keys = [q.key for q in wave.published.questions if q.section == section]
    shown_before = set(form.getlist("shown"))
    given, problems = _read_answers(wave, page_keys, form)
    save_answers(draft=draft, published=wave.published, page=page_keys, given=given)
    questions = _section_questions(wave, draft, section)
    added = [q for q in questions if q.key not in shown_before and q.key not in draft.answers]
    for question in questions:
        if question.key in problems:
            page.errors.append(PageError(f"q-{question.key}", problems[question.key]))
        elif (
            question.required and question.key not in draft.answers and question.key in shown_before
        ):
            page.errors.append(PageError(f"q-{question.key}", _missing_message(question)))
    saving = form.get("action") == "save"
    if saving and not page.errors:
        return _saved(page, key)
    if page.errors or added:
        if page.errors:
            page.title = "Error: " + page.title
        values = dict(draft.answers)
        values.update({k: v for k, v in given.items() if k not in values})
        page.extra.update(
            section=spec, questions=questions, values=values,
            progress=_progress(wave, draft, section), added=[q.key for q in added],
            back=_back(survey, wave, draft, section, visit.from_check),
        )  # fmt: skip
        return page.render("respondent/section.html", status_code=422 if page.errors else 200)
    return RedirectResponse(_after(survey, wave, draft, section, visit.from_check), status_code=303)


def _read_answers(
    wave: OpenedWave, page_keys: list[str], form: FormData
) -> tuple[AnswerMap, dict[str, str]]:
    """The page's answers as sent, with a message for each value that is not one of the options."""
    given: AnswerMap = {}
    problems: dict[str, str] = {}
    for key in page_keys:
        question = wave.published.by_key[key]
        codes = {option.code for option in question.options}
        if question.type == QuestionType.multiple_choice:
            chosen = [str(value) for value in form.getlist(key)]
            if any(code not in codes for code in chosen):
                problems[key] = f"Select from the answers shown for question {question.number}"
            else:
                given[key] = chosen
        elif question.type == QuestionType.free_text:
            text = str(form.get(key, "")).strip()
            if len(text) > 2000:
                problems[key] = f"Answer question {question.number} in 2,000 characters or fewer"
            elif text:
                given[key] = text
        else:
            value = str(form.get(key, ""))
            if value and value not in codes:
                problems[key] = f"Select one of the answers shown for question {question.number}"
            elif value:
                given[key] = value
    return given, problems


def _missing_message(question: ResolvedQuestion) -> str:
    if question.type == QuestionType.free_text:
        return f"Enter your answer to question {question.number}"
    return f"Select an answer to question {question.number}"


def _saved(page: Page, key: str) -> HTMLResponse:
    page.title = "Your answers have been saved"
    page.extra["key"] = key
    response = page.render("respondent/saved.html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _expired_form(page: Page) -> HTMLResponse:
    page.title = "This page has expired"
    return page.render("respondent/expired.html", status_code=400)


@router.get("/check", response_class=HTMLResponse)
@commits_in_thread
def check(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> Response:
    visit = _visit(request, session, settings.secret_key, today, survey, wave_key)
    if not isinstance(visit, Visit):
        return visit
    visit.page.title = "Check your answers before sending them"
    return _check_page(visit.page, visit.wave, visit.draft)


def _check_page(page: Page, wave: OpenedWave, draft: Draft, status_code: int = 200) -> HTMLResponse:
    teams = {team.key: team.name for team in wave.published.definition.population.teams}
    roles = {role.key: role.name for role in wave.published.definition.population.role_groupings}
    page.extra.update(
        sections=_sections(wave, draft.answers),
        answers=draft.answers,
        team=teams.get(draft.team or "", ""),
        role=roles.get(draft.role or "", ""),
        discarded=[wave.published.by_key[k] for k in draft.discarded if k in wave.published.by_key],
        progress=None,
    )
    return page.render("respondent/check.html", status_code=status_code)


@router.post("/submit", response_class=HTMLResponse)
@commits_in_thread
def submit(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    form: FormDep,
) -> Response:
    wave = load_wave(session=session, survey_key=survey, wave_key=wave_key)
    page = Page(request, wave, survey, title="Check your answers before sending them")
    base = f"/s/{survey}/{wave.key}"
    key = request.cookies.get(COOKIE)
    draft = find_draft(session=session, wave_id=wave.id, key=key)
    if draft is None or key is None:
        # A second click, a refresh or the back button: the first submission already went.
        return RedirectResponse(f"{base}/done" if key else base, status_code=303)
    if not _check_csrf(form, settings.secret_key, key):
        return _expired_form(page)
    submission = SubmissionIn(
        submission_id=submission_id_for(key, settings.secret_key),
        team=draft.team or "",
        role=draft.role or "",
        answers=draft.answers,
    )
    page.csrf = _csrf(settings.secret_key, key)
    if draft.access_code_hash is not None:
        refused = _spend_code(request, page, wave, draft, key, submission)
        if refused is not None:
            return refused
    try:
        store_response(
            session=session,
            survey_key=survey,
            wave_key=wave.key,
            submission=submission,
            today=today,
        )
    except WaveNotAccepting:
        closed = _not_accepting(page, today)
        assert closed is not None
        return closed
    except SubmissionRejected as rejected:
        return _rejected(page, wave, draft, rejected)
    session.delete(draft)
    response = RedirectResponse(f"{base}/done", status_code=303)
    _set_cookie(response, SENT, survey, wave.key, settings.environment == "production")
    return response


def _spend_code(
    request: Request,
    page: Page,
    wave: OpenedWave,
    draft: Draft,
    key: str,
    submission: SubmissionIn,
) -> HTMLResponse | None:
    """Spend the draft's access code. Answers are checked first: a refused submission must not
    use up the code."""
    try:
        validate_submission(wave.published, submission)
    except SubmissionRejected as rejected:
        return _rejected(page, wave, draft, rejected)
    assert draft.access_code_hash is not None
    if spend_for_submission(
        factory=request.app.state.session_factory,
        wave_id=wave.id,
        hashed=masked_code_hash(key, draft.access_code_hash),
        submission_id=submission.submission_id,
    ):
        return None
    page.title = "That access code has already been used"
    return page.render("respondent/code_used.html", status_code=409)


def _rejected(
    page: Page, wave: OpenedWave, draft: Draft, rejected: SubmissionRejected
) -> HTMLResponse:
    """The check page again, each problem linked to where it is put right."""
    page.title = "Error: Check your answers before sending them"
    page.errors = [PageError(_anchor(wave, e.field), e.message) for e in rejected.errors]
    return _check_page(page, wave, draft, status_code=422)


def _anchor(wave: OpenedWave, field_name: str) -> str:
    """Where a submission problem is fixed: its question on its section page."""
    key = field_name.removeprefix("answers.")
    question = wave.published.by_key.get(key)
    if question is None:
        return "you?from=check#team"
    return f"section/{question.section}?from=check#q-{question.key}"


@router.get("/done", response_class=HTMLResponse)
@commits_in_thread
def done(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> HTMLResponse:
    wave = load_wave(session=session, survey_key=survey, wave_key=wave_key)
    page = Page(request, wave, survey, title="Your answers have been sent")
    return page.render("respondent/done.html")


@router.get("/resume", response_class=HTMLResponse)
@commits_in_thread
def resume(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
) -> HTMLResponse:
    wave = load_wave(session=session, survey_key=survey, wave_key=wave_key)
    page = Page(request, wave, survey, title="Continue your answers")
    closed = _not_accepting(page, today)
    if closed is not None:
        return closed
    page.before_draft(settings)
    return page.render("respondent/resume.html")


@router.post("/resume", response_class=HTMLResponse)
@commits_in_thread
def resume_sent(
    request: Request,
    survey: str,
    wave_key: str,
    session: SessionDep,
    settings: SettingsDep,
    today: TodayDep,
    form: FormDep,
) -> Response:
    wave = load_wave(session=session, survey_key=survey, wave_key=wave_key)
    page = Page(request, wave, survey, title="Continue your answers")
    closed = _not_accepting(page, today)
    if closed is not None:
        return closed
    page.before_draft(settings)
    if not csrf_ok(request, form.get("csrf"), settings):
        return _resume_again(page, FORM_EXPIRED, status_code=400)
    limiter = request.app.state.guess_limiter
    if limiter.blocked(_client(request)):
        message = "Too many tries. Wait a minute, then enter your key again"
        return _resume_again(page, message, status_code=429)
    key = normalise_key(str(form.get("key", "")))
    draft = find_draft(session=session, wave_id=wave.id, key=key)
    if key is None or draft is None:
        limiter.missed(_client(request))
        message = (
            "Enter your key as it was shown: 4 groups of 5 letters, like ABCDE-FGHJK-MNPQR-STUVW"
            if key is None
            else "No saved answers match that key. Check it and try again, or start again"
        )
        return _resume_again(page, message, status_code=422)
    response = RedirectResponse(_resume_url(survey, wave, draft), status_code=303)
    _set_cookie(response, key, survey, wave.key, settings.environment == "production")
    return response


def _resume_again(page: Page, message: str, status_code: int) -> HTMLResponse:
    page.title = "Error: " + page.title
    page.errors.append(PageError("key", message))
    return page.render("respondent/resume.html", status_code=status_code)
