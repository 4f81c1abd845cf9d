"""HR exports, downloaded as HR does and read back: every figure is the API's, and no cell holds
a figure the API withholds. A small wave with hostile team names checks formula injection, the
command line and the errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.db import make_engine, make_session_factory, transaction
from app.main import create_app
from app.models import WaveStatus
from app.responses.service import SubmissionIn, store_response
from app.surveys.definitions import SurveyDefinition, resolve_questions
from app.surveys.service import create_wave, publish_definition, set_wave_status
from app.surveys.validation import load_definition
from tests.conftest import BACKENDS, DATA, _settings, migrated_database
from tests.support.staff import sign_in, staff_tokens

SURVEY = "coventry-supervision"
WAVE_URL = f"/exports/{SURVEY}/waves/2015"
COMPARE_URL = f"/exports/{SURVEY}/compare"
FIGURES = ["Base", "Count", "Share %", "Positive % (group)", "1 person = %"]
COMPARED_FIGURES = [
    "Base before", "Base after", "Share before (proportion)", "Share after (proportion)",
    "Change (percentage points)", "Positive before (proportion)", "Positive after (proportion)",
    "Positive change (percentage points)", "p", "Significant at 95%",
]  # fmt: skip


class Staff:
    """A test client on one database, with each kind of staff user's API token."""

    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client = client
        self.tokens = tokens

    def get(self, url: str, as_: str = "hr") -> Any:
        return self.client.get(url, headers={"authorization": f"Bearer {self.tokens[as_]}"})

    def api(self, url: str) -> Any:
        reply = self.get(url)
        assert reply.status_code == 200, reply.text
        return reply.json()


def _staff(url: str) -> Iterator[Staff]:
    engine = make_engine(_settings(url))
    tokens = staff_tokens(make_session_factory(engine))
    engine.dispose()
    with TestClient(create_app(_settings(url))) as client:
        yield Staff(client, tokens)


@pytest.fixture(scope="module")
def demo(demo_url: str) -> Iterator[Staff]:
    """One app per module and backend: its suppressed results are computed once."""
    yield from _staff(demo_url)


def _workbook(reply: Any) -> Workbook:
    assert reply.status_code == 200, reply.text
    return load_workbook(io.BytesIO(reply.content))


@pytest.fixture(scope="module")
def by_team_download(demo: Staff) -> Any:
    return demo.get(f"{WAVE_URL}.xlsx?by=team")


@pytest.fixture(scope="module")
def by_team(by_team_download: Any) -> Workbook:
    return _workbook(by_team_download)


@pytest.fixture(scope="module")
def compared(demo: Staff) -> Workbook:
    return _workbook(demo.get(f"{COMPARE_URL}.xlsx?from=2014&to=2015"))


def _rows(sheet: Worksheet) -> list[dict[str, Any]]:
    header, *rows = sheet.iter_rows(values_only=True)
    return [dict(zip(header, row, strict=True)) for row in rows]


def _results(workbook: Workbook) -> list[dict[str, Any]]:
    """Every section sheet's rows: all sheets but the notes and the response profile."""
    return [row for sheet in workbook.worksheets[2:] for row in _rows(sheet)]


def _notes(workbook: Workbook) -> dict[str, str]:
    return {row["Topic"]: row["Note"] for row in _rows(workbook["notes"])}


def _shown(text: str) -> float | None:
    """The API's display text as the export's number; its withheld marker as no figure."""
    return None if text == "*" else float(text)


def test_only_hr_and_admin_download_with_a_token_or_a_session(
    demo: Staff, by_team_download: Any
) -> None:
    assert by_team_download.status_code == 200  # with an HR user's token
    url = f"{WAVE_URL}.csv?part=notes"  # the quickest file to make
    client = demo.client
    assert client.get(url).status_code == 401
    browser = client.get(url, headers={"accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303 and browser.headers["location"].startswith("/sign-in")
    assert demo.get(url, as_="none").status_code == 403
    assert demo.get(url, as_="scrutiny").status_code == 403
    assert demo.get(url, as_="admin").status_code == 200
    for email, status in (("scrutiny@example.org", 403), ("hr@example.org", 200)):
        assert sign_in(client, email).status_code == 303
        assert client.get(url).status_code == status
        client.cookies.clear()


def test_the_download_is_an_attachment_never_cached(by_team_download: Any) -> None:
    headers = by_team_download.headers
    assert headers["content-type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert headers["content-disposition"] == (
        'attachment; filename="coventry-supervision-2015-by-team.xlsx"'
    )
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize("by", ["team", "role"])
def test_every_figure_is_the_apis_and_withheld_cells_are_empty(
    demo: Staff, by_team: Workbook, by: str, coventry_definitions: dict[str, SurveyDefinition]
) -> None:
    workbook = by_team if by == "team" else _workbook(demo.get(f"{WAVE_URL}.xlsx?by=role"))
    exported: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for row in _results(workbook):
        exported[(row["Q"], row["Team"], row["Role grouping"], row["Answer"])] = row
    numbers = list(dict.fromkeys(q for q, *_ in exported))
    questions = resolve_questions(coventry_definitions["2015"])
    assert numbers == [q.number for q in questions if q.options]
    withheld = 0
    for number in numbers:
        api = demo.api(f"/api/v1/reports/{SURVEY}/waves/2015/questions/{number}?by={by}")
        ours = [row for key, row in exported.items() if key[0] == number]
        assert len(ours) == len(api)
        has_positive = any(row["Counts as positive"] for row in ours)
        for expected in api:
            row = exported[(number, expected["team"], expected["role"], expected["label"])]
            assert row["Withheld"] == ("*" if expected["withheld"] else None)
            assert row["Reason"] == expected["reason"]
            if expected["withheld"]:
                withheld += 1
                assert all(row[figure] is None for figure in FIGURES), row
                assert not [
                    v
                    for v in row.values()
                    if isinstance(v, int | float) and not isinstance(v, bool)
                ]
                continue
            assert row["Base"] == expected["base"]
            assert row["Count"] == expected["count"]
            assert row["Share %"] == _shown(expected["share_pct"])
            assert row["1 person = %"] == _shown(expected["one_person_pct"])
            positive = _shown(expected["positive_pct"]) if has_positive else None
            assert row["Positive % (group)"] == positive  # none without a positive answer
    assert withheld > 50, "the demo withholds small teams and role groupings"


def test_the_response_profile_is_the_apis(demo: Staff, by_team: Workbook) -> None:
    api = demo.api(f"/api/v1/reports/{SURVEY}/waves/2015/response-rates?by=team")
    rows = _rows(by_team["Response profile"])
    assert [row["Group"] for row in rows] == [
        "All teams" if r["group"] == "(all)" else r["group"] for r in api
    ]
    for row, expected in zip(rows, api, strict=True):
        assert row["Responses"] == expected["respondents"]
        assert row["Headcount"] == expected["headcount"]
        assert row["Response rate %"] == _shown(expected["rate_pct"])
        assert row["1 person = %"] == _shown(expected["one_person_pct"])
    assert rows[-1]["Responses"] == 387 and rows[-1]["Headcount"] == 570


def test_the_notes_give_the_threshold_markers_comparability_and_data_statement(
    by_team: Workbook,
) -> None:
    assert by_team.sheetnames[:2] == ["notes", "Response profile"]
    notes = _notes(by_team)
    assert "wave 2015: k = 5" in notes["Threshold (k)"]
    assert "withheld" in notes["Withheld marker *"] and "never 0" in notes["Withheld marker *"]
    assert "Reason small_group" in notes
    assert notes["Question 5"].startswith("Against version 2014: not comparable")
    assert notes["Question 1"].startswith("Against version 2014: comparable, with a note")
    assert (
        "MASH – Referral & Assessment Service (wave 2014)"
        in (notes["MASH – CSE + Referral & Assessment Service"])
    )
    assert "387 of 570 staff responded (68%)" in notes["Wave 2015"]
    assert "1 October 2015 to 31 October 2015" in notes["Wave 2015"]
    assert "Never a name" in notes["What is stored"]


def test_sheet_names_are_valid_and_one_per_section(
    by_team: Workbook, coventry_definitions: dict[str, SurveyDefinition]
) -> None:
    names = by_team.sheetnames
    assert len({name.lower() for name in names}) == len(names)
    assert all(len(name) <= 31 and not re.search(r"[\[\]:*?/\\]", name) for name in names)
    sections = [s.title for s in coventry_definitions["2015"].sections]
    assert len(names) == 2 + len(sections)
    for sheet, title in zip(by_team.worksheets[2:], sections, strict=True):
        assert {row["Section"] for row in _rows(sheet)} == {title}


def test_the_csv_holds_the_workbooks_rows_with_a_section_column(
    demo: Staff, by_team: Workbook
) -> None:
    reply = demo.get(f"{WAVE_URL}.csv?by=team")
    assert reply.headers["content-type"] == "text/csv; charset=utf-8"
    assert reply.headers["content-disposition"] == (
        'attachment; filename="coventry-supervision-2015-by-team.csv"'
    )
    assert reply.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
    rows = list(csv.DictReader(io.StringIO(reply.content.decode("utf-8-sig"))))
    expected = _results(by_team)
    assert len(rows) == len(expected)
    for row, cells in zip(rows, expected, strict=True):
        assert row.keys() == cells.keys()
        for column, cell in cells.items():
            if isinstance(cell, bool):
                assert row[column] == str(cell)
            elif isinstance(cell, int | float):
                assert float(row[column]) == cell
            else:
                assert row[column] == (cell or "")
    notes = demo.get(f"{WAVE_URL}.csv?by=team&part=notes")
    assert (
        'filename="coventry-supervision-2015-by-team-notes.csv"'
        in (notes.headers["content-disposition"])
    )
    assert {row["Topic"]: row["Note"] for row in csv.DictReader(
        io.StringIO(notes.content.decode("utf-8-sig"))
    )} == _notes(by_team)  # fmt: skip


def test_the_comparison_is_the_apis_figure_for_figure(demo: Staff, compared: Workbook) -> None:
    api = demo.api(f"/api/v1/reports/{SURVEY}/compare?from=2014&to=2015")
    exported = {
        (row["Q"], row["Team"], row["Answer"], row["Answer (earlier wave)"]): row
        for row in _results(compared)
    }
    assert len(exported) == len(api)
    withheld = 0
    for expected in api:
        answer = expected["label_after"] or expected["label_before"]
        row = exported[(expected["number"], expected["group"], answer, expected["label_before"])]
        for side in ("before", "after"):
            hidden = expected[f"base_{side}"] is None and expected[f"team_{side}"] is not None
            assert row[f"Withheld {side}"] == ("*" if hidden else None)
        assert row["Reason"] == expected["reason"]
        assert row["No test because"] == expected["no_test_reason"]
        assert row["Base before"] == expected["base_before"]
        assert row["Base after"] == expected["base_after"]
        for column, field in [
            ("Share before (proportion)", "share_before"), ("Share after (proportion)", "share_after"),
            ("Change (percentage points)", "change_pp"),
            ("Positive before (proportion)", "positive_share_before"),
            ("Positive after (proportion)", "positive_share_after"),
            ("Positive change (percentage points)", "positive_change_pp"), ("p", "p_value"),
        ]:  # fmt: skip
            if expected[field] is None:
                assert row[column] is None, (column, expected)
            else:
                assert row[column] == pytest.approx(expected[field], rel=1e-12)
        assert row["Significant at 95%"] == expected["significant"]
        if expected["withheld"]:
            withheld += 1
            assert row["Change (percentage points)"] is None and row["p"] is None
    assert withheld > 100
    split = [row for row in exported.values() if row["Lineage"] == "split"]
    assert split and split[0]["Team"].startswith("MASH – CSE + Referral & Assessment Service")
    notes = _notes(compared)
    assert "wave 2014: k = 5; wave 2015: k = 5" in notes["Threshold (k)"]
    assert notes["Question 5"].startswith("not comparable")
    assert "Lineage: split" in notes and "370 of 509" in notes["Wave 2014"]


HOSTILE = '=HYPERLINK("http://evil","x")'
AT_SIGN = "@SUM(1+1)"
MINI = "mini-survey"


def _hostile_definition() -> SurveyDefinition:
    """The mini survey, its two teams renamed as a spreadsheet attack would name them."""
    definition = load_definition(DATA / "mini-survey" / "1.yaml")
    north, south = definition.population.teams
    teams = [
        north.model_copy(update={"name": HOSTILE, "headcount": 20}),
        south.model_copy(update={"name": AT_SIGN, "headcount": 20}),
    ]
    population = definition.population.model_copy(update={"teams": teams})
    return definition.model_copy(update={"population": population})


@pytest.fixture(scope="module", params=BACKENDS)
def hostile_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Wave 2025 closed: 12 responses in the `=` team, 11 in the `@` team, 6 managers (so the
    managers' question is withheld everywhere); wave 2026 open."""
    url = migrated_database(request, tmp_path_factory.mktemp("hostile"))
    engine = make_engine(_settings(url))
    factory = make_session_factory(engine)
    today = dt.date.today()
    with transaction(factory) as session:
        publish_definition(session=session, definition=_hostile_definition())
        for wave in ("2025", "2026"):
            create_wave(
                session=session, survey_key=MINI, wave_key=wave, version_key="1",
                opens_on=today - dt.timedelta(days=1), closes_on=today + dt.timedelta(days=30),
                status=WaveStatus.open,
            )  # fmt: skip
    for number in range(23):
        _respond(factory, team="north" if number < 12 else "south", manages=number % 4 == 0)
    with transaction(factory) as session:
        set_wave_status(session=session, survey_key=MINI, wave_key="2025", status=WaveStatus.closed)
    engine.dispose()
    return url


def _respond(factory: sessionmaker[Session], *, team: str, manages: bool) -> None:
    answers: dict[str, str | list[str]] = {
        "manages": "yes" if manages else "no",
        "support": ["peer", "group"] if manages else ["peer"],
    }
    if manages:
        answers["budget"] = "yes"
    submission = SubmissionIn(
        submission_id=uuid.uuid4().hex,
        team=team,
        role="manager" if manages else "worker",
        answers=answers,
    )
    with transaction(factory) as session:
        store_response(
            session=session, survey_key=MINI, wave_key="2025", submission=submission,
            today=dt.date.today(),
        )  # fmt: skip


@pytest.fixture(scope="module")
def hostile(hostile_url: str) -> Iterator[Staff]:
    yield from _staff(hostile_url)


def test_team_names_that_look_like_formulas_are_written_as_text(hostile: Staff) -> None:
    workbook = _workbook(hostile.get(f"/exports/{MINI}/waves/2025.xlsx?by=team"))
    cells = [cell for sheet in workbook.worksheets for row in sheet.iter_rows() for cell in row]
    assert not [cell for cell in cells if cell.data_type == "f"]
    named = [cell for cell in cells if cell.value in (HOSTILE, AT_SIGN)]
    assert {cell.value for cell in named} == {HOSTILE, AT_SIGN}
    assert all(cell.data_type == "s" and cell.quotePrefix for cell in named)
    rows = _results(workbook)
    shown = [row for row in rows if row["Team"] == HOSTILE and row["Q"] == "2"]
    assert [(row["Base"], row["Count"]) for row in shown] == [(15, 12), (15, 3), (15, 0)]
    managers = [row for row in rows if row["Q"] == "3"]
    assert managers and all(row["Withheld"] == "*" and row["Base"] is None for row in managers)
    # Question 3 is for managers only: a team's "yes, I manage" count is its withheld base
    # there, so it is withheld in question 1 too.
    routing = [row for row in rows if row["Team"] == HOSTILE and row["Q"] == "1"]
    assert routing and all(row["Withheld"] == "*" and row["Count"] is None for row in routing)
    assert _notes(workbook)["Free-text answers"] == "Not exported."

    reply = hostile.get(f"/exports/{MINI}/waves/2025.csv?by=team")
    text = reply.content.decode("utf-8-sig")
    teams = {row["Team"] for row in csv.DictReader(io.StringIO(text))}
    assert teams == {"All teams", "'" + HOSTILE, "'" + AT_SIGN}
    assert '"\'=HYPERLINK(""http://evil"",""x"")"' in text


def _cli(url: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["export", "--survey", MINI, *args], env={"DATABASE_URL": url})


def test_the_cli_writes_the_files_the_routes_serve(
    hostile_url: str, hostile: Staff, tmp_path: Path
) -> None:
    out = tmp_path / "mini.xlsx"
    result = _cli(hostile_url, "--wave", "2025", "--by", "role", "--out", str(out))
    assert result.exit_code == 0, result.output
    served = _workbook(hostile.get(f"/exports/{MINI}/waves/2025.xlsx?by=role"))
    written = load_workbook(out)
    assert written.sheetnames == served.sheetnames
    for mine, theirs in zip(written.worksheets, served.worksheets, strict=True):
        assert list(mine.values) == list(theirs.values)

    out = tmp_path / "mini.csv"
    result = _cli(
        hostile_url, "--from", "2025", "--to", "2025", "--format", "csv", "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    for part, path in [
        ("results", out), ("response-profile", tmp_path / "mini-response-profile.csv"),
        ("notes", tmp_path / "mini-notes.csv"),
    ]:  # fmt: skip
        reply = hostile.get(f"/exports/{MINI}/compare.csv?from=2025&to=2025&part={part}")
        assert path.read_bytes() == reply.content


def test_open_and_unknown_waves_and_unwritable_files_are_refused(
    hostile_url: str, hostile: Staff, tmp_path: Path
) -> None:
    still_open = hostile.get(f"/exports/{MINI}/waves/2026.xlsx")
    assert still_open.status_code == 409
    assert "still open" in still_open.json()["detail"]
    assert hostile.get(f"/exports/{MINI}/compare.csv?from=2025&to=2026").status_code == 409
    assert hostile.get(f"/exports/{MINI}/waves/1999.csv").status_code == 404
    assert hostile.get("/exports/no-such-survey/waves/2025.xlsx").status_code == 404
    assert hostile.get(f"/exports/{MINI}/waves/2025.xlsx?by=shoe-size").status_code == 422

    out = str(tmp_path / "x.xlsx")
    for args, message in [
        (["--wave", "2026", "--out", out], "still open"),
        (["--wave", "1999", "--out", out], "no wave '1999'"),
        (["--wave", "2025", "--out", str(tmp_path / "missing" / "x.xlsx")], "there is no folder"),
        (["--wave", "2025", "--out", str(tmp_path)], "is a folder"),
        (["--out", out], "Give either --wave, or --from and --to"),
        (["--from", "2025", "--out", out], "needs both --from and --to"),
    ]:
        result = _cli(hostile_url, *args)
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, (args, result.output)
    assert not (tmp_path / "x.xlsx").exists()


def test_the_exports_are_in_the_openapi_schema(hostile: Staff) -> None:
    paths = hostile.client.get("/openapi.json").json()["paths"]
    for path in [
        "/exports/{survey}/waves/{wave}.xlsx", "/exports/{survey}/waves/{wave}.csv",
        "/exports/{survey}/compare.xlsx", "/exports/{survey}/compare.csv",
    ]:  # fmt: skip
        assert paths[path]["get"]["tags"] == ["exports"]
