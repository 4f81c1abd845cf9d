"""One wave read through every channel a reader has: the API, the CSV and XLSX exports, the
results pages, the printable report and the command line. Each shows the same figure for the
same cell, and a cell withheld in one is withheld in all: they all read the wave's release."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

from app.cli import cli
from app.db import make_engine, make_session_factory
from app.main import create_app
from tests.conftest import _settings
from tests.support.staff import sign_in, staff_tokens
from tests.test_printable import body_rows, tables

SURVEY = "coventry-supervision"
WAVE = "2015"
WITHHELD = "withheld (small group)"


@pytest.fixture(scope="module")
def clients(demo_url: str) -> Iterator[dict[str, TestClient]]:
    settings = _settings(demo_url)
    engine = make_engine(settings)
    tokens = staff_tokens(make_session_factory(engine))
    engine.dispose()
    app = create_app(settings)
    with TestClient(app) as api, TestClient(app) as scrutiny:
        api.headers["authorization"] = f"Bearer {tokens['hr']}"
        assert sign_in(scrutiny, "scrutiny@example.org").status_code == 303
        yield {"api": api, "scrutiny": scrutiny}


@pytest.mark.parametrize(
    ("question", "table_id", "some_withheld"),
    [
        ("4a", "q-agreement", True),  # routing for 4b: withheld where 4b is
        ("11e", "q-task_child_views", False),  # the child's views: every team shown
    ],
)
def test_every_channel_shows_the_same_figure_for_each_team(
    clients: dict[str, TestClient], demo_url: str, question: str, table_id: str, some_withheld: bool
) -> None:
    api = clients["api"].get(f"/api/v1/reports/{SURVEY}/waves/{WAVE}/questions/{question}?by=team")
    assert api.status_code == 200
    first = api.json()[0]["label"]  # each cell: one group's figures for the first answer
    yes = {row["team"]: row for row in api.json() if row["label"] == first}
    expected = {
        team: None if row["withheld"] else (row["base"], row["count"], row["positive_pct"])
        for team, row in yes.items()
    }
    assert (None in expected.values()) == some_withheld
    assert len([v for v in expected.values() if v]) >= 4

    csv_reply = clients["api"].get(f"/exports/{SURVEY}/waves/{WAVE}.csv?by=team")
    rows = csv.DictReader(io.StringIO(csv_reply.content.decode("utf-8-sig")))
    exported = {
        row["Team"].lstrip("'"): row
        for row in rows
        if row["Q"] == question and row["Answer"] == first
    }
    workbook = load_workbook(
        io.BytesIO(clients["api"].get(f"/exports/{SURVEY}/waves/{WAVE}.xlsx?by=team").content)
    )
    sheets = [row for sheet in workbook.worksheets[2:] for row in sheet.iter_rows(values_only=True)]
    header = next(sheet.iter_rows(values_only=True) for sheet in workbook.worksheets[2:]).__next__()
    xlsx = {
        dict(zip(header, row, strict=True))["Team"]: dict(zip(header, row, strict=True))
        for row in sheets
        if row != header
        and dict(zip(header, row, strict=True))["Q"] == question
        and dict(zip(header, row, strict=True))["Answer"] == first
    }
    printable = body_rows(
        tables(clients["scrutiny"].get(f"/reports/{SURVEY}/{WAVE}").text)[table_id]
    )
    result = CliRunner().invoke(
        cli,
        [
            "report",
            "question",
            "--survey",
            SURVEY,
            "--wave",
            WAVE,
            "--question",
            question,
            "--by",
            "team",
            "--format",
            "json",
        ],
        env={"DATABASE_URL": demo_url},
    )
    assert result.exit_code == 0, result.output
    printed = {row["team"]: row for row in json.loads(result.output) if row["label"] == first}

    for team, figures in expected.items():
        row_name = f"{team} | these teams together" if " + " in team else team
        if figures is None:
            assert exported[team]["Withheld"] == "*" and exported[team]["Base"] == "", team
            assert xlsx[team]["Withheld"] == "*" and xlsx[team]["Base"] is None, team
            assert printable[row_name] == [WITHHELD], team
            assert printed[team]["base"] is None and printed[team]["withheld"], team
            continue
        base, count, positive = figures
        assert (int(exported[team]["Base"]), int(exported[team]["Count"])) == (base, count), team
        assert (xlsx[team]["Base"], xlsx[team]["Count"]) == (base, count), team
        positive_at = 2 + len({row["label"] for row in api.json()})  # base, 1 person, shares
        assert printable[row_name][0] == str(base), team
        assert printable[row_name][positive_at] == positive, team
        assert (printed[team]["base"], printed[team]["count"]) == (base, count), team
