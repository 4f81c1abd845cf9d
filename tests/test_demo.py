"""`demo seed` reproduces Coventry's published response profile cell for cell."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_session_factory, transaction
from app.demo.seed import seed_demo
from app.models import Response, WaveStatus
from app.reports.counts import headcounts, question_respondent_counts, respondent_counts
from app.surveys.definitions import resolve_questions
from app.surveys.service import get_wave
from app.surveys.validation import load_definition
from tests.conftest import BACKENDS, COVENTRY_DIR, DATA, _settings, migrated_database

SURVEY = "coventry-supervision"
TODAY = dt.date(2026, 11, 23)


def _reference(name: str) -> list[dict[str, str]]:
    with (DATA / "reference" / name).open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module", params=BACKENDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """Seeded once per backend for the whole module: the tests here only read."""
    url = migrated_database(request, tmp_path_factory.mktemp("demo"))
    engine = make_engine(_settings(url))
    factory = make_session_factory(engine)
    seed_demo(factory, definitions_dir=COVENTRY_DIR.parent, echo=lambda _line: None, today=TODAY)
    yield factory
    engine.dispose()


def _profile(factory: sessionmaker[Session], wave_key: str) -> pd.DataFrame:
    """Per team name: responses, headcount, and respondents to 4b and to any item of 18 and 20."""
    definition = load_definition(COVENTRY_DIR / f"{wave_key}.yaml")
    numbers = {q.key: q.number for q in resolve_questions(definition)}
    with transaction(factory) as session:
        wave = get_wave(session=session, survey_key=SURVEY, wave_key=wave_key)
        teams = headcounts(session=session, wave_id=wave.id)
        responses = respondent_counts(session=session, wave_id=wave.id)
        answered = question_respondent_counts(session=session, wave_id=wave.id)
    answered["number"] = answered["question"].map(numbers)
    profile = teams.set_index("team")
    profile["responses"] = responses.groupby("team")["respondents"].sum()
    # Every item of 18 (or of 20) is asked of the same people, so item a counts them.
    for number, column in (("4b", "q4b"), ("18a", "q18"), ("20a", "q20")):
        profile[column] = (
            answered[answered["number"] == number].groupby("team")["respondents"].sum()
        )
    return profile.fillna(0).astype({"responses": int, "q4b": int, "q18": int, "q20": int})


@pytest.mark.parametrize("wave_key", ["2014", "2015"])
def test_every_team_matches_the_published_profile(
    seeded: sessionmaker[Session], wave_key: str
) -> None:
    profile = _profile(seeded, wave_key).set_index("name")
    reference = _reference(f"coventry_{wave_key}_response_profile.csv")
    assert list(profile.index) == [row["team"] for row in reference]
    for row in reference:
        team = profile.loc[row["team"]]
        assert team["responses"] == int(row["responses"]), row["team"]
        assert team["headcount"] == int(row["headcount"]), row["team"]
        assert team["q4b"] == int(row["q4b_responses"]), row["team"]
        if wave_key == "2014":
            assert team["q18"] == int(row["q18_q20_responses"]), row["team"]
            assert team["q20"] == int(row["q18_q20_responses"]), row["team"]
        else:
            assert team["q18"] == int(row["q18_responses"]), row["team"]
            assert team["q20"] == int(row["q20_responses"]), row["team"]


@pytest.mark.parametrize(
    ("wave_key", "responses", "headcount", "q4b", "q18", "q20"),
    [("2014", 370, 509, 59, 76, 76), ("2015", 387, 570, 59, 83, 60)],
)
def test_the_totals_are_the_published_totals(
    seeded: sessionmaker[Session],
    wave_key: str,
    responses: int,
    headcount: int,
    q4b: int,
    q18: int,
    q20: int,
) -> None:
    totals = _profile(seeded, wave_key)[["responses", "headcount", "q4b", "q18", "q20"]].sum()
    assert totals.to_dict() == {
        "responses": responses,
        "headcount": headcount,
        "q4b": q4b,
        "q18": q18,
        "q20": q20,
    }


def test_the_2014_role_groupings_match(seeded: sessionmaker[Session]) -> None:
    definition = load_definition(COVENTRY_DIR / "2014.yaml")
    names = {role.key: role.name for role in definition.population.role_groupings}
    with transaction(seeded) as session:
        wave = get_wave(session=session, survey_key=SURVEY, wave_key="2014")
        by_role = (
            respondent_counts(session=session, wave_id=wave.id).groupby("role")["respondents"].sum()
        )
    expected = {
        row["role_grouping"]: int(row["responses"])
        for row in _reference("coventry_2014_role_groupings.csv")
    }
    assert {names[key]: int(count) for key, count in by_role.items()} == expected


@pytest.mark.parametrize(("wave_key", "answered"), [("2014", 82), ("2015", 93)])
def test_11m_has_the_published_number_of_answers(
    seeded: sessionmaker[Session], wave_key: str, answered: int
) -> None:
    """The reports' NB: the rest chose "not applicable as no areas of disagreement yet"."""
    from app.reports.counts import answer_counts

    definition = load_definition(COVENTRY_DIR / f"{wave_key}.yaml")
    question = next(q for q in resolve_questions(definition) if q.number == "11m")
    excluded = {o.code for o in question.options if o.excluded_from_base}
    with transaction(seeded) as session:
        wave = get_wave(session=session, survey_key=SURVEY, wave_key=wave_key)
        counts = answer_counts(session=session, wave_id=wave.id)
    rows = counts[(counts["question"] == question.key) & ~counts["option"].isin(excluded)]
    assert rows["count"].sum() == answered


def test_the_2016_wave_is_open_on_the_2015_version_with_no_responses(
    seeded: sessionmaker[Session],
) -> None:
    with transaction(seeded) as session:
        wave = get_wave(session=session, survey_key=SURVEY, wave_key="2016")
        assert wave.status == WaveStatus.open
        assert wave.version.key == "2015"
        assert wave.opens_on == TODAY
        assert (
            session.scalar(
                select(func.count()).select_from(Response).where(Response.wave_id == wave.id)
            )
            == 0
        )
        counts = headcounts(session=session, wave_id=wave.id)
    assert counts["headcount"].sum() == 570
    for name in ("2014", "2015"):
        with transaction(seeded) as session:
            assert get_wave(session=session, survey_key=SURVEY, wave_key=name).status == "closed"


def test_seeding_again_changes_nothing(seeded: sessionmaker[Session]) -> None:
    """(Reads only: a second seed that changed anything would fail here, not elsewhere.)"""
    lines: list[str] = []
    seed_demo(seeded, definitions_dir=COVENTRY_DIR.parent, echo=lines.append, today=TODAY)
    with transaction(seeded) as session:
        assert session.scalar(select(func.count()).select_from(Response)) == 370 + 387
    assert sum("unchanged" in line for line in lines) == 2
    assert sum("left alone" in line for line in lines) == 2


def test_the_demo_is_the_same_on_every_run(seeded: sessionmaker[Session], tmp_path: Path) -> None:
    """A fixed seed: two fresh databases get the same answers."""
    from app.migrate import upgrade
    from app.reports.counts import answer_counts

    other_engine = make_engine(_settings(f"sqlite:///{tmp_path / 'other.db'}"))
    upgrade(other_engine)
    other = make_session_factory(other_engine)
    seed_demo(other, definitions_dir=COVENTRY_DIR.parent, echo=lambda _l: None, today=TODAY)

    def counts(factory: sessionmaker[Session]) -> pd.DataFrame:
        with transaction(factory) as session:
            wave = get_wave(session=session, survey_key=SURVEY, wave_key="2015")
            frame = answer_counts(session=session, wave_id=wave.id)
        return frame.sort_values(["team", "role", "question", "option"]).reset_index(drop=True)

    pd.testing.assert_frame_equal(counts(seeded), counts(other))
    other_engine.dispose()


def _positive_share(
    factory: sessionmaker[Session], wave_key: str, number: str, codes: set[str] | None = None
) -> tuple[int, int]:
    """(chosen, base) for a question over the whole wave: base leaves out "not applicable"."""
    from app.reports.counts import answer_counts

    definition = load_definition(COVENTRY_DIR / f"{wave_key}.yaml")
    question = next(q for q in resolve_questions(definition) if q.number == number)
    excluded = {o.code for o in question.options if o.excluded_from_base}
    wanted = codes or {o.code for o in question.options if o.positive}
    with transaction(factory) as session:
        wave = get_wave(session=session, survey_key=SURVEY, wave_key=wave_key)
        counts = answer_counts(session=session, wave_id=wave.id)
    rows = counts[(counts["question"] == question.key) & ~counts["option"].isin(excluded)]
    return int(rows[rows["option"].isin(wanted)]["count"].sum()), int(rows["count"].sum())


def test_42_percent_always_include_the_childs_views_in_2015(seeded: sessionmaker[Session]) -> None:
    """The one answer figure the scrutiny report states (11e, "Yes, always")."""
    from decimal import ROUND_HALF_UP, Decimal

    always, base = _positive_share(seeded, "2015", "11e", {"always"})
    assert Decimal(100 * always / base).quantize(Decimal(1), rounding=ROUND_HALF_UP) == 42


def test_supervision_agreements_rise_from_2014_to_2015(seeded: sessionmaker[Session]) -> None:
    yes_2014, base_2014 = _positive_share(seeded, "2014", "4a")
    yes_2015, base_2015 = _positive_share(seeded, "2015", "4a")
    assert (base_2014, base_2015) == (370, 387)
    assert yes_2015 / base_2015 > yes_2014 / base_2014 + 0.08
