"""A closed wave's release: built once from the database's counts, suppressed as one linked
table, audited, stored, and from then on the only source of the wave's figures.

Every channel (API, pages, exports, printable report, CLI) reads `released_figures`; nothing
here is worked out again for a reader. A release never changes: releasing again stores a new
one, which withholds at least what the last one did, so readers holding both learn nothing more.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Hashable
from dataclasses import dataclass, field, replace

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from analysis.disclosure import ALL, Links, TookTooLong, audit, suppress
from analysis.results import tabulate
from app.accounts.models import User
from app.admin.audit import AuditAction, record
from app.cache import FrozenCache
from app.models import Headcount
from app.releases.models import Release, ReleaseFigure
from app.reports.counts import answer_counts, respondent_counts
from app.reports.inputs import linked_teams, options_frame, population
from app.responses.service import OpenedWave
from app.surveys.definitions import QuestionType, condition_questions
from app.surveys.service import PublishedVersion

RESPONDED = "#responded"
"""The release's pseudo question whose one option counts each group's respondents (never a
question key: keys are plain)."""

STORED = ("ordinal", "count", "base", "positive_count", "withheld", "reason", "banded", "band")
KEYS = ("question", "team", "role", "option")


class ReleaseRefused(Exception):
    """A release that would show what an earlier one withheld, or that failed its audit."""


class BreakdownCost(BaseModel):
    breakdown: str
    """"overall", "team", "linked", "role", "team,role", or "respondents" (the profile)."""
    shown: int
    withheld_below_k: int
    withheld_as_complements: int


class ReleaseSummary(BaseModel):
    survey: str
    wave: str
    number: int | None
    """None for a dry run: nothing was stored."""
    threshold: int
    breakdowns: list[str]
    method: str
    audit: str
    content_hash: str
    cost: list[BreakdownCost]
    dropped: list[str] = []
    """Breakdowns the survey owner asked for that the release could not protect, and why."""


@dataclass(frozen=True)
class Built:
    figures: pd.DataFrame
    breakdowns: list[str]
    method: str
    audit: str
    cost: list[BreakdownCost]
    content_hash: str
    dropped: list[str] = field(default_factory=list)


def wave_links(published: PublishedVersion) -> Links:
    """Which of the version's questions share numbers: every question with the respondents,
    and a routed question (by its conditions and audiences) with the questions it reads."""
    routed_by: dict[str, list[str]] = {}
    for question in published.questions:
        reads = [published.audiences[key].question for key in question.applies_to]
        if question.show_if is not None:
            reads += condition_questions(question.show_if)
        if reads:
            routed_by[question.key] = list(dict.fromkeys(reads))
    everyone = [
        q.key
        for q in published.questions
        if q.required
        and not q.applies_to
        and q.show_if is None
        and q.type != QuestionType.multiple_choice
        and not any(option.excluded_from_base for option in q.options)
    ]
    several = [q.key for q in published.questions if q.type == QuestionType.multiple_choice]
    return Links(respondents=RESPONDED, routed_by=routed_by, everyone=everyone, several=several)


TEAM_BY_ROLE_TIME_LIMIT = 300.0
"""Seconds a release with team × role grouping figures may take to protect them; past that it
is made without them (and says so), rather than keep the survey owner waiting."""


def build(session: Session, wave: OpenedWave, *, withhold: pd.DataFrame | None = None) -> Built:
    """The wave's every figure, suppressed together and audited: what a release would hold."""
    if wave.team_role_breakdown:
        try:
            return _build(session, wave, withhold, team_by_role=True)
        except TookTooLong:
            built = _build(session, wave, withhold, team_by_role=False)
            return replace(
                built,
                dropped=[
                    f"team,role: not protected within {TEAM_BY_ROLE_TIME_LIMIT:.0f} s, so "
                    "released without it"
                ],
            )
    return _build(session, wave, withhold, team_by_role=False)


def _build(
    session: Session, wave: OpenedWave, withhold: pd.DataFrame | None, *, team_by_role: bool
) -> Built:
    people = population(session=session, wave=wave)
    linked = linked_teams(people.teams)
    respondents = respondent_counts(session=session, wave_id=wave.id).rename(
        columns={"respondents": "count"}
    )
    answers = pd.concat(
        [
            respondents.assign(question=RESPONDED, option=RESPONDED),
            answer_counts(session=session, wave_id=wave.id),
        ],
        ignore_index=True,
    )
    options = pd.concat([_responded_option(), options_frame(wave)], ignore_index=True)
    table = tabulate(
        answers,
        options,
        teams=list(people.teams["team"]),
        roles=list(people.roles["role"]),
        linked_teams=linked,
        team_by_role=team_by_role,
    )
    k = wave.suppression_threshold
    links = wave_links(wave.published)
    earlier = [] if withhold is None else list(withhold.itertuples(index=False, name=None))
    suppressed = suppress(
        table,
        k=k,
        linked_teams=linked,
        band_under_2k=wave.published.definition.band_small_groups,
        links=links,
        withhold=earlier,
        give_up_after=TEAM_BY_ROLE_TIME_LIMIT if team_by_role else None,
    )
    problems = audit(table, suppressed, k=k, linked_teams=linked, links=links)
    if problems:
        raise ReleaseRefused(
            "The release failed its audit and was not stored: " + "; ".join(problems[:5])
        )
    questions = table["question"].nunique()
    figures = suppressed.reset_index(drop=True).assign(ordinal=lambda f: range(len(f)))
    figures = figures[[*KEYS, *STORED, "positive_band"]]
    breakdowns = ["overall", "team", *(["linked"] if linked else []), "role"]
    if team_by_role:
        breakdowns.append("team,role")
    return Built(
        figures=figures,
        breakdowns=breakdowns,
        method=str(suppressed.attrs["suppression_method"]),
        audit=f"passed: maximum-flow attack on each of {questions} tables, links checked",
        cost=_cost(suppressed, set(linked)),
        content_hash=_content_hash(figures),
    )


def release(
    *,
    session: Session,
    wave: OpenedWave,
    actor: User | str | None,
    dry_run: bool = False,
) -> ReleaseSummary:
    """Build the wave's release and, unless `dry_run`, store it as its newest. `actor` None:
    released for the first reader of a wave closed by its date."""
    latest = _latest(session, wave.id)
    withhold = None
    if latest is not None:
        previous = _figures(session, latest)
        hidden = previous.loc[previous["withheld"], ["question", "team", "role"]]
        withhold = hidden.drop_duplicates()
    built = build(session, wave, withhold=withhold)
    if latest is not None:
        _refuse_showing_more(built.figures, withhold)
    number = None
    if not dry_run:
        number = _store(session, wave, built, number=1 if latest is None else latest.number + 1)
        if actor is not None:
            record(
                session=session,
                actor=actor,
                action=AuditAction.results_released,
                target=f"{wave.published.survey_key}/{wave.key}",
                release=number,
                content_hash=built.content_hash,
                method=built.method,
                replaces=None if latest is None else latest.number,
                dropped=built.dropped,
            )
    return ReleaseSummary(
        survey=wave.published.survey_key,
        wave=wave.key,
        number=number,
        threshold=wave.suppression_threshold,
        breakdowns=built.breakdowns,
        method=built.method,
        audit=built.audit,
        content_hash=built.content_hash,
        cost=built.cost,
        dropped=built.dropped,
    )


def released_figures(*, session: Session, wave: OpenedWave) -> pd.DataFrame:
    """The newest release's figures (`KEYS`, `STORED`, `positive_band`); a closed wave that
    has none yet (it closed by its date) is released now, once."""
    latest = _latest(session, wave.id)
    if latest is None:
        try:
            with session.begin_nested():
                release(session=session, wave=wave, actor=None)
        except IntegrityError:
            pass  # another worker released it first: read theirs
        latest = _latest(session, wave.id)
        assert latest is not None
    return _figures(session, latest)


def has_team_by_role(session: Session, wave: OpenedWave) -> bool:
    """Whether the wave's release shows team × role grouping figures."""
    return "team,role" in current_release(session, wave).breakdowns


def current_release(session: Session, wave: OpenedWave) -> Release:
    """The release readers see (made now, for a closed wave that has none yet)."""
    released_figures(session=session, wave=wave)
    latest = _latest(session, wave.id)
    assert latest is not None
    return latest


def release_fingerprint(session: Session, wave: OpenedWave) -> tuple[Hashable, ...]:
    """What every reader's view of a closed wave is made from, besides its frozen
    questionnaire: the release readers see, and the wave's headcounts (a correction changes
    the response rates at once). What is made from these alone may be kept by this key."""
    latest = current_release(session, wave)
    headcounts = session.execute(
        select(Headcount.team_id, Headcount.headcount)
        .where(Headcount.wave_id == wave.id)
        .order_by(Headcount.team_id)
    ).all()
    return (
        str(session.get_bind().engine.url),
        latest.id,
        latest.content_hash,
        tuple(tuple(row) for row in headcounts),
    )


def _latest(session: Session, wave_id: int) -> Release | None:
    return session.scalars(
        select(Release).where(Release.wave_id == wave_id).order_by(Release.number.desc()).limit(1)
    ).first()


def _store(session: Session, wave: OpenedWave, built: Built, *, number: int) -> int:
    row = Release(
        wave_id=wave.id,
        number=number,
        threshold=wave.suppression_threshold,
        breakdowns=built.breakdowns,
        method=built.method,
        released_at=dt.datetime.now(dt.UTC),
        content_hash=built.content_hash,
        audit=built.audit,
        cost=[cost.model_dump() for cost in built.cost],
    )
    session.add(row)
    session.flush()
    records = built.figures.astype(object).where(built.figures.notna(), None)
    session.execute(
        insert(ReleaseFigure),
        [
            {"release_id": row.id, **{str(k): v for k, v in values.items()}}
            for values in records.to_dict("records")
        ],
    )
    session.flush()
    return number


def _figures(session: Session, release: Release) -> pd.DataFrame:
    """A release's figures; kept in memory by release id, since a release never changes."""
    key = (str(session.get_bind().engine.url), release.id, release.content_hash)
    return _RELEASES.get_or_make(key, lambda: _read_figures(session, release))


def _read_figures(session: Session, release: Release) -> pd.DataFrame:
    columns = [getattr(ReleaseFigure, name) for name in (*KEYS, *STORED, "positive_band")]
    rows = session.execute(select(*columns).where(ReleaseFigure.release_id == release.id)).all()
    frame = pd.DataFrame(rows, columns=[*KEYS, *STORED, "positive_band"])
    frame = frame.sort_values("ordinal", ignore_index=True)
    for column in ("count", "base", "positive_count"):
        frame[column] = frame[column].astype("Int64")
    frame["withheld"] = frame["withheld"].astype(bool)
    frame["banded"] = frame["banded"].astype(bool)
    return frame


def _refuse_showing_more(figures: pd.DataFrame, earlier: pd.DataFrame | None) -> None:
    if earlier is None or earlier.empty:
        return
    shown = figures.loc[~figures["withheld"], ["question", "team", "role"]].drop_duplicates()
    again = shown.merge(earlier, on=["question", "team", "role"])
    if len(again):
        raise ReleaseRefused(
            f"The new release would show {len(again)} figures the current one withholds: "
            "readers holding both would learn them. Nothing was stored."
        )


def _cost(suppressed: pd.DataFrame, linked: set[str]) -> list[BreakdownCost]:
    """Per breakdown, the (question, group) figures shown, withheld below k, and withheld as
    complements; the respondents' profile on its own."""
    cells = suppressed.drop_duplicates(["question", "team", "role"])
    team, role = cells["team"], cells["role"]
    kind = pd.Series("team,role", index=cells.index)
    kind = kind.mask((team == ALL) & (role == ALL), "overall")
    kind = kind.mask((team != ALL) & (role == ALL), "team")
    kind = kind.mask(team.isin(linked) & (role == ALL), "linked")
    kind = kind.mask((team == ALL) & (role != ALL), "role")
    kind = kind.mask(cells["question"] == RESPONDED, "respondents")
    reason = cells["reason"].fillna("")
    costs = []
    for name in ("respondents", "overall", "team", "linked", "role", "team,role"):
        mine = kind == name
        if mine.any():
            costs.append(
                BreakdownCost(
                    breakdown=name,
                    shown=int((mine & ~cells["withheld"]).sum()),
                    withheld_below_k=int((mine & (reason == "below_threshold")).sum()),
                    withheld_as_complements=int((mine & (reason == "complementary")).sum()),
                )
            )
    return costs


def _content_hash(figures: pd.DataFrame) -> str:
    ordered = figures.sort_values(list(KEYS)).astype(str)
    return hashlib.sha256(ordered.to_csv(index=False).encode()).hexdigest()


def _responded_option() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "question": RESPONDED,
                "option": RESPONDED,
                "label": "Responded",
                "positive": False,
                "excluded_from_base": False,
                "position": 0,
            }
        ]
    )


_RELEASES: FrozenCache[pd.DataFrame] = FrozenCache(size=16)
