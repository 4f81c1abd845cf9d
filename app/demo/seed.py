"""The Coventry demo: both published waves, with synthetic responses whose counts are the report's.

Every response goes through `store_response`, so the data are ones the real form could have
produced: routing, audiences and option codes are checked exactly as for a respondent. A fixed
random seed makes the data the same on every machine.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models import Response, Wave, WaveStatus
from app.releases.service import ReleaseSummary, release
from app.responses.service import SubmissionIn, applies, load_wave, store_response
from app.surveys.definitions import ResolvedQuestion
from app.surveys.service import (
    NotFound,
    PublishedVersion,
    PublishRefused,
    create_wave,
    get_wave,
    publish_definition,
    published_version,
    set_wave_status,
)
from app.surveys.validation import load_definitions

SURVEY = "coventry-supervision"
DATA = Path(__file__).parent
RANDOM_SEED = 20141001
OPEN_WAVE = "2016"
OPEN_WAVE_WEEKS = 8

THIRD_PARTY_ANSWERED = {"2014": 82, "2015": 93}
"""The reports' NB under 11m: how many answered it rather than "no areas of disagreement yet"."""

AGREEMENT_RATE = {"2014": 0.78, "2015": 0.92}
"""Scrutiny's first target: everyone has a supervision agreement (4a). It rises in the demo."""
CHILD_VIEWS_ALWAYS = {"2015": 0.42}
"""The one answer figure the scrutiny report states: 42% said their supervision always included
the child's views (11e, 2015)."""
STANDOUT_TEAMS = {"2015": {"residential_gravel_hill": 0.15, "court_based_assessment": 0.98}}
"""Teams far from the rest, so the team-against-overall comparison has something to find."""

MANAGER_ROLES = ("team_manager", "head_of_service", "cf_team_leader", "senior_practitioner")
ROLE_TEAMS = {
    "residential_worker": (
        "residential_broadpark",
        "residential_gravel_hill",
        "residential_the_grange",
    ),
    "independent_reviewing_officer": ("safeguarding_iros",),
    "personal_adviser_route_21": ("route_21",),
    "yos_officer": ("youth_offending",),
    "caf_coordinator": ("cf_first", "social_care_neighbourhoods"),
    "cf_worker_schools_senior": ("cf_first", "social_care_neighbourhoods"),
    "cf_worker": ("cf_first", "social_care_neighbourhoods"),
    "family_assistant": ("cf_first", "social_care_neighbourhoods"),
    "family_support_worker": ("cf_first", "social_care_neighbourhoods"),
}
"""Where a role plausibly works, so the demo's team-by-role tables look like a real council's."""


class DemoOutdated(Exception):
    """The database's demo answers an edition of the definitions that has since changed."""


@dataclass
class TeamTarget:
    responses: int
    new_in_post_with_agreement: int
    """Answered 4b: in post under 12 months and said Yes to 4a."""
    supervisors: int
    team_managers: int | None
    """2015 only: Q20 was for team-manager level, a subset of supervisors."""


@dataclass
class Respondent:
    team: str
    supervisor: bool = False
    team_manager: bool = False
    new_in_post: bool = False
    has_agreement: bool = True
    role: str = ""
    answers_third_party: bool = False
    fixed: dict[str, str] = field(default_factory=dict)
    """Answers decided for the whole wave at once (11e's 42%)."""
    answers: dict[str, str] = field(default_factory=dict)


def seed_demo(
    factory: sessionmaker[Session],
    *,
    definitions_dir: Path,
    echo: Callable[[str], None] = print,
    today: dt.date | None = None,
) -> None:
    """Publish, create and fill the demo waves; leave any wave that already has responses alone."""
    today = today or dt.date.today()
    paths = sorted((definitions_dir / SURVEY).glob("*.yaml"))
    definitions = {d.version: d for d in load_definitions(paths)}
    for version in sorted(definitions):
        try:
            with transaction(factory) as session:
                _, outcome = publish_definition(session=session, definition=definitions[version])
        except PublishRefused as error:
            raise DemoOutdated(
                f"{error}\nThis database holds demo responses to an older edition of the "
                "questionnaire files. Start again from an empty database: delete it (by default "
                "var/supervision-survey.db) and run `make run` again."
            ) from error
        echo(f"{outcome.value:9} {SURVEY} version {version}")

    role_totals_2014 = _role_totals()
    for wave_key in ("2014", "2015"):
        fieldwork = definitions[wave_key].fieldwork
        with transaction(factory) as session:
            wave = _find_wave(session, wave_key)
            if wave is None:
                wave = create_wave(
                    session=session,
                    survey_key=SURVEY,
                    wave_key=wave_key,
                    version_key=wave_key,
                    opens_on=fieldwork.opens,
                    closes_on=fieldwork.closes,
                )
            stored = session.scalar(
                select(func.count()).select_from(Response).where(Response.wave_id == wave.id)
            )
            if stored:
                echo(f"wave {wave_key}: {stored} responses already there, left alone")
                continue
            wave.status = WaveStatus.open.value
            session.flush()
            published = published_version(session=session, version=wave.version)
            respondents = _respondents(
                published,
                _targets(wave_key),
                role_totals_2014,
                random.Random(f"{RANDOM_SEED}{wave_key}"),
            )
            rng = random.Random(f"{RANDOM_SEED}{wave_key}answers")
            days = (fieldwork.closes - fieldwork.opens).days
            for number, respondent in enumerate(respondents):
                _answer(published, respondent, rng, wave_key)
                store_response(
                    session=session,
                    survey_key=SURVEY,
                    wave_key=wave_key,
                    submission=SubmissionIn(
                        submission_id=f"demo-{wave_key}-{number:06d}-{rng.getrandbits(64):016x}",
                        team=respondent.team,
                        role=respondent.role,
                        answers=dict(respondent.answers),
                    ),
                    today=fieldwork.opens + dt.timedelta(days=rng.randint(0, days)),
                )
            set_wave_status(
                session=session, survey_key=SURVEY, wave_key=wave_key, status=WaveStatus.closed
            )
            released = release(
                session=session,
                wave=load_wave(session=session, survey_key=SURVEY, wave_key=wave_key),
                actor=None,
            )
            echo(
                f"wave {wave_key}: {len(respondents)} synthetic responses stored, wave closed, "
                f"results released ({_withheld_as_complements(released)} team figures withheld "
                "as complements)"
            )

    with transaction(factory) as session:
        if _find_wave(session, OPEN_WAVE) is None:
            create_wave(
                session=session,
                survey_key=SURVEY,
                wave_key=OPEN_WAVE,
                version_key="2015",
                opens_on=today,
                closes_on=today + dt.timedelta(weeks=OPEN_WAVE_WEEKS),
                status=WaveStatus.open,
            )
            echo(
                f"wave {OPEN_WAVE}: open until {today + dt.timedelta(weeks=OPEN_WAVE_WEEKS)}, "
                "on the 2015 questionnaire, no responses yet"
            )


def _withheld_as_complements(released: ReleaseSummary) -> int:
    return sum(c.withheld_as_complements for c in released.cost if c.breakdown == "team")


def _find_wave(session: Session, wave_key: str) -> Wave | None:
    try:
        return get_wave(session=session, survey_key=SURVEY, wave_key=wave_key)
    except NotFound:
        return None


def _targets(wave_key: str) -> dict[str, TeamTarget]:
    """Per team name, from the published response profile."""
    with (DATA / f"coventry_{wave_key}_response_profile.csv").open(encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return {
        row["team"]: TeamTarget(
            responses=int(row["responses"]),
            new_in_post_with_agreement=int(row["q4b_responses"]),
            supervisors=int(row.get("q18_q20_responses") or row["q18_responses"]),
            team_managers=int(row["q20_responses"]) if "q20_responses" in row else None,
        )
        for row in rows
    }


def _role_totals() -> dict[str, int]:
    with (DATA / "coventry_2014_role_groupings.csv").open(encoding="utf-8") as file:
        return {row["role_grouping"]: int(row["responses"]) for row in csv.DictReader(file)}


def _respondents(
    published: PublishedVersion,
    targets: dict[str, TeamTarget],
    role_totals_by_name: dict[str, int],
    rng: random.Random,
) -> list[Respondent]:
    teams = {team.name: team.key for team in published.definition.population.teams}
    respondents: list[Respondent] = []
    for name, target in targets.items():
        team_respondents = [Respondent(team=teams[name]) for _ in range(target.responses)]
        for index, respondent in enumerate(team_respondents):
            respondent.supervisor = index < target.supervisors
            if target.team_managers is not None:
                respondent.team_manager = index < target.team_managers
        for respondent in rng.sample(team_respondents, target.new_in_post_with_agreement):
            respondent.new_in_post = True
        for respondent in team_respondents:
            if respondent.new_in_post:
                continue
            respondent.new_in_post = rng.random() < 0.06
            respondent.has_agreement = (
                not respondent.new_in_post
                and rng.random() < AGREEMENT_RATE.get(published.version_key, 0.85)
            )
        respondents.extend(team_respondents)

    roles = {role.name: role.key for role in published.definition.population.role_groupings}
    totals = _spread(
        {roles[name]: count for name, count in role_totals_by_name.items() if name in roles},
        len(respondents),
    )
    _assign_roles(respondents, totals, rng)
    wave_total = sum(target.responses for target in targets.values())
    third_party = THIRD_PARTY_ANSWERED.get(published.version_key, wave_total // 4)
    for respondent in rng.sample(respondents, third_party):
        respondent.answers_third_party = True
    if published.version_key in CHILD_VIEWS_ALWAYS:
        _fix_share(published, respondents, "11e", CHILD_VIEWS_ALWAYS[published.version_key], rng)
    rng.shuffle(respondents)
    return respondents


def _fix_share(
    published: PublishedVersion,
    respondents: list[Respondent],
    number: str,
    share: float,
    rng: random.Random,
) -> None:
    """Give exactly the share (of those not answering "not applicable") the question's first
    option, rounded half up as the reports round."""
    question = next(q for q in published.questions if q.number == number)
    excluded = [o.code for o in question.options if o.excluded_from_base]
    counted = [o.code for o in question.options if not o.excluded_from_base]
    not_applicable = set(rng.sample(range(len(respondents)), len(respondents) // 25))
    base = len(respondents) - len(not_applicable)
    first = int(Decimal(base * share).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    answering = [r for i, r in enumerate(respondents) if i not in not_applicable]
    for index, respondent in enumerate(rng.sample(answering, len(answering))):
        respondent.fixed[question.key] = counted[0] if index < first else rng.choice(counted[1:])
    for index in not_applicable:
        respondents[index].fixed[question.key] = excluded[0] if excluded else counted[-1]


def _spread(totals: dict[str, int], size: int) -> dict[str, int]:
    """Scale role counts to `size` respondents, largest remainder first (exact when sizes match)."""
    whole = sum(totals.values())
    shares = {key: count * size / whole for key, count in totals.items()}
    spread = {key: int(share) for key, share in shares.items()}
    for key in sorted(shares, key=lambda k: shares[k] - spread[k], reverse=True)[
        : size - sum(spread.values())
    ]:
        spread[key] += 1
    return spread


def _assign_roles(
    respondents: list[Respondent], totals: dict[str, int], rng: random.Random
) -> None:
    free = list(respondents)
    rng.shuffle(free)
    remaining = dict(totals)

    def take(role: str, fits: Callable[[Respondent], bool]) -> None:
        for respondent in [r for r in free if fits(r)][: remaining[role]]:
            respondent.role = role
            free.remove(respondent)
            remaining[role] -= 1

    for role in MANAGER_ROLES:
        if role in remaining:
            take(role, lambda r: r.supervisor)
    for role, teams in ROLE_TEAMS.items():
        if role in remaining:
            take(role, _staff_of(teams))
    for role in remaining:
        take(role, lambda r: not r.supervisor)
    for role in remaining:
        take(role, lambda _r: True)
    assert not free and not any(remaining.values()), "role totals must match the responses"


def _staff_of(teams: tuple[str, ...]) -> Callable[[Respondent], bool]:
    return lambda respondent: respondent.team in teams and not respondent.supervisor


def _answer(
    published: PublishedVersion, respondent: Respondent, rng: random.Random, wave_key: str
) -> None:
    """Walk the questionnaire as the respondent would, answering only what they are shown."""
    climate = STANDOUT_TEAMS.get(wave_key, {}).get(
        respondent.team, 0.55 + 0.35 * random.Random(f"{wave_key}{respondent.team}").random()
    )
    forced = {**_forced_answers(published, respondent, rng), **respondent.fixed}
    for question in published.questions:
        if not applies(published, question, respondent.answers):
            continue
        if question.key in forced:
            respondent.answers[question.key] = forced[question.key]
        elif question.options:
            respondent.answers[question.key] = _choose(question, climate, rng)


def _forced_answers(
    published: PublishedVersion, respondent: Respondent, rng: random.Random
) -> dict[str, str]:
    deciding = {key: audience.question for key, audience in published.audiences.items()}
    flags = {
        "supervisors": respondent.supervisor,
        "team_managers": respondent.team_manager,
        "new_in_post": respondent.new_in_post,
        "newly_qualified": respondent.new_in_post and respondent.role == "social_worker",
    }
    forced = {
        deciding[key]: "yes" if flag else "no" for key, flag in flags.items() if key in deciding
    }
    numbers = {question.number: question for question in published.questions}
    forced[numbers["4a"].key] = "yes" if respondent.has_agreement else "no"
    third_party = numbers["11m"]
    excluded = [o.code for o in third_party.options if o.excluded_from_base]
    if not respondent.answers_third_party and excluded:
        forced[third_party.key] = excluded[0]
    elif excluded:
        counted = [o.code for o in third_party.options if not o.excluded_from_base]
        forced[third_party.key] = rng.choice(counted)
    return forced


def _choose(question: ResolvedQuestion, climate: float, rng: random.Random) -> str:
    counted = [option for option in question.options if not option.excluded_from_base]
    excluded = [option for option in question.options if option.excluded_from_base]
    if excluded and rng.random() < 0.05:
        return rng.choice(excluded).code
    positive = [option for option in counted if option.positive]
    other = [option for option in counted if not option.positive]
    pool = counted
    if positive and other:
        pool = positive if rng.random() < climate else other
    weights = [len(pool) - index for index in range(len(pool))]
    return rng.choices(pool, weights=weights)[0].code
