"""The closing-day rush: hundreds of staff answering at once, through a real server.

Each simulated member of staff answers the whole questionnaire through the pages, as a browser
does: the start page, team and role, every section they are shown (sending a page again when a
follow-up question appears on it), the check page, send, the confirmation. They keep the draft
cookie, send each form's own hidden fields (its CSRF token among them), choose their answers at
random, and come from an address of their own (on Linux the whole of 127.0.0.0/8 is local). One in
ten sends the check page twice at once (a double click); one in twenty saves part-way and carries
on in a fresh browser with the key the page shows. Arrivals quicken towards the end, as on the
last day of fieldwork. A request that fails (a 503, or a connection dropped without an answer) is
sent again after a pause, as a person would after an error page, and is counted.

Afterwards the database is audited against what the browsers saw: every journey the server
acknowledged (its 303 to the confirmation page) has its receipt and exactly one stored response
holding exactly the team, role and answers that were sent; no other response appeared. Prints
p50/p95 latency per page and the counts; exits 1 if a check fails or any request got a 5xx.

    python bench/load.py [--staff 500] [--workers 2] [--rush-seconds 60] [--database-url URL]

Without --database-url a throwaway PostgreSQL is started. The database is migrated and given the
Coventry demo (`supervision-survey demo seed`), whose 2016 wave is open; the load answers that
wave, and the audit leaves out whatever the wave held before.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import secrets
import ssl
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx2 as httpx
from sqlalchemy import Connection, func, select
from sqlalchemy.engine import make_url

from app.config import PROJECT_ROOT, Settings
from app.db import make_engine, make_session_factory
from app.demo.seed import OPEN_WAVE, SURVEY, seed_demo
from app.migrate import upgrade
from app.models import (
    Answer,
    Option,
    Question,
    Response,
    RoleGrouping,
    SubmissionReceipt,
    Survey,
    Team,
    Wave,
)
from app.responses.drafts import submission_id_for
from app.responses.service import submission_received
from tests.support.journey import Form, forms
from tests.support.live_server import live_server
from tests.support.postgres_server import running_postgres

BASE = f"/s/{SURVEY}/{OPEN_WAVE}"
DOUBLE_SUBMIT_SHARE = 0.10
SAVE_AND_RESUME_SHARE = 0.05
REQUEST_TIMEOUT_SECONDS = 30.0
RETRY_PAUSE_SECONDS = 0.5
DRAFT_COOKIE = "draft"
CONFIRMED = "303 done"
"""The acknowledgement: the reply to the check page's form that leads to the confirmation."""
KEEP_ALIVE = httpx.Limits(keepalive_expiry=2.0)
"""Well inside uvicorn's 5 s, so a client never sends on a connection the server is closing."""
_NO_TLS = ssl.create_default_context()
"""Plain HTTP needs none, but every client would build its own context (20 ms each) otherwise."""


class Behaviour(StrEnum):
    plain = "plain"
    double_submit = "double submit"
    save_and_resume = "save and resume"


@dataclass(frozen=True)
class Staff:
    number: int
    behaviour: Behaviour
    arrives_after: float
    """Seconds after the rush begins."""

    def address(self, device: int = 0) -> str:
        """A local address of this person's own, another for each device they use."""
        return f"127.{device + 1}.{self.number // 250}.{self.number % 250 + 1}"

    def choose(self, name: str, options: list[str]) -> str:
        """The same answer every time this person meets the question."""
        return random.Random(f"{self.number}/{name}").choice(options)


def crowd(count: int, rush_seconds: float, first: int = 0) -> list[Staff]:
    """`count` staff (numbered from `first`) arriving over `rush_seconds`, more and more of them
    towards the end (arrival density rising linearly); a random tenth double-submit, a twentieth
    save and resume."""
    order = list(range(count))
    random.Random(first).shuffle(order)
    doubles = round(count * DOUBLE_SUBMIT_SHARE)
    resumers = round(count * SAVE_AND_RESUME_SHARE)
    behaviour = {i: Behaviour.double_submit for i in order[:doubles]}
    behaviour.update({i: Behaviour.save_and_resume for i in order[doubles:][:resumers]})
    return [
        Staff(first + i, behaviour.get(i, Behaviour.plain), rush_seconds * math.sqrt(i / count))
        for i in range(count)
    ]


@dataclass
class Traffic:
    """Everything the browsers saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    """Every 5xx, as "503 POST /s/…/submit"."""
    dropped: Counter[str] = field(default_factory=Counter)
    """Requests whose connection ended without any answer (a worker killed, say), by error."""
    in_flight: int = 0
    peak_in_flight: int = 0
    """Requests sent and not yet answered at once, at most."""

    @property
    def requests(self) -> int:
        return self.statuses.total() + self.dropped.total()

    def percentiles(self) -> Iterator[tuple[str, int, float, float]]:
        """(page, requests, p50 ms, p95 ms), slowest p95 first."""
        rows = []
        for page, seconds in self.latencies.items():
            cuts = (
                statistics.quantiles(seconds, n=100, method="inclusive")
                if len(seconds) > 1
                else seconds * 99
            )
            rows.append((page, len(seconds), cuts[49] * 1000, cuts[94] * 1000))
        return iter(sorted(rows, key=lambda row: -row[3]))


def page_kind(path: str) -> str:
    """The page at /s/<survey>/<wave>/section/<key> is a "section": one latency series per kind."""
    parts = path.split("?")[0].strip("/").split("/")
    return parts[3] if len(parts) > 3 else "start page"


class JourneyFailed(Exception):
    pass


class Browser:
    """One person's browser: its own cookies and address. A request that gets a 503 or no
    answer at all is sent again after a pause until `deadline` (time.monotonic())."""

    def __init__(self, server: str, address: str, traffic: Traffic, deadline: float) -> None:
        self.client = httpx.AsyncClient(
            base_url=server,
            transport=httpx.AsyncHTTPTransport(
                local_address=address, verify=_NO_TLS, limits=KEEP_ALIVE
            ),
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        self.traffic = traffic
        self.deadline = deadline

    async def send(
        self, method: str, path: str, data: dict[str, str | list[str]] | None = None
    ) -> httpx.Response:
        page = f"{method} {page_kind(path)}"
        while True:
            traffic = self.traffic
            traffic.in_flight += 1
            traffic.peak_in_flight = max(traffic.peak_in_flight, traffic.in_flight)
            started = time.perf_counter()
            try:
                reply = await self.client.request(method, path, data=data)
            except httpx.TransportError as error:
                traffic.dropped[type(error).__name__] += 1
            else:
                traffic.latencies[page].append(time.perf_counter() - started)
                traffic.statuses[reply.status_code] += 1
                if reply.status_code >= 500:
                    traffic.server_errors.append(f"{reply.status_code} {page}")
                if reply.status_code != 503:
                    return reply
            finally:
                traffic.in_flight -= 1
            if time.monotonic() > self.deadline:
                raise JourneyFailed(f"{page}: no answer before the deadline")
            await asyncio.sleep(RETRY_PAUSE_SECONDS)

    async def close(self) -> None:
        await self.client.aclose()


class Sent(NamedTuple):
    """What one respondent sent, in the terms the database stores it in."""

    team: str
    role: str
    answers: frozenset[tuple[str, str]]
    """(question key, option code)"""


SubmitGate = Callable[["Journey"], Awaitable[None]]
"""Awaited on the check page just before sending, to time submissions (the fault tests)."""


@dataclass
class Journey:
    staff: Staff
    key: str | None = None
    """The draft's key: its submission id (and so its receipt) follows from it."""
    pages: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per page, the choices in the last form sent from it."""
    resumed: bool = False
    acknowledged: bool = False
    submit_replies: list[str] = field(default_factory=list)
    """Where the final reply to each click on the check page's button led, e.g. "303 done"."""
    failure: str | None = None

    think_seconds: float = 0.0
    """Up to this long reading and answering each page before sending it."""

    def sent(self) -> Sent:
        choices = {name: value for page in self.pages.values() for name, value in page.items()}
        team, role = choices.pop("team", ""), choices.pop("role", "")
        return Sent(team, role, frozenset(choices.items()))

    async def run(
        self, server: str, traffic: Traffic, deadline: float, gate: SubmitGate | None = None
    ) -> None:
        browser, other_device = (
            Browser(server, self.staff.address(device), traffic, deadline) for device in (0, 1)
        )
        try:
            await self._walk(browser, other_device, gate)
        except JourneyFailed as failure:
            self.failure = str(failure)
        finally:
            await browser.close()
            await other_device.close()

    async def _walk(self, browser: Browser, other_device: Browser, gate: SubmitGate | None) -> None:
        start = await browser.send("GET", BASE)
        reply = await self._send_form(browser, _form(start, "/start"), {})
        self.key = browser.client.cookies.get(DRAFT_COOKIE)
        location = _redirect(reply)
        page = await browser.send("GET", location)
        while not location.endswith("/check"):
            form = _form(page, "")
            choices = {
                name: self.staff.choose(name, options) for name, options in form.choices.items()
            }
            self.pages[location] = choices
            if self._saves_on(location):
                saved = await self._send_form(browser, form, {**choices, "action": "save"}, 200)
                browser = other_device
                location = await self._resume(browser, _resume_key(saved.text))
                page = await browser.send("GET", location)
                continue
            reply = await self._send_form(
                browser, form, {**choices, "action": "continue"}, 200, 303
            )
            if reply.status_code == 200:  # a follow-up question appeared on the same page
                page = reply
                continue
            location = _redirect(reply)
            page = await browser.send("GET", location)
        await self._submit(browser, _form(page, "/submit"), gate)
        done = await browser.send("GET", f"{BASE}/done")
        if done.status_code != 200:
            raise JourneyFailed(f"confirmation page: {done.status_code}")

    def _saves_on(self, location: str) -> bool:
        """Those who save do so on the first section page."""
        return (
            self.staff.behaviour == Behaviour.save_and_resume
            and not self.resumed
            and "/section/" in location
        )

    async def _resume(self, browser: Browser, key: str) -> str:
        """On another device, with nothing but the key: where the respondent carries on."""
        self.resumed = True
        page = await browser.send("GET", f"{BASE}/resume")
        reply = await self._send_form(browser, _form(page, "/resume"), {"key": key})
        if browser.client.cookies.get(DRAFT_COOKIE) != self.key:
            raise JourneyFailed("resuming gave another draft")
        return _redirect(reply)

    async def _submit(self, browser: Browser, form: Form, gate: SubmitGate | None) -> None:
        await self._think()
        if gate is not None:
            await gate(self)
        clicks = 2 if self.staff.behaviour == Behaviour.double_submit else 1
        replies = await asyncio.gather(
            *(browser.send("POST", form.action, dict(form.hidden)) for _ in range(clicks))
        )
        self.submit_replies.extend(_landing(reply) for reply in replies)
        if CONFIRMED not in self.submit_replies:
            raise JourneyFailed(f"submit: {self.submit_replies}")
        self.acknowledged = True

    async def _think(self) -> None:
        await asyncio.sleep(random.uniform(0, self.think_seconds))

    async def _send_form(
        self, browser: Browser, form: Form, values: dict[str, str], *expected: int
    ) -> httpx.Response:
        await self._think()
        reply = await browser.send("POST", form.action, {**form.hidden, **values})
        if reply.status_code not in (expected or (303,)):
            raise JourneyFailed(f"POST {page_kind(form.action)}: {reply.status_code}")
        return reply


def _form(page: httpx.Response, action_ending: str) -> Form:
    """The page's one form posting to an address ending so ("" for the page's answer form)."""
    if page.status_code != 200:
        raise JourneyFailed(f"GET {page_kind(page.url.path)}: {page.status_code}")
    found = [
        form
        for form in forms(page.text)
        if form.action.endswith(action_ending) and (action_ending or "csrf" in form.hidden)
    ]
    if len(found) != 1:
        raise JourneyFailed(f"{page.url.path}: no form for {action_ending or 'answers'}")
    return found[0]


def _landing(reply: httpx.Response) -> str:
    location = reply.headers.get("location")
    return f"{reply.status_code} {page_kind(location)}" if location else str(reply.status_code)


def _redirect(reply: httpx.Response) -> str:
    if reply.status_code != 303:
        raise JourneyFailed(
            f"{reply.request.method} {page_kind(reply.url.path)}: {reply.status_code}"
        )
    return reply.headers["location"]


def _resume_key(html: str) -> str:
    start = html.index('id="resume-key">') + len('id="resume-key">')
    return html[start : html.index("<", start)]


@dataclass
class Rush:
    journeys: list[Journey]
    traffic: Traffic
    seconds: float
    peak_journeys: int
    """Staff part-way through at once, at most."""

    @property
    def failures(self) -> list[str]:
        return [f"staff {j.staff.number}: {j.failure}" for j in self.journeys if j.failure]


async def rush(
    server: str,
    staff: list[Staff],
    *,
    deadline_seconds: float,
    think_seconds: float = 0.0,
    gate: SubmitGate | None = None,
) -> Rush:
    """Every one of `staff` answers, each arriving when due; whoever has not finished by the
    deadline is stopped and counted as failed."""
    traffic = Traffic()
    journeys = [Journey(person, think_seconds=think_seconds) for person in staff]
    started = time.monotonic()
    deadline = started + deadline_seconds
    active = peak = 0

    async def arrive(journey: Journey) -> None:
        nonlocal active, peak
        await asyncio.sleep(journey.staff.arrives_after)
        active += 1
        peak = max(peak, active)
        try:
            await journey.run(server, traffic, deadline, gate)
        finally:
            active -= 1

    tasks = [asyncio.create_task(arrive(journey)) for journey in journeys]
    _, late = await asyncio.wait(tasks, timeout=deadline_seconds)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    for journey in journeys:
        if not journey.acknowledged and journey.failure is None:
            journey.failure = f"not finished within {deadline_seconds:.0f} s"
    return Rush(journeys, traffic, time.monotonic() - started, peak)


class Before(NamedTuple):
    """The wave as it was before the rush: the audit leaves this out."""

    wave_id: int
    responses: frozenset[str]
    receipts: int


@dataclass(frozen=True)
class Audit:
    acknowledged: int
    """Journeys the server confirmed with its 303 to the confirmation page."""
    stored: int
    """Responses the wave gained."""
    receipts: int
    """Submission receipts the wave gained: one per stored response."""
    lost: int
    """Acknowledged journeys with no stored response holding their team, role and answers."""
    without_receipt: int
    """Acknowledged journeys whose submission id has no receipt."""
    duplicates: int
    """Stored responses beyond one per acknowledged journey."""
    partial: int
    """Stored responses whose answers are not those any journey sent."""
    stored_unacknowledged: int
    """Stored for a journey that never saw the acknowledgement (stored, then the reply was lost,
    and no retry got through): not a loss, but reported."""
    answers_sent: int
    answers_stored: int

    @property
    def problems(self) -> list[str]:
        found = [
            f"{count} {what}"
            for what, count in (
                ("acknowledged responses lost", self.lost),
                ("acknowledged responses without a receipt", self.without_receipt),
                ("duplicate responses", self.duplicates),
                ("partial or unexpected responses", self.partial),
            )
            if count
        ]
        if self.receipts != self.stored:
            found.append(f"{self.receipts} receipts for {self.stored} responses")
        return found


def _settings(database_url: str) -> Settings:
    return Settings(environment="test", database_url=database_url, _env_file=None)  # type: ignore[call-arg]


def server_environment(database_url: str, secret_key: str) -> dict[str, str]:
    """Not production: its cookies are Secure, and these browsers speak plain HTTP."""
    return {"DATABASE_URL": database_url, "SECRET_KEY": secret_key, "ENVIRONMENT": "test"}


def prepare(database_url: str) -> None:
    """Migrate, and seed the demo (its 2016 wave is open)."""
    engine = make_engine(_settings(database_url))
    try:
        upgrade(engine)
        seed_demo(
            make_session_factory(engine),
            definitions_dir=PROJECT_ROOT / "survey_definitions",
            echo=lambda _line: None,
        )
    finally:
        engine.dispose()


def _wave_id(connection: Connection) -> int:
    found = connection.scalar(
        select(Wave.id)
        .join(Survey, Survey.id == Wave.survey_id)
        .where(Survey.key == SURVEY, Wave.key == OPEN_WAVE)
    )
    assert found is not None, f"no wave {OPEN_WAVE} of {SURVEY}: was the demo seeded?"
    return found


def _receipts(connection: Connection, wave_id: int) -> int:
    return (
        connection.scalar(
            select(func.count())
            .select_from(SubmissionReceipt)
            .where(SubmissionReceipt.wave_id == wave_id)
        )
        or 0
    )


def before(database_url: str) -> Before:
    engine = make_engine(_settings(database_url))
    try:
        with engine.connect() as connection:
            wave_id = _wave_id(connection)
            stored = connection.scalars(select(Response.id).where(Response.wave_id == wave_id))
            return Before(wave_id, frozenset(stored), _receipts(connection, wave_id))
    finally:
        engine.dispose()


def audit(database_url: str, secret_key: str, journeys: list[Journey], earlier: Before) -> Audit:
    """What the database holds now, against what the browsers sent and were told."""
    engine = make_engine(_settings(database_url))
    try:
        with make_session_factory(engine)() as session:
            connection = session.connection()
            responses = connection.execute(
                select(Response.id, Team.key, RoleGrouping.key)
                .join(Team, Team.id == Response.team_id)
                .join(RoleGrouping, RoleGrouping.id == Response.role_grouping_id)
                .where(Response.wave_id == earlier.wave_id)
            ).all()
            chosen: dict[str, set[tuple[str, str]]] = defaultdict(set)
            for response_id, question, option in connection.execute(
                select(Answer.response_id, Question.key, Option.code)
                .join(Response, Response.id == Answer.response_id)
                .join(Question, Question.id == Answer.question_id)
                .join(Option, Option.id == Answer.option_id)
                .where(Response.wave_id == earlier.wave_id)
            ):
                chosen[response_id].add((question, option))
            acknowledged = [j for j in journeys if j.acknowledged]
            without_receipt = sum(
                1
                for journey in acknowledged
                if journey.key is None
                or not submission_received(
                    session=session,
                    wave_id=earlier.wave_id,
                    submission_id=submission_id_for(journey.key, secret_key),
                )
            )
            receipts = _receipts(connection, earlier.wave_id) - earlier.receipts
    finally:
        engine.dispose()
    new = [row for row in responses if row[0] not in earlier.responses]
    stored = Counter(Sent(team, role, frozenset(chosen[rid])) for rid, team, role in new)
    sent = Counter(journey.sent() for journey in acknowledged)
    unacknowledged = Counter(j.sent() for j in journeys if not j.acknowledged)
    extra = stored - sent
    stored_unacknowledged = extra & unacknowledged
    extra -= stored_unacknowledged
    return Audit(
        acknowledged=len(acknowledged),
        stored=len(new),
        receipts=receipts,
        lost=(sent - stored).total(),
        without_receipt=without_receipt,
        duplicates=sum(count for answers, count in extra.items() if answers in sent),
        partial=sum(count for answers, count in extra.items() if answers not in sent),
        stored_unacknowledged=stored_unacknowledged.total(),
        answers_sent=sum(len(journey.sent().answers) for journey in acknowledged),
        answers_stored=sum(len(chosen[rid]) for rid, _, _ in new),
    )


def report(rush: Rush, checked: Audit, workers: int) -> str:
    traffic = rush.traffic
    kinds = Counter(journey.staff.behaviour for journey in rush.journeys)
    lines = [
        f"{len(rush.journeys)} staff ({', '.join(f'{n} {kind}' for kind, n in kinds.items())}) "
        f"against {workers} workers",
        f"{traffic.requests} requests in {rush.seconds:.1f} s "
        f"({traffic.requests / rush.seconds:.0f}/s); "
        f"at most {rush.peak_journeys} staff part-way and {traffic.peak_in_flight} requests "
        "waiting at once",
        "",
        f"{'page':<20}{'requests':>9}{'p50 ms':>9}{'p95 ms':>9}",
        *(f"{page:<20}{n:>9}{p50:>9.0f}{p95:>9.0f}" for page, n, p50, p95 in traffic.percentiles()),
        "",
        f"journeys finished {checked.acknowledged} of {len(rush.journeys)}; "
        f"responses stored {checked.stored}, receipts {checked.receipts}; "
        f"duplicates {checked.duplicates}, partial {checked.partial}, lost {checked.lost}, "
        f"without receipt {checked.without_receipt}, "
        f"stored unacknowledged {checked.stored_unacknowledged}",
        f"answers sent {checked.answers_sent}, stored {checked.answers_stored}; clicks on send: "
        f"{dict(Counter(landing for j in rush.journeys for landing in j.submit_replies))}",
        f"5xx {len(traffic.server_errors)} (503 {traffic.statuses[503]}), "
        f"connections dropped {traffic.dropped.total()} {dict(traffic.dropped) or ''}",
    ]
    lines.extend(f"failed: {failure}" for failure in rush.failures[:10])
    lines.extend(f"problem: {problem}" for problem in checked.problems)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--staff", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rush-seconds", type=float, default=60.0, help="arrivals spread over")
    parser.add_argument("--think-seconds", type=float, default=1.0, help="per page, at most")
    parser.add_argument("--deadline-seconds", type=float, default=300.0)
    parser.add_argument(
        "--database-url", help="a database to migrate and seed (default: a throwaway PostgreSQL)"
    )
    options = parser.parse_args()
    secret_key = secrets.token_urlsafe(32)
    with ExitStack() as stack:
        url = options.database_url or stack.enter_context(running_postgres())
        prepare(url)
        earlier = before(url)
        environment = server_environment(url, secret_key)
        server = stack.enter_context(live_server(environment, workers=options.workers))
        print(f"serving {make_url(url).get_backend_name()} at {server.url}", flush=True)
        result = asyncio.run(
            rush(
                server.url,
                crowd(options.staff, options.rush_seconds),
                deadline_seconds=options.deadline_seconds,
                think_seconds=options.think_seconds,
            )
        )
        checked = audit(url, secret_key, result.journeys, earlier)
    print(report(result, checked, options.workers))
    if result.failures or checked.problems or result.traffic.server_errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
