"""The read side of API v1: surveys, versions and waves, as a client sees them."""

from __future__ import annotations

import csv

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.models import WaveStatus
from app.surveys.definitions import SurveyDefinition
from tests.conftest import DATA
from tests.support.factories import create_wave_for_test

SURVEY = "coventry-supervision"


def _seed_questions(version: str) -> list[dict[str, str]]:
    with (DATA / "seed_questions.csv").open(encoding="utf-8") as file:
        return [row for row in csv.DictReader(file) if row["version"] == version]


@pytest.mark.parametrize("version", ["2014", "2015"])
def test_the_version_json_lists_every_seed_question_with_its_wording(
    coventry: dict[str, SurveyDefinition], client: TestClient, version: str
) -> None:
    reply = client.get(f"/api/v1/surveys/{SURVEY}/versions/{version}")
    assert reply.status_code == 200
    questions = {q["number"]: q for q in reply.json()["questions"]}
    seed = _seed_questions(version)
    assert len(seed) > 60
    for row in seed:
        question = questions[row["number"]]
        assert question["text"] == row["text"], row["number"]
        if row["legend"]:
            labels = [option["label"] for option in question["options"]]
            assert labels == row["legend"].split(" | "), row["number"]
        else:
            assert question["reconstructed"] is True, row["number"]
            assert question["reconstructed_reason"], row["number"]
    extra = set(questions) - {row["number"] for row in seed}
    assert all(questions[number]["reconstructed"] for number in extra)


def test_the_version_json_has_the_documented_shape(
    coventry: dict[str, SurveyDefinition], client: TestClient
) -> None:
    body = client.get(f"/api/v1/surveys/{SURVEY}/versions/2015").json()
    question = next(q for q in body["questions"] if q["number"] == "5")
    assert {
        "key",
        "number",
        "text",
        "section",
        "type",
        "options",
        "applies_to",
        "show_if",
        "continues",
        "comparability",
        "reconstructed",
    } <= set(question)
    assert question["comparability"] == "not_comparable"
    assert question["continues"]["note"]
    assert set(question["options"][0]) == {"code", "label", "positive", "excluded_from_base"}
    supervised = next(q for q in body["questions"] if q["number"] == "18a")
    assert supervised["applies_to"] == ["supervisors"]
    follow_up = next(q for q in body["questions"] if q["number"] == "6c")
    assert follow_up["show_if"] is not None

    teams = {team["name"]: team for team in body["teams"]}
    assert sum(team["headcount"] for team in body["teams"]) == 570
    split = next(
        t["key"]
        for t in client.get(f"/api/v1/surveys/{SURVEY}/versions/2014").json()["teams"]
        if t["name"] == "MASH – Referral & Assessment Service"
    )
    assert teams["MASH – CSE"]["succeeds"] == [split]
    assert teams["Referral & Assessment Service"]["succeeds"] == [split]
    assert teams["Route 21 Team"]["succeeds"] == [teams["Route 21 Team"]["key"]]


def test_the_survey_list_shows_versions_and_waves(
    session_factory: sessionmaker[Session],
    coventry: dict[str, SurveyDefinition],
    client: TestClient,
) -> None:
    create_wave_for_test(session_factory, wave="2016", closes_in_days=30)
    create_wave_for_test(
        session_factory,
        wave="2015",
        opens_in_days=-400,
        closes_in_days=-370,
        status=WaveStatus.closed,
    )
    reply = client.get("/api/v1/surveys")
    assert reply.status_code == 200
    (survey,) = reply.json()
    assert survey["key"] == SURVEY
    assert survey["suppression_threshold"] == 5
    assert [v["key"] for v in survey["versions"]] == ["2014", "2015"]
    waves = {wave["key"]: wave for wave in survey["waves"]}
    assert waves["2016"]["version"] == "2015"
    assert waves["2016"]["accepting_responses"] is True
    assert waves["2015"]["accepting_responses"] is False


def test_an_unknown_version_is_404(
    coventry: dict[str, SurveyDefinition], client: TestClient
) -> None:
    assert client.get(f"/api/v1/surveys/{SURVEY}/versions/1999").status_code == 404


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/v1/surveys/{survey}/waves/{wave}/responses" in paths
    assert client.get("/docs").status_code == 404  # Swagger UI needs a CDN: see README
