"""The printable report: the page against the published tables and the reports API, who may
open it, and the PDF that `report pdf` prints from it with Chromium."""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from typer.testing import CliRunner

from app.cli import cli
from app.db import make_engine, make_session_factory
from app.main import create_app
from app.reports.pdf import CHROMIUM, ChromiumMissing, write_report_pdf
from tests.conftest import DATA, _settings
from tests.support.staff import sign_in, staff_tokens

SURVEY = "coventry-supervision"
WITHHELD = "withheld (small group)"
MASH_SPLIT = (
    "MASH – CSE + Referral & Assessment Service "
    "(successors of MASH – Referral & Assessment Service)"
)


class _Tables(HTMLParser):
    """Every table with an id: its rows, each a list of its cells' text (th and td alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table" and (name := dict(attrs).get("id")):
            self._table = self.tables.setdefault(name, [])
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("th", "td") and self._table is not None:
            self._cell = []
        elif tag == "span" and self._cell is not None:
            self._cell.append(" | ")  # a label under a team's name, kept apart from it

    def handle_endtag(self, tag: str) -> None:
        if tag in ("th", "td") and self._table is not None and self._cell is not None:
            self._table[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str) -> dict[str, list[list[str]]]:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def body_rows(table: list[list[str]]) -> dict[str, list[str]]:
    """A table's rows by their first cell (the team), header rows left out."""
    return {row[0]: row[1:] for row in table if row and row[0] not in ("Team", "")}


def _reference(name: str) -> list[dict[str, str]]:
    with (DATA / "reference" / name).open(encoding="utf-8") as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope="module")
def staff(demo_url: str) -> Iterator[dict[str, TestClient]]:
    """Clients: anonymous, signed in without a role, signed in as scrutiny, and an API client
    with a scrutiny token (to check the page against the API)."""
    settings = _settings(demo_url)
    engine = make_engine(settings)
    tokens = staff_tokens(make_session_factory(engine))
    engine.dispose()
    app = create_app(settings)
    clients = {name: TestClient(app) for name in ("anonymous", "none", "scrutiny", "api")}
    for client in clients.values():
        client.__enter__()
    assert sign_in(clients["none"], "none@example.org").status_code == 303
    assert sign_in(clients["scrutiny"], "scrutiny@example.org").status_code == 303
    clients["api"].headers["authorization"] = f"Bearer {tokens['scrutiny']}"
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def pages(staff: dict[str, TestClient]) -> dict[str, str]:
    """The 2014 and 2015 reports as scrutiny sees them (each is built once per backend)."""
    found = {}
    for wave in ("2014", "2015"):
        reply = staff["scrutiny"].get(f"/reports/{SURVEY}/{wave}")
        assert reply.status_code == 200, reply.text[:500]
        assert reply.headers["cache-control"] == "no-store"
        found[wave] = reply.text
    return found


@pytest.mark.parametrize("wave", ["2014", "2015"])
def test_the_response_profile_equals_the_published_tables(pages: dict[str, str], wave: str) -> None:
    profile = tables(pages[wave])["profile-teams"]
    header, *teams, total = profile
    assert header == ["Team", "Responses", "Headcount", "Response rate", "1 person ="]
    reference = _reference(f"coventry_{wave}_response_profile.csv")
    assert [row[0] for row in teams] == [row["team"] for row in reference]
    for row, published in zip(teams, reference, strict=True):
        assert row[1:4] == [
            published["responses"],
            published["headcount"],
            published["published_rate_pct"] + "%",
        ], published["team"]
        if "published_one_person_pct" in published:
            assert row[4] == published["published_one_person_pct"] + "%", published["team"]
    assert (
        total[:4]
        == {
            "2014": ["Total", "370", "509", "73%"],
            "2015": ["Total", "387", "570", "68%"],
        }[wave]
    )


def test_the_role_groupings_equal_the_published_2014_table(pages: dict[str, str]) -> None:
    roles = body_rows(tables(pages["2014"])["profile-roles"])
    for published in _reference("coventry_2014_role_groupings.csv"):
        assert roles[published["role_grouping"]] == [
            published["responses"],
            published["published_one_person_pct"] + "%",
        ]


def test_every_figure_of_a_question_is_the_apis_and_withheld_teams_show_none(
    pages: dict[str, str], staff: dict[str, TestClient]
) -> None:
    """Question 4b in 2015 (59 answered, most teams under 5): each team's row holds the API's
    base and shares, and a withheld team's row says so and holds no number at all."""
    rows = body_rows(tables(pages["2015"])["q-agreement_signed"])
    api = staff["api"].get(f"/api/v1/reports/{SURVEY}/waves/2015/questions/4b?by=team").json()
    withheld = {row["team"] for row in api if row["withheld"]}
    assert "Children's Disabilities Team" in withheld
    for team in {row["team"] for row in api}:
        cells = rows[f"{team} | these teams together" if " + " in team else team]
        if team in withheld:
            assert cells == [WITHHELD], team
            continue
        figures = {row["label"]: row for row in api if row["team"] == team}
        yes, no = figures["Yes"], figures["No"]
        assert cells[:5] == [
            str(yes["base"]),
            yes["one_person_pct"] + "%",
            yes["share_pct"],
            no["share_pct"],
            yes["positive_pct"],
        ], team
    assert rows["All teams"][0] == "59"  # the published number who answered 4b


def test_the_2015_report_compares_with_2014_and_labels_the_mash_split(
    pages: dict[str, str], staff: dict[str, TestClient]
) -> None:
    html = pages["2015"]
    assert 'id="year-on-year"' in html
    found = tables(html)
    split = body_rows(found["yoy-agreement"])[
        f"{MASH_SPLIT} | split between the waves: its successors together against it"
    ]
    api = staff["api"].get(f"/api/v1/reports/{SURVEY}/compare?from=2014&to=2015&question=4a").json()
    (mash,) = [row for row in api if row["group"] == MASH_SPLIT and row["option"] == "yes"]
    assert mash["lineage"] == "split"
    assert split[0] == str(mash["base_before"]) and split[2] == str(mash["base_after"])
    assert split[1] == f"{mash['positive_share_before'] * 100:.1f}"
    assert split[3] == f"{mash['positive_share_after'] * 100:.1f}"
    # Question 5 changed its options: both waves side by side, no change, with the note.
    dates = found["yoy-dates_booked"]
    assert dates[0][1:3] == ["2014", "2015"]
    assert dates[1] == [
        "Answered",
        "Yes %",
        "No %",
        "Answered",
        "None %",
        "One %",
        "Two %",
        "Three or more %",
    ]
    assert "Not comparable" in html and "2014 asked" in html


def test_the_first_wave_has_no_year_on_year(pages: dict[str, str]) -> None:
    assert 'id="year-on-year"' not in pages["2014"]
    assert not [name for name in tables(pages["2014"]) if name.startswith("yoy-")]
    assert "There is no year-on-year section" in pages["2014"]


def test_only_scrutiny_hr_and_admin_open_the_report(staff: dict[str, TestClient]) -> None:
    path = f"/reports/{SURVEY}/2015"
    browser = staff["anonymous"].get(path, headers={"accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 303
    assert browser.headers["location"] == f"/sign-in?next={path}"
    assert staff["anonymous"].get(path, follow_redirects=False).status_code == 401
    assert staff["none"].get(path).status_code == 403
    # API tokens open the API and exports, not the pages.
    assert staff["api"].get(path, follow_redirects=False).status_code == 401
    assert staff["scrutiny"].get(path).status_code == 200


def test_an_open_wave_has_no_report_yet(staff: dict[str, TestClient]) -> None:
    reply = staff["scrutiny"].get(f"/reports/{SURVEY}/2016")
    assert reply.status_code == 409
    assert "Results come after the survey closes" in reply.text
    assert "profile-teams" not in reply.text


# PDF: Chromium through Playwright, on SQLite only (the page is the same on both backends).


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the PDF tests need Chromium at {CHROMIUM} (required under CI=true)")
        pytest.skip(f"the PDF tests need Chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.mark.parametrize("demo_url", ["sqlite"], indirect=True)
def test_report_pdf_prints_the_response_profile(
    demo_url: str, chromium: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report-2014.pdf"
    result = CliRunner().invoke(
        cli,
        ["report", "pdf", "--survey", SURVEY, "--wave", "2014", "--out", str(out)],
        env={"DATABASE_URL": demo_url},
    )
    assert result.exit_code == 0, result.output
    reader = PdfReader(out)
    assert len(reader.pages) > 20
    text = [page.extract_text() for page in reader.pages]
    assert "Coventry City Council" in text[0] and "370 of 509 staff (73%)" in text[0]
    assert "Page 1 of" in text[0]
    (profile,) = [page for page in text if "Responses by team" in page]
    assert "Team Responses Headcount Response rate 1 person =" in profile
    for published in _reference("coventry_2014_response_profile.csv"):
        row = " ".join([published["team"], published["responses"], published["headcount"]])
        assert f"{row} {published['published_rate_pct']}%" in profile, published["team"]
    assert "Total 370 509 73%" in profile
    assert any(WITHHELD in page for page in text)


@pytest.mark.parametrize("demo_url", ["sqlite"], indirect=True)
def test_report_pdf_refuses_an_open_wave(demo_url: str, tmp_path: Path) -> None:
    out = tmp_path / "report-2016.pdf"
    result = CliRunner().invoke(
        cli,
        ["report", "pdf", "--survey", SURVEY, "--wave", "2016", "--out", str(out)],
        env={"DATABASE_URL": demo_url},
    )
    assert result.exit_code == 1
    assert "still open" in result.output
    assert not out.exists()


def test_report_pdf_says_when_chromium_is_missing(tmp_path: Path) -> None:
    with pytest.raises(ChromiumMissing, match="apt-get install chromium"):
        write_report_pdf(
            _settings("sqlite:///" + str(tmp_path / "unused.db")),
            survey_key=SURVEY,
            wave_key="2015",
            out=tmp_path / "report.pdf",
            today=dt.date.today(),
            chromium=tmp_path / "no-chromium",
        )
    assert not (tmp_path / "report.pdf").exists()
