"""Reports: database counts in, `analysis` in the middle, labelled tables out.

Every figure of a closed wave is read from its release (`app.releases`), where it was suppressed
once with every other figure of the wave, and passes through `for_readers` before anything here
labels it for a page, the API or a file. An open wave shows its response counts only.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Literal, cast

import pandas as pd
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.compare import OVERALL, against_overall, consistency, year_on_year
from analysis.disclosure import ALL, RemainderBelowThreshold, for_readers, refuse_small_remainder
from analysis.indicators import indicator_values
from analysis.profile import released_profile, response_profile
from analysis.results import breakdown, with_display
from app.fieldwork.progress import progress_counts
from app.models import Survey
from app.releases.service import RESPONDED, has_team_by_role, released_figures
from app.reports.inputs import linked_teams, options_frame, population
from app.responses.service import OpenedWave, load_wave, wave_state
from app.surveys.definitions import Indicator
from app.surveys.service import NotFound, get_survey

Breakdown = Literal["team", "role", "team,role", "overall"]


class ResultsNotReleased(Exception):
    """A wave's answers are not reported while it is open: only its response counts are."""


class ViewRefused(Exception):
    """A filtered view that would show, or let a reader work out, figures for a group under
    the threshold: refused whole, with one message whichever group is too small."""


def response_rates(
    *,
    session: Session,
    survey_key: str,
    wave_key: str,
    by: Literal["team", "role"] = "team",
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Responses, headcount, response rate and "1 person =" per team (or role grouping), and
    the total, rounded as the survey's reports round them."""
    wave = load_wave(session=session, survey_key=survey_key, wave_key=wave_key)
    return keyed_response_rates(session, wave, by, today or dt.date.today()).drop(columns="key")


def keyed_response_rates(
    session: Session, wave: OpenedWave, by: Literal["team", "role"], today: dt.date
) -> pd.DataFrame:
    """`response_rates` with each group's `key` (`ALL` for the total) in front: a closed
    wave's from its release, an open wave's as counted at the start of the day."""
    decimals = wave.published.definition.one_person_decimals
    people = population(session=session, wave=wave)
    keys = list(people.teams["team"] if by == "team" else people.roles["role"])
    names = list(people.teams["name"] if by == "team" else people.roles["name"])
    headcounts = people.teams["headcount"].astype("int64").tolist()
    if wave_state(wave, today) == "closed":
        released = _respondents(session, wave)
        margin = released[released["role" if by == "team" else "team"] == ALL]
        table = margin.set_index(by).reindex([*keys, ALL]).reset_index(drop=True)
        table.insert(0, "group", [*names, ALL])
        if by == "team":
            table["headcount"] = [*headcounts, sum(headcounts)]
        profile = released_profile(
            table.drop(columns=["team" if by == "role" else "role"]), one_person_decimals=decimals
        )
    else:
        _, counts = progress_counts(session=session, wave_id=wave.id, today=today)
        per_group = counts.groupby(by)["respondents"].sum()
        groups = pd.DataFrame(
            {
                "group": names,
                "respondents": pd.Series(keys).map(per_group).fillna(0).astype("int64"),
            }
        )
        if by == "team":
            groups["headcount"] = headcounts
        profile = response_profile(
            groups,
            one_person_decimals=decimals,
            k=wave.suppression_threshold,
            total_under_k_shown=True,
        )
    profile = for_readers(profile)
    profile.insert(0, "key", [*keys, ALL])
    return profile


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
    """Every breakdown's figures for the wave's questions (or the ones named), from its
    release: one consistent pattern whatever breakdown is then shown."""
    options = options_frame(wave)
    wanted = list(dict.fromkeys(options["question"])) if questions is None else questions
    unknown = set(wanted) - set(options["question"])
    if unknown:
        raise NotFound(f"version {wave.published.version_key} has no question {sorted(unknown)}")
    figures = released_figures(session=session, wave=wave)
    rows = figures[figures["question"].isin(set(wanted))].merge(
        options[["question", "option", "label", "position", "positive"]],
        on=["question", "option"],
        how="left",
    )
    rows["positive"] = rows["positive"].astype(bool)
    order = {question: i for i, question in enumerate(wanted)}
    rows = rows.assign(question_order=rows["question"].map(order)).sort_values(
        ["question_order", "ordinal"], ignore_index=True
    )
    base = rows["base"].astype("Float64").mask(rows["base"] == 0)
    rows["share"] = rows["count"].astype("Float64") / base
    rows["positive_share"] = rows["positive_count"].astype("Float64") / base
    return rows[
        [
            *("question", "team", "role", "option", "label", "position", "positive"),
            *("count", "base", "share", "positive_count", "positive_share"),
            *("withheld", "reason", "banded", "band", "positive_band"),
        ]
    ]


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
    if by == "team,role" and not has_team_by_role(session, wave):
        raise NotFound(
            f"Wave {wave.key}'s results have no team × role grouping figures: the survey owner "
            "left that breakdown off. Ask by team or by role grouping."
        )
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
    for members in linked_teams(people.teams).values():
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
    section: str | None = None,
    team: str | None = None,
    role: str | None = None,
    today: dt.date | None = None,
) -> pd.DataFrame:
    """Each question the later wave continues, per team (split teams as the union of their
    successors against their predecessor), with the change and its significance.

    `question` or `section` (a section key of the later wave) narrow the questions. `team` (a
    group's key in the later wave, or in the earlier one for a team that ended) and `role` (a
    role grouping of both waves) filter the people: the result then holds that one group only,
    taken from the same suppressed wave results as every other view, and a group whose own
    count is withheld, or whose complement beside a shown total is too small, is refused
    (`ViewRefused`). Role groupings have no headcount, so a role view is tested without the
    finite population correction.
    """
    today = today or dt.date.today()
    before = released_wave(session=session, survey_key=survey_key, wave_key=from_wave, today=today)
    after = released_wave(session=session, survey_key=survey_key, wave_key=to_wave, today=today)
    pairs = _pairs(before, after)
    if question is not None:
        pairs = pairs[pairs["question_after"] == _question_key(after, question)]
    if section is not None:
        pairs = pairs[pairs["question_after"].isin(_section_questions(after, section))]
    if role is not None:
        _check_role(role, before, after, session=session)
    if team is not None and role is not None:
        shown = [w.key for w in (before, after) if not has_team_by_role(session, w)]
        if shown:
            raise ViewRefused(
                f"Wave {shown[0]}'s results show teams and role groupings, not each team's role "
                "groupings: choose a team, or a role grouping, not both."
            )
    compared = _compare(session, before, after, pairs, role=role)
    if team is not None:
        compared = _one_group(compared, team)
    elif role is not None:
        compared = compared[compared["lineage"] == OVERALL]
    if team is not None or role is not None:
        for wave, side in ((before, "team_before"), (after, "team_after")):
            keys = compared[side].dropna().unique()
            if len(keys):
                _refuse_small_view(session, wave, team=str(keys[0]) if team else None, role=role)
    if role is not None:
        name = _role_names(session, after)[role]
        compared = compared.assign(group=compared["group"] + ", " + name)
    numbers = {key: q.number for key, q in after.published.by_key.items()}
    compared.insert(0, "number", compared["question_after"].map(numbers))
    compared.insert(0, "waves", f"{before.key} to {after.key}")
    return for_readers(compared.reset_index(drop=True))


def _compare(
    session: Session,
    before: OpenedWave,
    after: OpenedWave,
    pairs: pd.DataFrame,
    *,
    role: str | None,
) -> pd.DataFrame:
    """Every group's comparison, over the whole population or one role grouping's share of it."""
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
    results_before = wave_results(
        session=session, wave=before, questions=list(pairs["question_before"])
    )
    results_after = wave_results(
        session=session, wave=after, questions=list(pairs["question_after"])
    )
    teams_before, teams_after = people_before.teams, people_after.teams
    linked_before, linked_after = linked_teams(teams_before), linked_teams(teams_after)
    if role is not None:
        # One role grouping's rows, as if they were the whole wave: its teams are the team ×
        # role cells, suppressed with everything else. Unions of its teams are added up only
        # where every member is shown.
        results_before, results_after = (
            results.loc[results["role"] == role].assign(role=ALL)
            for results in (results_before, results_after)
        )
        teams_before, teams_after = (
            teams.assign(headcount=pd.array([pd.NA] * len(teams), dtype="Int64"))
            for teams in (teams_before, teams_after)
        )
        linked_before, linked_after = {}, {}
        if not (results_before["team"] != ALL).any() or not (results_after["team"] != ALL).any():
            lineage = None  # no team × role cells: the role grouping as a whole only
    return year_on_year(
        results_before,
        results_after,
        pairs=pairs,
        headcounts_before=teams_before,
        headcounts_after=teams_after,
        k=max(before.suppression_threshold, after.suppression_threshold),
        lineage=lineage,
        linked_before=linked_before,
        linked_after=linked_after,
    )


def _one_group(compared: pd.DataFrame, team: str) -> pd.DataFrame:
    """The rows of the group a team key names: its own, its union with the teams it was split
    into, or (for a team that ended) its last."""
    later = compared["team_after"] == team
    ended = compared["team_after"].isna() & (compared["team_before"] == team)
    member = compared["team_after"].fillna("").str.split("+").map(lambda keys: team in keys)
    for rows in (later, ended, member & (compared["lineage"] != OVERALL)):
        if rows.any():
            return compared[rows]
    raise NotFound(f"no team {team!r} in this comparison")


def _section_questions(wave: OpenedWave, section: str) -> list[str]:
    keys = [q.key for q in wave.published.questions if q.section == section]
    if not keys:
        raise NotFound(f"version {wave.published.version_key} has no section {section!r}")
    return keys


def _role_names(session: Session, wave: OpenedWave) -> dict[str, str]:
    roles = population(session=session, wave=wave).roles
    return dict(zip(roles["role"], roles["name"], strict=True))


def _check_role(role: str, *waves: OpenedWave, session: Session) -> None:
    for wave in waves:
        if role not in _role_names(session, wave):
            raise NotFound(f"wave {wave.key} has no role grouping {role!r}")


def _refuse_small_view(
    session: Session, wave: OpenedWave, *, team: str | None, role: str | None
) -> None:
    """Refuse a view whose group's number of respondents is withheld, or whose remainder is
    a group of 1 to k - 1 beside any shown total it is part of: the wave, and for a team ×
    role view the team and the role grouping too. Only released numbers are read: a view is
    refused whenever one of them is withheld."""
    k = wave.suppression_threshold
    counts = _respondents(session, wave).set_index(["team", "role"])
    view = (team or ALL, role or ALL)
    totals = [(ALL, ALL)] + ([(team, ALL), (ALL, role)] if team and role else [])
    needed = [view, *totals]
    refused = any(group not in counts.index or counts.loc[group, "withheld"] for group in needed)
    if not refused:
        try:
            for total in totals:
                refuse_small_remainder(
                    view_respondents=cast(int, counts.loc[view, "respondents"]),
                    wave_respondents=cast(int, counts.loc[total, "respondents"]),
                    k=k,
                )
        except RemainderBelowThreshold:
            refused = True
    if refused:
        raise ViewRefused(
            f"This view is not shown: in {wave.key} it would show, or let someone work out, "
            f"figures for a group of fewer than {k} people. Choose a larger group."
        )


def _respondents(session: Session, wave: OpenedWave) -> pd.DataFrame:
    """How many responded in every group of the wave, from its release: `team`, `role`,
    `respondents` (NA where withheld), `withheld` and `reason`."""
    figures = released_figures(session=session, wave=wave)
    rows = figures.loc[figures["question"] == RESPONDED]
    return (
        rows[["team", "role", "count", "withheld", "reason"]]
        .rename(columns={"count": "respondents"})
        .reset_index(drop=True)
    )


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
    *,
    session: Session,
    survey_key: str,
    wave_key: str,
    today: dt.date,
    question: str | None = None,
    team: str | None = None,
) -> pd.DataFrame:
    """Each team (or the one named: a team's key, or a split team's successors' joined with
    "+") against the rest of its wave, question by question ("Report 1")."""
    wave = released_wave(session=session, survey_key=survey_key, wave_key=wave_key, today=today)
    questions = None if question is None else [_question_key(wave, question)]
    people = population(session=session, wave=wave)
    compared = against_overall(
        wave_results(session=session, wave=wave, questions=questions),
        headcounts=people.teams,
        k=wave.suppression_threshold,
        linked_teams=linked_teams(people.teams),
    )
    if team is not None:
        compared = compared[compared["team"] == team]
        if compared.empty:
            raise NotFound(f"wave {wave.key} has no team {team!r}")
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
        linked_teams=linked_teams(people.teams),
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
    tables = {}
    for wave in closed:
        asked = [q for q in indicators["question"] if q in wave.published.by_key]
        # A wave that asked none of them has no rows: each indicator reads "not asked" there.
        tables[wave.key] = (
            wave_results(session=session, wave=wave, questions=asked)
            if asked
            else pd.DataFrame(columns=["question", "team", "role"])
        )
    return for_readers(indicator_values(indicators, tables))


class WaveOutline(BaseModel):
    key: str
    version: str
    state: str
    """"open", "not_open" or "closed" (`wave_state`): only a closed wave's results are shown."""
    opens_on: dt.date
    closes_on: dt.date


class QuestionOutline(BaseModel):
    key: str
    number: str
    text: str
    stem: str | None
    """A grid item's shared heading ("Do you and your supervisor ..."), else None."""
    short_title: str | None
    has_positive: bool
    """Whether any option counts as positive: only then is there a positive share."""


class SectionOutline(BaseModel):
    key: str
    title: str
    questions: list[QuestionOutline]


class Comparison(BaseModel):
    from_wave: str
    to_wave: str


class SurveyOutline(BaseModel):
    """What a survey's results pages are laid out by: its waves, which of them can be
    compared, and each version's sections. No figures."""

    key: str
    title: str
    waves: list[WaveOutline]
    comparisons: list[Comparison]
    """Consecutive closed waves whose later one continues the earlier, oldest first."""
    sections: dict[str, list[SectionOutline]]
    """Each version's sections, by version key."""


def survey_outlines(*, session: Session, today: dt.date) -> list[SurveyOutline]:
    keys = session.scalars(select(Survey.key).order_by(Survey.key)).all()
    return [survey_outline(session=session, survey_key=key, today=today) for key in keys]


def survey_outline(*, session: Session, survey_key: str, today: dt.date) -> SurveyOutline:
    survey = get_survey(session=session, survey_key=survey_key)
    waves = _waves(session, survey_key)
    closed = [wave for wave in waves if wave_state(wave, today) == "closed"]
    sections: dict[str, list[SectionOutline]] = {}
    for wave in waves:
        published = wave.published
        by_section: dict[str, SectionOutline] = {}
        for q in published.questions:
            if not q.options:
                continue
            outline = by_section.setdefault(
                q.section, SectionOutline(key=q.section, title=q.section_title, questions=[])
            )
            outline.questions.append(
                QuestionOutline(
                    key=q.key,
                    number=q.number,
                    text=q.text,
                    stem=q.stem if q.grid else None,
                    short_title=q.short_title,
                    has_positive=any(option.positive for option in q.options),
                )
            )
        sections[published.version_key] = list(by_section.values())
    return SurveyOutline(
        key=survey.key,
        title=survey.title,
        waves=[
            WaveOutline(
                key=wave.key,
                version=wave.published.version_key,
                state=wave_state(wave, today),
                opens_on=wave.opens_on,
                closes_on=wave.closes_on,
            )
            for wave in waves
        ],
        comparisons=[
            Comparison(from_wave=before.key, to_wave=after.key)
            for before, after in itertools.pairwise(closed)
            if _continues(before, after)
        ],
        sections=sections,
    )


def _waves(session: Session, survey_key: str) -> list[OpenedWave]:
    survey = get_survey(session=session, survey_key=survey_key)
    return [
        load_wave(session=session, survey_key=survey_key, wave_key=wave.key)
        for wave in survey.waves
    ]


def _continues(before: OpenedWave, after: OpenedWave) -> bool:
    """Whether the later wave's questions and teams are the earlier's, or continue them."""
    same = before.published.version_id == after.published.version_id
    return same or after.published.definition.previous_version == before.published.version_key


class ComparisonFilters(BaseModel):
    """Who a year-on-year view can be narrowed to: (key, name) pairs."""

    teams: list[tuple[str, str]]
    """The comparison's groups: teams, and a split team's successors together."""
    roles: list[tuple[str, str]]
    """Role groupings of both waves."""


def comparison_filters(
    *, session: Session, survey_key: str, from_wave: str, to_wave: str, today: dt.date
) -> ComparisonFilters:
    before = released_wave(session=session, survey_key=survey_key, wave_key=from_wave, today=today)
    after = released_wave(session=session, survey_key=survey_key, wave_key=to_wave, today=today)
    groups = _compare(session, before, after, _pairs(before, after).iloc[:1], role=None)
    groups = groups[groups["lineage"] != OVERALL].drop_duplicates("group")
    roles_before = _role_names(session, before)
    return ComparisonFilters(
        teams=[
            (str(after_key) if pd.notna(after_key) else str(before_key), str(group))
            for after_key, before_key, group in zip(
                groups["team_after"], groups["team_before"], groups["group"], strict=True
            )
        ],
        roles=[
            (key, name) for key, name in _role_names(session, after).items() if key in roles_before
        ],
    )


class TeamRef(BaseModel):
    wave: str
    key: str
    name: str


class TeamLineage(BaseModel):
    """A team of one wave, and what it was and became in the waves either side, when that is
    not simply itself (a split, a merger, a team new or gone)."""

    wave: str
    key: str
    """The team's key, or its members' joined with "+" for a split team's successors."""
    name: str
    linked: bool
    """The successors of a split team, shown together beside their predecessor."""
    came_from: list[TeamRef]
    went_to: list[TeamRef]
    split_with: list[TeamRef]
    """Other teams of this wave that came from the same team: the rest of a split."""


def team_lineages(*, session: Session, survey_key: str, wave_key: str) -> list[TeamLineage]:
    """Every team of the wave, then each split team's successors together."""
    lineages = _lineages(session, _waves(session, survey_key))
    if wave_key not in lineages:
        raise NotFound(f"survey {survey_key!r} has no wave {wave_key!r}")
    return lineages[wave_key]


def _lineages(session: Session, waves: list[OpenedWave]) -> dict[str, list[TeamLineage]]:
    """`team_lineages` of every wave given, each against the waves next to it in the list."""
    teams = [population(session=session, wave=wave).teams for wave in waves]
    came = [
        _came_from(wave, waves[i - 1] if i else None, teams[i - 1] if i else None, teams[i])
        for i, wave in enumerate(waves)
    ]
    names = [dict(zip(frame["team"], frame["name"], strict=True)) for frame in teams]

    def refs(i: int, keys: list[str]) -> list[TeamRef]:
        return [TeamRef(wave=waves[i].key, key=key, name=names[i][key]) for key in keys]

    def lineage(i: int, members: list[str], linked: bool) -> TeamLineage:
        before = list(dict.fromkeys(key for m in members for key in came[i][m]))
        after = []
        if i + 1 < len(waves):
            after = [team for team, keys in came[i + 1].items() if set(keys) & set(members)]
        changed = i > 0 and before != members
        siblings = [
            team
            for team, keys in came[i].items()
            if changed and team not in members and set(keys) & set(before)
        ]
        return TeamLineage(
            wave=waves[i].key,
            key="+".join(members),
            name=" + ".join(names[i][m] for m in members),
            linked=linked,
            came_from=refs(i - 1, before) if changed else [],
            went_to=[] if i + 1 == len(waves) or after == members else refs(i + 1, after),
            split_with=refs(i, siblings),
        )

    return {
        wave.key: [lineage(i, [team], False) for team in teams[i]["team"]]
        + [lineage(i, members, True) for members in linked_teams(teams[i]).values()]
        for i, wave in enumerate(waves)
    }


def _came_from(
    wave: OpenedWave,
    previous: OpenedWave | None,
    previous_teams: pd.DataFrame | None,
    teams: pd.DataFrame,
) -> dict[str, list[str]]:
    """Each team's keys in the previous wave: itself if it was there, else its stated
    predecessors (when the version continues the previous wave's), else none."""
    if previous is None or previous_teams is None or not _continues(previous, wave):
        return {str(team): [] for team in teams["team"]}
    there = set(previous_teams["team"])
    same = previous.published.version_id == wave.published.version_id
    return {
        str(team): ([] if same else list(predecessors)) or ([team] if team in there else [])
        for team, predecessors in zip(teams["team"], teams["predecessors"], strict=True)
    }


def response_profile_by_wave(*, session: Session, survey_key: str, today: dt.date) -> pd.DataFrame:
    """Every opened wave's response profile by team, as `response_rates` gives it, one row
    per team and wave: a team in every wave it is in, a split or merged team beside what it
    became, the totals last. Adds `team` (key), `wave`, `state`, `came_from` and `went_to`
    (names, as in `team_lineages`)."""
    waves = [wave for wave in _waves(session, survey_key) if wave_state(wave, today) != "not_open"]
    lineages = _lineages(session, waves)
    frames = []
    order: list[str] = []
    for wave in reversed(waves):
        by_key = {team.key: team for team in lineages[wave.key]}
        rates = keyed_response_rates(session, wave, "team", today).rename(columns={"key": "team"})
        rates.insert(1, "wave", wave.key)
        rates.insert(2, "state", wave_state(wave, today))
        rates["came_from"] = [
            [t.name for t in by_key[key].came_from] if key in by_key else []
            for key in rates["team"]
        ]
        rates["went_to"] = [
            [t.name for t in by_key[key].went_to] if key in by_key else [] for key in rates["team"]
        ]
        frames.append(rates)
        for key in rates["team"]:
            if key not in order:
                successors = [t.key for t in by_key[key].went_to] if key in by_key else []
                later = [order.index(s) for s in successors if s in order]
                order.insert(min(later) if later else len(order), key)
    if not frames:
        return pd.DataFrame()
    order.remove(ALL)
    rank = {key: i for i, key in enumerate([*order, ALL])}
    wave_rank = {wave.key: i for i, wave in enumerate(waves)}
    profile = pd.concat(frames, ignore_index=True)
    return profile.sort_values(
        by=["team", "wave"],
        key=lambda column: column.map(rank if column.name == "team" else wave_rank),
        kind="stable",
        ignore_index=True,
    )
