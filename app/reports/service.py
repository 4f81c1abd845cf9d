"""Reports: database counts in, `analysis` in the middle, labelled tables out.

Every figure passes through `analysis.disclosure.suppress`, once per wave and question over every
breakdown a user can ask for, and then `for_readers`, before anything here labels it for a page,
the API or a file.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from threading import Lock
from typing import Literal

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analysis.compare import against_overall, consistency, year_on_year
from analysis.disclosure import ALL, for_readers, suppress
from analysis.indicators import indicator_values
from analysis.profile import response_profile
from analysis.results import breakdown, tabulate, with_display
from app.models import Response
from app.reports.counts import answer_counts, respondent_counts
from app.reports.inputs import options_frame, population, successor_groups
from app.responses.service import OpenedWave, load_wave, wave_state
from app.surveys.definitions import Indicator
from app.surveys.service import NotFound, get_survey

Breakdown = Literal["team", "role", "team,role", "overall"]


class ResultsNotReleased(Exception):
    """A wave's answers are not reported while it is open: only its response counts are."""


def response_rates(
    *, session: Session, survey_key: str, wave_key: str, by: Literal["team", "role"] = "team"
) -> pd.DataFrame:
    """Responses, headcount, response rate and "1 person =" per team (or role grouping), and
    the total, rounded as the survey's reports round them."""
    wave = load_wave(session=session, survey_key=survey_key, wave_key=wave_key)
    definition = wave.published.definition
    counts = respondent_counts(session=session, wave_id=wave.id)
    people = population(session=session, wave=wave)
    per_team = counts.groupby("team")["respondents"].sum()
    if by == "team":
        groups = pd.DataFrame(
            {
                "group": people.teams["name"],
                "respondents": people.teams["team"].map(per_team).fillna(0).astype("int64"),
                "headcount": people.teams["headcount"].astype("int64"),
            }
        )
    else:
        per_role = counts.groupby("role")["respondents"].sum()
        groups = pd.DataFrame(
            {
                "group": people.roles["name"],
                "respondents": people.roles["role"].map(per_role).fillna(0).astype("int64"),
            }
        )
    return for_readers(
        response_profile(
            groups,
            one_person_decimals=definition.one_person_decimals,
            k=wave.suppression_threshold,
        )
    )


def released_wave(
    *, session: Session, survey_key: str, wave_key: str, today: dt.date
) -> OpenedWave:
    wave = load_wave(session=session, survey_key=survey_key, wave_key=wave_key)
    if wave_state(wave, today) != "closed":
        raise ResultsNotReleased(
            f"Wave {wave.key} is still open (it closes on {wave.closes_on:%-d %B %Y}): its "
            "results are not shown until it closes, only how many have responded."
        )
    return wave


def wave_results(
    *, session: Session, wave: OpenedWave, questions: list[str] | None = None
) -> pd.DataFrame:
    """Every breakdown's figures for the wave's questions (or the ones named), suppressed
    together: one consistent pattern whatever breakdown is then shown.

    A closed wave's answers cannot change, and suppressing a sparse wave is the costly step, so
    each question's result is kept (keyed by the wave's state and its number of responses).
    """
    options = options_frame(wave)
    wanted = list(dict.fromkeys(options["question"])) if questions is None else questions
    unknown = set(wanted) - set(options["question"])
    if unknown:
        raise NotFound(f"version {wave.published.version_key} has no question {sorted(unknown)}")
    stamp = _wave_stamp(session, wave)
    missing = [q for q in wanted if (stamp, q) not in _RESULTS]
    if missing:
        fresh = _suppressed(session, wave, options[options["question"].isin(missing)])
        for question, rows in fresh.groupby("question", sort=False):
            _RESULTS.put((stamp, str(question)), rows)
    return pd.concat([_RESULTS.get((stamp, q)) for q in wanted], ignore_index=True)


def _suppressed(session: Session, wave: OpenedWave, options: pd.DataFrame) -> pd.DataFrame:
    answers = answer_counts(session=session, wave_id=wave.id)
    answers = answers[answers["question"].isin(set(options["question"]))]
    people = population(session=session, wave=wave)
    linked = _linked_teams(people.teams)
    table = tabulate(
        answers,
        options,
        teams=list(people.teams["team"]),
        roles=list(people.roles["role"]),
        linked_teams=linked,
    )
    return suppress(
        table,
        k=wave.suppression_threshold,
        linked_teams=linked,
        band_under_2k=wave.published.definition.band_small_groups,
    )


def _wave_stamp(session: Session, wave: OpenedWave) -> tuple[object, ...]:
    """What a wave's results depend on: which database, wave and version, its state, and how
    many responses it holds."""
    responses = session.scalar(
        select(func.count()).select_from(Response).where(Response.wave_id == wave.id)
    )
    return (
        session.get_bind(),
        wave.id,
        wave.published.version_id,
        wave.status,
        wave.closes_on,
        wave.suppression_threshold,
        responses,
    )


class _ResultsCache:
    """The most recently used questions' suppressed results, a few waves' worth."""

    def __init__(self, size: int = 2000) -> None:
        self._entries: OrderedDict[tuple[object, ...], pd.DataFrame] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def __contains__(self, key: tuple[object, ...]) -> bool:
        with self._lock:
            return key in self._entries

    def get(self, key: tuple[object, ...]) -> pd.DataFrame:
        with self._lock:
            self._entries.move_to_end(key)
            return self._entries[key]

    def put(self, key: tuple[object, ...], rows: pd.DataFrame) -> None:
        with self._lock:
            self._entries[key] = rows
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_RESULTS = _ResultsCache()


def clear_results_cache() -> None:
    """For benchmarks that time the work, not the cache."""
    _RESULTS.clear()


def _linked_teams(teams: pd.DataFrame) -> dict[str, list[str]]:
    return {"+".join(members): members for members in successor_groups(teams).values()}


def question_report(
    *,
    session: Session,
    survey_key: str,
    wave_key: str,
    question: str,
    by: Breakdown,
    today: dt.date,
) -> pd.DataFrame:
    """One question's results for one breakdown, labelled for people."""
    wave = released_wave(session=session, survey_key=survey_key, wave_key=wave_key, today=today)
    key = _question_key(wave, question)
    suppressed = wave_results(session=session, wave=wave, questions=[key])
    groups = [] if by == "overall" else by.split(",")
    shown = with_display(
        breakdown(suppressed, groups), decimals=wave.published.definition.one_person_decimals
    )
    return label(for_readers(shown), wave=wave, session=session)


def _question_key(wave: OpenedWave, question: str) -> str:
    """A question named by its key or its printed number ("4a")."""
    by_number = {q.number.lower(): q.key for q in wave.published.questions}
    key = by_number.get(question.lower(), question)
    if key not in wave.published.by_key:
        raise NotFound(f"version {wave.published.version_key} has no question {question!r}")
    return key


def label(frame: pd.DataFrame, *, wave: OpenedWave, session: Session) -> pd.DataFrame:
    """Names for people in place of keys: team, role grouping, question number and text."""
    people = population(session=session, wave=wave)
    teams = dict(zip(people.teams["team"], people.teams["name"], strict=True))
    for members in _linked_teams(people.teams).values():
        teams["+".join(members)] = " + ".join(teams[m] for m in members)
    roles = dict(zip(people.roles["role"], people.roles["name"], strict=True))
    questions = wave.published.by_key
    labelled = frame.copy()
    labelled.insert(0, "wave", wave.key)
    labelled["number"] = labelled["question"].map(lambda key: questions[key].number)
    labelled["team"] = labelled["team"].map(lambda key: "All teams" if key == ALL else teams[key])
    labelled["role"] = labelled["role"].map(
        lambda key: "All role groupings" if key == ALL else roles[key]
    )
    return labelled


def year_on_year_report(
    *,
    session: Session,
    survey_key: str,
    from_wave: str,
    to_wave: str,
    by: Literal["team"] = "team",
    question: str | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Each question the later wave continues, per team (split teams as the union of their
    successors against their predecessor), with the change and its significance."""
    today = today or dt.date.today()
    before = released_wave(session=session, survey_key=survey_key, wave_key=from_wave, today=today)
    after = released_wave(session=session, survey_key=survey_key, wave_key=to_wave, today=today)
    pairs = _pairs(before, after)
    if question is not None:
        pairs = pairs[pairs["question_after"] == _question_key(after, question)]
    people_before = population(session=session, wave=before)
    people_after = population(session=session, wave=after)
    lineage = None
    if after.published.definition.previous_version == before.published.version_key:
        lineage = (
            people_after.teams[["team", "predecessors"]]
            .explode("predecessors")
            .dropna()
            .rename(columns={"team": "team_after", "predecessors": "team_before"})
        )
    compared = year_on_year(
        wave_results(session=session, wave=before, questions=list(pairs["question_before"])),
        wave_results(session=session, wave=after, questions=list(pairs["question_after"])),
        pairs=pairs,
        headcounts_before=people_before.teams,
        headcounts_after=people_after.teams,
        k=max(
            before.suppression_threshold,
            after.suppression_threshold,
        ),
        lineage=lineage,
        linked_before=_linked_teams(people_before.teams),
        linked_after=_linked_teams(people_after.teams),
    )
    numbers = {key: q.number for key, q in after.published.by_key.items()}
    compared.insert(0, "number", compared["question_after"].map(numbers))
    compared.insert(0, "waves", f"{before.key} to {after.key}")
    return for_readers(compared)


def _pairs(before: OpenedWave, after: OpenedWave) -> pd.DataFrame:
    """Questions of the later wave and the earlier questions they continue."""
    rows: list[tuple[str, str, str, str | None]]
    if before.published.version_key == after.published.version_key:
        rows = [(q.key, q.key, "comparable", None) for q in after.published.questions if q.options]
    elif after.published.definition.previous_version == before.published.version_key:
        rows = [
            (q.continues.question, q.key, q.continues.comparability.value, q.continues.note)
            for q in after.published.questions
            if q.continues is not None and q.options
        ]
    else:
        raise NotFound(
            f"wave {after.key} (version {after.published.version_key}) does not continue wave "
            f"{before.key} (version {before.published.version_key}): compare consecutive versions"
        )
    return pd.DataFrame(
        rows, columns=["question_before", "question_after", "comparability", "note"]
    )


def team_report(
    *, session: Session, survey_key: str, wave_key: str, today: dt.date, question: str | None
) -> pd.DataFrame:
    """Each team against the rest of its wave, question by question ("Report 1")."""
    wave = released_wave(session=session, survey_key=survey_key, wave_key=wave_key, today=today)
    questions = None if question is None else [_question_key(wave, question)]
    people = population(session=session, wave=wave)
    compared = against_overall(
        wave_results(session=session, wave=wave, questions=questions),
        headcounts=people.teams,
        k=wave.suppression_threshold,
        linked_teams=_linked_teams(people.teams),
    )
    compared.insert(
        0, "number", compared["question"].map(lambda k: wave.published.by_key[k].number)
    )
    return for_readers(compared)


def consistency_report(
    *, session: Session, survey_key: str, wave_key: str, today: dt.date
) -> pd.DataFrame:
    """Per question, how far apart the teams are, and how many differ from the rest."""
    wave = released_wave(session=session, survey_key=survey_key, wave_key=wave_key, today=today)
    people = population(session=session, wave=wave)
    spread = consistency(
        wave_results(session=session, wave=wave),
        headcounts=people.teams,
        k=wave.suppression_threshold,
        linked_teams=_linked_teams(people.teams),
    )
    spread.insert(0, "number", spread["question"].map(lambda k: wave.published.by_key[k].number))
    return spread


def indicators_report(*, session: Session, survey_key: str, today: dt.date) -> pd.DataFrame:
    """Every indicator any version defines, in every closed wave, against its target."""
    survey = get_survey(session=session, survey_key=survey_key)
    waves = [
        load_wave(session=session, survey_key=survey_key, wave_key=wave.key)
        for wave in survey.waves
    ]
    closed = [wave for wave in waves if wave_state(wave, today) == "closed"]
    defined: dict[str, Indicator] = {}
    for wave in closed:
        for indicator in wave.published.definition.indicators:
            defined[indicator.key] = indicator
    indicators = pd.DataFrame(
        [
            {
                "indicator": i.key,
                "title": i.title,
                "question": i.question,
                "target_pct": i.target_pct,
                "source": i.source,
            }
            for i in defined.values()
        ],
        columns=["indicator", "title", "question", "target_pct", "source"],
    )
    tables = {
        wave.key: wave_results(
            session=session,
            wave=wave,
            questions=[q for q in indicators["question"] if q in wave.published.by_key],
        )
        for wave in closed
    }
    return for_readers(indicator_values(indicators, tables))
