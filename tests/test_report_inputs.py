"""The frames `analysis` receives besides counts: options, population and lineage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_session_factory, transaction
from app.reports.inputs import options_frame, population, successor_groups
from app.responses.service import load_wave
from tests.conftest import _settings


@pytest.fixture
def demo(demo_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(_settings(demo_url))
    yield make_session_factory(engine)
    engine.dispose()


def test_options_follow_the_questionnaire(demo: sessionmaker[Session]) -> None:
    with transaction(demo) as session:
        wave = load_wave(session=session, survey_key="coventry-supervision", wave_key="2015")
    options = options_frame(wave)
    q11e = options[options["question"] == "task_child_views"]
    assert list(q11e["label"]) == [
        "Yes, always",
        "Most times",
        "Sometimes",
        "Hardly ever / never",
        "Not applicable to my role",
    ]
    assert list(q11e["excluded_from_base"]) == [False, False, False, False, True]
    assert list(q11e["position"]) == [0, 1, 2, 3, 4]


def test_the_2015_population_knows_the_split_team(demo: sessionmaker[Session]) -> None:
    with transaction(demo) as session:
        wave = load_wave(session=session, survey_key="coventry-supervision", wave_key="2015")
        people = population(session=session, wave=wave)
    teams = people.teams.set_index("team")
    assert teams.loc["mash_cse", "predecessors"] == ["mash_referral_assessment"]
    assert teams.loc["route_21", "predecessors"] == ["route_21"]
    assert int(teams["headcount"].sum()) == 570
    assert successor_groups(people.teams) == {
        "mash_referral_assessment": ["mash_cse", "referral_assessment"]
    }
    assert len(people.roles) == 18
