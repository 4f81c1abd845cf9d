"""Reports from the demo, through the CLI: the published Coventry tables, cell for cell."""

from __future__ import annotations

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.db import make_engine, make_session_factory
from tests.conftest import DATA, _settings

SURVEY = "coventry-supervision"


def _report(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["report", *args], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return result.output


def _reference(name: str) -> list[dict[str, str]]:
    with (DATA / "reference" / name).open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.mark.parametrize(
    ("wave", "total"), [("2014", ("370", "509", "73")), ("2015", ("387", "570", "68"))]
)
def test_response_rates_equal_the_published_tables(
    demo_url: str, wave: str, total: tuple[str, str, str]
) -> None:
    output = _report(
        demo_url, "response-rates", "--survey", SURVEY, "--wave", wave, "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(output)))
    *teams, totals = rows
    reference = _reference(f"coventry_{wave}_response_profile.csv")
    assert [row["Group"] for row in teams] == [row["team"] for row in reference]
    for row, published in zip(teams, reference, strict=True):
        assert (row["Responses"], row["Headcount"], row["Response rate %"]) == (
            published["responses"],
            published["headcount"],
            published["published_rate_pct"],
        ), published["team"]
        if "published_one_person_pct" in published:
            assert row["1 person = %"] == published["published_one_person_pct"], published["team"]
        assert row["Withheld"] == ""
    assert (totals["Responses"], totals["Headcount"], totals["Response rate %"]) == total


def test_the_2014_role_groupings_equal_the_published_table(demo_url: str) -> None:
    output = _report(
        demo_url,
        "response-rates",
        "--survey",
        SURVEY,
        "--wave",
        "2014",
        "--by",
        "role",
        "--format",
        "csv",
    )
    rows = {row["Group"]: row for row in csv.DictReader(io.StringIO(output))}
    for published in _reference("coventry_2014_role_groupings.csv"):
        row = rows[published["role_grouping"]]
        assert (row["Responses"], row["1 person = %"]) == (
            published["responses"],
            published["published_one_person_pct"],
        )


def test_a_question_report_withholds_small_teams_in_json(demo_url: str) -> None:
    output = _report(
        demo_url,
        "question",
        "--survey",
        SURVEY,
        "--wave",
        "2015",
        "--question",
        "4b",
        "--by",
        "team",
        "--format",
        "json",
    )
    rows = json.loads(output)
    overall = [row for row in rows if row["team"] == "All teams"]
    assert {row["label"] for row in overall} == {"Yes", "No"}
    assert sum(row["count"] for row in overall) == 59  # the published total for 4b
    withheld = [row for row in rows if row["reason"] is not None]
    assert withheld
    for row in withheld:
        assert row["base"] is None and row["count"] is None and row["share_pct"] == "*"
    shown = [row for row in rows if row["reason"] is None and row["team"] != "All teams"]
    assert all(row["base"] >= 5 for row in shown)


def test_an_open_wave_shows_no_results(demo_url: str) -> None:
    result = CliRunner().invoke(
        cli,
        ["report", "question", "--survey", SURVEY, "--wave", "2016", "--question", "4a"],
        env={"DATABASE_URL": demo_url},
    )
    assert result.exit_code == 1
    assert "still open" in result.output


def test_the_reports_api_needs_its_token_and_marks_withheld_cells(demo_url: str) -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.support.staff import staff_tokens

    engine = make_engine(_settings(demo_url))
    token = staff_tokens(make_session_factory(engine))["scrutiny"]
    engine.dispose()
    url = f"/api/v1/reports/{SURVEY}/waves/2015/questions/4b?by=team"
    with TestClient(create_app(_settings(demo_url))) as client:
        assert client.get(url).status_code == 401
        assert client.get(url, headers={"authorization": "Bearer wrong"}).status_code == 401
        reply = client.get(url, headers={"authorization": "Bearer " + token})
        assert reply.status_code == 200
        rows = reply.json()
        withheld = [row for row in rows if row["withheld"]]
        # One reason for all: which rule withheld a cell would say on which side of k it lies.
        assert withheld and {row["reason"] for row in withheld} == {"small_group"}
        assert all(row["base"] is None and row["count"] is None for row in withheld)
        rates = client.get(
            f"/api/v1/reports/{SURVEY}/waves/2014/response-rates",
            headers={"authorization": "Bearer " + token},
        )
        assert rates.json()[-1] == {
            "group": "(all)",
            "respondents": 370,
            "headcount": 509,
            "rate_pct": "73",
            "one_person_pct": "0",
            "withheld": False,
            "reason": None,
        }
        auth = {"authorization": "Bearer " + token}
        compared = client.get(
            f"/api/v1/reports/{SURVEY}/compare?from=2014&to=2015&question=4a", headers=auth
        )
        assert compared.status_code == 200
        assert any(row["lineage"] == "split" for row in compared.json())
        indicators = client.get(f"/api/v1/reports/{SURVEY}/indicators", headers=auth).json()
        assert {row["indicator"] for row in indicators} >= {"supervision_agreement", "childs_views"}
        still_open = client.get(
            f"/api/v1/reports/{SURVEY}/waves/2016/questions/4a",
            headers={"authorization": "Bearer " + token},
        )
        assert still_open.status_code == 409


def test_compare_shows_the_split_team_against_its_predecessor(demo_url: str) -> None:
    output = _report(
        demo_url,
        "compare",
        "--survey",
        SURVEY,
        "--from",
        "2014",
        "--to",
        "2015",
        "--question",
        "4a",
        "--by",
        "team",
        "--format",
        "csv",
    )
    rows = list(csv.DictReader(io.StringIO(output)))
    split = [row for row in rows if row["Lineage"] == "split"]
    assert {row["Team"] for row in split} == {
        "MASH – CSE + Referral & Assessment Service (successors of MASH – Referral & Assessment Service)"
    }
    assert {row["Base before"] for row in split} == {
        "39"
    }  # the 2014 team, published as 39 responses
    assert {row["Base after"] for row in split} == {"56"}  # 13 + 43 in 2015
    overall = next(row for row in rows if row["Team"] == "All teams" and row["Answer"] == "Yes")
    assert (overall["Base before"], overall["Base after"]) == ("370", "387")
    assert float(overall["Positive % after"]) > float(
        overall["Positive % before"]
    )  # agreements rose
    assert overall["Significant at 95%"] == "True"


def test_compare_marks_withheld_cells_and_tests_nothing_there(demo_url: str) -> None:
    output = _report(
        demo_url,
        "compare",
        "--survey",
        SURVEY,
        "--from",
        "2014",
        "--to",
        "2015",
        "--question",
        "4b",
        "--format",
        "json",
    )
    rows = json.loads(output)
    withheld = [row for row in rows if row["withheld"]]
    assert withheld
    for row in withheld:
        assert row["reason"] == "small_group"
        assert row["change_pp"] is None and row["p_value"] is None and row["significant"] is None
        assert (
            row["share_before"] is None
            or row["share_after"] is None
            or row["withheld_after"]
            or row["withheld_before"]
        )


def test_a_question_whose_options_changed_is_shown_side_by_side(demo_url: str) -> None:
    output = _report(
        demo_url,
        "compare",
        "--survey",
        SURVEY,
        "--from",
        "2014",
        "--to",
        "2015",
        "--question",
        "5",
        "--format",
        "json",
    )
    rows = [row for row in json.loads(output) if row["group"] == "All teams"]
    assert {row["comparability"] for row in rows} == {"not_comparable"}
    assert all(row["change_pp"] is None and row["p_value"] is None for row in rows)
    assert {row["no_test_reason"] for row in rows} == {"not_comparable"}
    labels = {row["label_before"] for row in rows} | {row["label_after"] for row in rows}
    assert {"Yes", "No"} <= labels  # 2014: at least three dates booked?
    assert len(labels - {"Yes", "No", None}) >= 3  # 2015: how many dates booked


def test_indicators_per_wave_against_their_targets(demo_url: str) -> None:
    rows = json.loads(_report(demo_url, "indicators", "--survey", SURVEY, "--format", "json"))
    by_key = {(row["indicator"], row["wave"]): row for row in rows}
    agreement_2014 = by_key[("supervision_agreement", "2014")]
    agreement_2015 = by_key[("supervision_agreement", "2015")]
    assert agreement_2014["target_pct"] == 100 and agreement_2014["met"] is False
    assert agreement_2015["value_pct"] > agreement_2014["value_pct"]
    assert by_key[("supervision_training", "2014")]["status"] == "not_asked"
    assert by_key[("supervision_training", "2015")]["base"] == 83  # the published Q18/19 total


def test_the_standout_teams_differ_significantly_from_the_rest(demo_url: str) -> None:
    """The demo makes Gravel Hill low and Court Based Assessment high in 2015."""
    rows = json.loads(
        _report(
            demo_url,
            "teams",
            "--survey",
            SURVEY,
            "--wave",
            "2015",
            "--question",
            "11a",
            "--format",
            "json",
        )
    )
    by_team = {row["group"]: row for row in rows}
    low = by_team["Residential – Gravel Hill"]
    high = by_team["Court Based Assessment Service"]
    assert low["significant"] is True and low["difference_pp"] < 0
    assert high["significant"] is True and high["difference_pp"] > 0


def test_consistency_counts_the_teams_that_differ(demo_url: str) -> None:
    rows = json.loads(
        _report(demo_url, "consistency", "--survey", SURVEY, "--wave", "2015", "--format", "json")
    )
    q11a = next(row for row in rows if row["number"] == "11a")
    assert q11a["teams_significant"] >= 2
    assert q11a["range_pp"] > 40
