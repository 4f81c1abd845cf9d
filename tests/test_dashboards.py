"""The scrutiny pages, read as a scrutiny member reads them, against the reports API.

Every figure in a page's tables must be the API's for the same wave, question and group; a
withheld cell must say so, and the figure suppression hid (worked out here from the raw counts)
must appear nowhere near it; filters must narrow the figures, and a filter naming a group too
small to show must be refused with a message instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from app.db import make_engine, make_session_factory
from app.main import create_app
from app.reports.counts import answer_counts
from app.responses.service import load_wave
from tests.conftest import _settings
from tests.support.staff import sign_in, staff_tokens

SURVEY = "coventry-supervision"
OVERVIEW = f"/results/{SURVEY}"
COMPARE = f"/results/{SURVEY}/compare?from=2014&to=2015"
WITHHELD = "withheld (small group)"
MASH_SPLIT = (
    "MASH – CSE + Referral & Assessment Service (successors of MASH – Referral & Assessment "
    "Service)"
)


# --------------------------------------------------------------------------- reading pages


@dataclass
class Table:
    caption: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    """Each row's heading, then its cells' text."""
    withheld: list[list[bool]] = field(default_factory=list)
    """Per row and cell: whether the cell is marked withheld."""

    def cells(self, starts: str) -> tuple[list[str], list[bool]]:
        """The first row whose heading starts with `starts`: its texts, and which are marked
        withheld (the heading's included, first)."""
        for texts, flags in zip(self.rows, self.withheld, strict=True):
            if texts[0].startswith(starts):
                return texts, flags
        raise AssertionError(f"no row {starts!r} in {self.caption!r}: {[r[0] for r in self.rows]}")

    def row(self, starts: str) -> dict[str, str]:
        """The first row whose heading starts with `starts`, by column heading."""
        return dict(zip(self.columns, self.cells(starts)[0], strict=True))


class _Page(HTMLParser):
    """The tables of a page (by id), its JSON blocks (by id) and its script elements."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, Table] = {}
        self.json: dict[str, Any] = {}
        self.scripts: list[dict[str, str | None]] = []
        self._table: Table | None = None
        self._text: list[str] | None = None
        self._cell_withheld = False
        self._row: list[str] | None = None
        self._flags: list[bool] = []
        self._in_head = False
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id") or str(len(self.tables)), Table())
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr" and self._table is not None:
            self._row, self._flags = [], []
        elif tag in ("th", "td", "caption") and self._table is not None:
            self._text = []
            self._cell_withheld = "withheld" in (a.get("class") or "").split()
        elif tag == "script":
            self.scripts.append(a)
            self._script = a.get("id") if a.get("type") == "application/json" else None
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._text is not None:
            if self._script:
                self.json[self._script] = json.loads("".join(self._text))
            self._text, self._script = None, None
        elif tag == "caption" and self._table is not None and self._text is not None:
            self._table.caption = " ".join("".join(self._text).split())
            self._text = None
        elif tag in ("th", "td") and self._row is not None and self._text is not None:
            self._row.append(" ".join("".join(self._text).split()))
            self._flags.append(self._cell_withheld)
            self._text = None
        elif tag == "tr" and self._table is not None and self._row is not None:
            if self._in_head:
                self._table.columns = self._row  # the last heading row names the columns
            else:
                self._table.rows.append(self._row)
                self._table.withheld.append(self._flags)
            self._row = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def read(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def pct(share: float | None) -> str:
    """A share as the pages print it: whole percent, half up."""
    assert share is not None
    return f"{(Decimal(str(share)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)}%"


def change(points: float) -> str:
    size = Decimal(str(abs(points))).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return "0.0" if size == 0 else f"{'+' if points > 0 else '−'}{size}"


# --------------------------------------------------------------------------- fixtures


class Site:
    """The demo site: browsers signed in as each kind of user, and the API."""

    def __init__(self, url: str) -> None:
        settings = _settings(url)
        self.url = url
        self.engine = make_engine(settings)
        self.factory = make_session_factory(self.engine)
        self.tokens = staff_tokens(self.factory)
        self.app = create_app(settings)
        self.clients: dict[str, TestClient] = {}

    def browser(self, who: str) -> TestClient:
        """A client that asks for pages as a browser does, signed in as `who` ("anonymous" for
        nobody)."""
        if who not in self.clients:
            client = TestClient(self.app, headers={"accept": "text/html"})
            client.__enter__()
            if who != "anonymous":
                assert sign_in(client, f"{who}@example.org").status_code == 303
            self.clients[who] = client
        return self.clients[who]

    def page(self, path: str, who: str = "scrutiny", status: int = 200) -> _Page:
        reply = self.browser(who).get(path)
        assert reply.status_code == status, reply.text[:2000]
        return read(reply.text)

    def html(self, path: str, who: str = "scrutiny") -> str:
        """The page's HTML, its white space collapsed."""
        return " ".join(self.browser(who).get(path).text.split())

    def api(self, path: str) -> Any:
        reply = self.browser("anonymous").get(
            f"/api/v1/reports/{SURVEY}/{path}",
            headers={"authorization": f"Bearer {self.tokens['scrutiny']}", "accept": "*/*"},
        )
        assert reply.status_code == 200, reply.text
        return reply.json()

    def close(self) -> None:
        for client in self.clients.values():
            client.__exit__(None, None, None)
        self.engine.dispose()


@pytest.fixture(scope="module")
def site(demo_url: str) -> Iterator[Site]:
    site = Site(demo_url)
    yield site
    site.close()


@pytest.fixture(scope="module")
def compared(site: Site) -> list[dict[str, Any]]:
    """The whole 2014 to 2015 comparison, from the API: one row per group, question, option."""
    rows: list[dict[str, Any]] = site.api("compare?from=2014&to=2015")
    return rows


def by_question(rows: list[dict[str, Any]], group: str) -> dict[str, dict[str, Any]]:
    """One group's API rows, one per question (its printed number)."""
    found: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row["group"] == group:
            found.setdefault(row["number"], row)
    return found


def withheld(row: dict[str, Any], side: str) -> bool:
    """Whether the API withholds one side of a comparison: the group is there, its base not."""
    return row[f"team_{side}"] is not None and row[f"base_{side}"] is None


def raw_positive_share(site: Site, wave: str, team: str, question: str) -> float:
    """What suppression hides: a team's positive share worked out from the raw counts."""
    with site.factory() as session:
        opened = load_wave(session=session, survey_key=SURVEY, wave_key=wave)
        counts = answer_counts(session=session, wave_id=opened.id)
        asked = opened.published.by_key[question]
    options = {option.code: option for option in asked.options}
    mine = counts[(counts["team"] == team) & (counts["question"] == question)]
    counted = mine[mine["option"].map(lambda code: not options[code].excluded_from_base)]
    positive = counted[counted["option"].map(lambda code: options[code].positive)]
    return float(positive["count"].sum() / counted["count"].sum())


# --------------------------------------------------------------------------- access


def test_anonymous_browsers_are_sent_to_sign_in_and_a_user_without_a_role_is_refused(
    site: Site,
) -> None:
    for path in (
        "/results",
        OVERVIEW,
        f"{COMPARE}&section=key_basics",
        f"/results/{SURVEY}/waves/2015/teams/cf_first",
        f"/results/{SURVEY}/waves/2015/consistency",
    ):
        reply = site.browser("anonymous").get(path, follow_redirects=False)
        assert reply.status_code == 303
        assert reply.headers["location"] == f"/sign-in?next={quote(path.split('?')[0])}"
        assert site.browser("none").get(path).status_code == 403
        for role in ("scrutiny", "hr", "admin"):
            assert site.browser(role).get(path).status_code == 200, (role, path)


def test_pages_run_no_inline_script_and_load_plotly_from_the_app(site: Site) -> None:
    page = site.page(OVERVIEW)
    sources = [script.get("src") for script in page.scripts if script.get("src")]
    assert sources == ["/static/vendor/plotly.min.js", "/static/charts.js"]
    for script in page.scripts:
        assert script.get("src") or script.get("type") == "application/json", script
    assert page.json, "the charts' figures"
    bundle = site.browser("scrutiny").get("/static/vendor/plotly.min.js")
    assert bundle.status_code == 200 and "plotly" in bundle.text[:2000].lower()


def test_downloads_are_offered_to_hr_and_admin_only(site: Site) -> None:
    link = f'href="/exports/{SURVEY}/waves/2015.xlsx?by=team"'
    assert link in site.html(OVERVIEW, "hr")
    assert link in site.html(OVERVIEW, "admin")
    assert link not in site.html(OVERVIEW, "scrutiny")
    assert "compare.csv?from=2014&amp;to=2015" in site.html(f"{COMPARE}&section=key_basics", "hr")


# --------------------------------------------------------------------------- overview


def test_the_overview_response_profile_is_the_apis_with_the_split_labelled(site: Site) -> None:
    table = site.page(OVERVIEW).tables["response-profile"]
    assert table.columns[:5] == ["Team", "Responses", "Headcount", "Response rate", "1 person ="]
    for index, wave in enumerate(("2014", "2015")):
        for rate in site.api(f"waves/{wave}/response-rates"):
            name = "All teams" if rate["group"] == "(all)" else rate["group"]
            row = next(r for r in table.rows if r[0] == name or r[0].startswith(name + " ("))
            cells = row[1 + 4 * index : 5 + 4 * index]
            assert cells == [
                f"{rate['respondents']:,}",
                f"{rate['headcount']:,}",
                f"{rate['rate_pct']}%",
                f"{rate['one_person_pct']}%",
            ], (wave, name)
    assert table.row("MASH – Referral & Assessment Service")[
        "Team"
    ] == "MASH – Referral & Assessment Service (split after 2014 into MASH – CSE and " + (
        "Referral & Assessment Service)"
    )
    assert table.row("MASH – CSE")["Team"] == (
        "MASH – CSE (split from MASH – Referral & Assessment Service in 2015)"
    )
    assert table.cells("MASH – CSE")[0][1:3] == ["not a team in 2014", "–"]


def test_the_open_wave_shows_only_its_count_so_far(site: Site) -> None:
    """Nobody has answered the demo's open wave: its total is shown, every team withheld."""
    html = site.html(OVERVIEW)
    assert "2016</span>: open until" in html
    assert "results appear after the wave closes" in html
    assert 'Responses so far: <span class="">0 of 570 (0%)</span>' in html
    progress = site.html(f"/results/{SURVEY}/waves/2016/progress")
    assert progress.count(f'<td class="data-table__numeric withheld">{WITHHELD}</td>') == 2 * 17
    not_released = site.html(f"/results/{SURVEY}/waves/2016/teams")
    assert "Results appear after the wave closes" in not_released
    assert "still open" in not_released


def test_the_overview_indicators_are_the_apis(site: Site) -> None:
    table = site.page(OVERVIEW).tables["indicators"]
    indicators = site.api("indicators")
    assert len(table.rows) == len({row["indicator"] for row in indicators})
    assert table.columns == ["Indicator", "Target", *["Value", "Gap to target (points)"] * 2]
    for row in indicators:
        cells, _ = table.cells(row["title"])
        value = cells[2 if row["wave"] == "2014" else 4]
        if row["status"] == "not_asked":
            assert value == "not asked"
        else:
            assert value == pct(row["value_pct"] / 100), (row["title"], row["wave"])
        assert cells[1] == f"{row['target_pct']:g}%"


def test_the_overview_lists_exactly_the_significant_changes(
    site: Site, compared: list[dict[str, Any]]
) -> None:
    page = site.page(OVERVIEW)
    table = page.tables["changes-table-2014-2015"]
    overall = by_question(compared, "All teams")
    significant = {n: row for n, row in overall.items() if row["significant"]}
    assert len(significant) >= 10
    assert [r[0].split(" ")[0] for r in table.rows] == list(significant)
    for number, row in significant.items():
        shown = table.row(number + " ")
        assert shown["2014 positive"] == pct(row["positive_share_before"])
        assert shown["2015 positive"] == pct(row["positive_share_after"])
        assert shown["Change (points)"] == change(row["positive_change_pp"])
        assert shown["Significance at 95%"] == "significant"
    assert "4a: 79% in 2014, 89% in 2015, up 10.5 points, a significant change." in (
        site.html(OVERVIEW)
    )
    figure = page.json["changes-2014-2015-figure"]
    assert figure["data"][0]["x"] == list(significant)


def test_the_overview_shows_each_team_on_the_indicators_split_and_withheld(
    site: Site, compared: list[dict[str, Any]]
) -> None:
    table = site.page(OVERVIEW).tables["indicator-teams-2014-2015"]
    columns = [i for i, c in enumerate(table.columns) if c in ("2014", "2015")]
    indicators = ("4a", "11e", "14")  # in the table's order, each with its two waves' columns
    assert len(columns) == 2 * len(indicators)
    assert any(r["withheld"] for r in compared if r["number"] in indicators), (
        "the demo withholds some teams on an indicator"
    )
    pairs = [columns[i : i + 2] for i in range(0, len(columns), 2)]
    for number, pair in zip(indicators, pairs, strict=True):
        groups: dict[str, dict[str, Any]] = {}
        for row in compared:
            if row["number"] == number:
                groups.setdefault(row["group"], row)
        for group, row in groups.items():
            cells, flags = next(
                (texts, marks)
                for texts, marks in zip(table.rows, table.withheld, strict=True)
                if texts[0] == group
            )
            for side, index in zip(("before", "after"), pair, strict=True):
                if withheld(row, side):
                    assert cells[index] == WITHHELD and flags[index], (number, group, side)
                else:
                    assert cells[index] == pct(row[f"positive_share_{side}"]), (group, side)
                    assert not flags[index]
    assert any(r[0] == MASH_SPLIT for r in table.rows)


# --------------------------------------------------------------------------- year on year


def test_a_section_year_on_year_is_the_apis(site: Site, compared: list[dict[str, Any]]) -> None:
    page = site.page(f"{COMPARE}&section=key_basics")
    table = page.tables["positive-share-table"]
    overall = by_question(compared, "All teams")
    numbers = [r[0].split(" ")[0] for r in table.rows]
    assert numbers == [
        "1",
        "2",
        "3",
        "4a",
        "4b",
        "6a",
        "6b",
        "6c",
        "7a",
        "7b",
        "7c",
        "8",
        "9",
        "10",
    ]
    for number in numbers:
        row, shown = overall[number], table.row(number + " ")
        assert shown["2014 positive"] == pct(row["positive_share_before"])
        assert shown["2015 positive"] == pct(row["positive_share_after"])
        assert shown["Change (points)"] == change(row["positive_change_pp"])
        expected = "significant" if row["significant"] else "not significant"
        assert shown["Significance at 95%"] == expected
    # Question 5 changed its options: both years' answers side by side, with the note.
    five = page.tables["answers-table-5"]
    assert [r[0] for r in five.rows][:2] == ["2014: Yes", "2014: No"]
    api_five = [r for r in compared if r["number"] == "5" and r["group"] == "All teams"]
    for row in api_five:
        if row["label_after"] is not None:
            assert five.row(f"2015: {row['label_after']}")["Share"] == pct(row["share_after"])
    assert "Not comparable: 2014 asked" in site.html(f"{COMPARE}&section=key_basics")


def test_a_team_filter_shows_that_team_as_the_api_does_withheld_cells_withheld(
    site: Site, compared: list[dict[str, Any]]
) -> None:
    team = by_question(compared, "Residential – Gravel Hill")
    hidden_after = [n for n, row in team.items() if withheld(row, "after") and n.startswith("11")]
    assert hidden_after, "the demo withholds some of Gravel Hill's 2015 answers in section 11"
    page = site.page(f"{COMPARE}&section=task_assistance&team=residential_gravel_hill")
    table = page.tables["positive-share-table"]
    assert "Residential – Gravel Hill" in table.caption
    for number, row in team.items():
        if not number.startswith("11"):
            continue
        shown = table.row(number + " ")
        for side, column in (("before", "2014 positive"), ("after", "2015 positive")):
            if withheld(row, side):
                assert shown[column] == WITHHELD
            else:
                assert shown[column] == pct(row[f"positive_share_{side}"])
    first = hidden_after[0]
    hidden = raw_positive_share(
        site, "2015", "residential_gravel_hill", team[first]["question_after"]
    )
    row = table.row(first + " ")
    assert pct(hidden) not in row.values() and row["Change (points)"] == "–"
    figure = page.json["positive-share-figure"]
    after = next(t for t in figure["data"] if t["name"] == "2015")
    position = after["x"].index(first)
    assert after["y"][position] is None and after["text"][position] == "withheld: small group"


def test_the_split_team_is_compared_with_its_predecessor(
    site: Site, compared: list[dict[str, Any]]
) -> None:
    page = site.page(f"{COMPARE}&section=key_basics&team=mash_cse%2Breferral_assessment")
    table = page.tables["positive-share-table"]
    assert MASH_SPLIT in table.caption
    row = by_question(compared, MASH_SPLIT)["4a"]
    assert table.row("4a ")["2015 positive"] == pct(row["positive_share_after"])


def test_a_team_and_role_filter_together_is_refused_without_team_by_role_figures(
    site: Site,
) -> None:
    """The demo's waves leave the team × role breakdown off: a team or a role grouping, not
    both."""
    reply = site.browser("scrutiny").get(
        f"{COMPARE}&section=key_basics&team=cf_first&role=social_worker"
    )
    assert reply.status_code == 422
    refused = read(reply.text)
    assert "positive-share-table" not in refused.tables and not refused.json
    assert 'href="#team"' in reply.text
    assert "choose a team, or a role grouping, not both" in reply.text

    unknown = site.browser("scrutiny").get(f"{COMPARE}&section=key_basics&role=astronaut")
    assert unknown.status_code == 422
    assert "Choose a role grouping from the list" in unknown.text


def test_a_role_filter_alone_shows_that_role_grouping(site: Site) -> None:
    page = site.page(f"{COMPARE}&section=key_basics&role=social_worker")
    table = page.tables["positive-share-table"]
    assert "All teams, Social Worker" in table.caption
    # 112 Social Workers answered 4a in 2014 and 117 in 2015: a real group, shown.
    assert table.row("4a ")["2014 positive"].endswith("%")
    assert table.row("4a ")["2015 positive"].endswith("%")


# --------------------------------------------------------------------------- teams


def test_a_team_page_is_the_apis_with_its_lineage(
    site: Site, compared: list[dict[str, Any]]
) -> None:
    page = site.page(f"/results/{SURVEY}/waves/2015/teams/residential_gravel_hill")
    team = by_question(compared, "Residential – Gravel Hill")
    overall = by_question(compared, "All teams")
    table = page.tables["team-table-task_assistance"]
    withheld_seen = 0
    for number in [n for n in team if n.startswith("11")]:
        shown = table.row(number + " ")
        assert shown["All teams positive"] == pct(overall[number]["positive_share_after"])
        if withheld(team[number], "after"):
            withheld_seen += 1
            assert shown["Residential – Gravel Hill positive"] == WITHHELD
            assert shown["Answered"] == WITHHELD
            hidden = raw_positive_share(
                site, "2015", "residential_gravel_hill", team[number]["question_after"]
            )
            assert pct(hidden) not in shown.values()
        else:
            expected = pct(team[number]["positive_share_after"])
            assert shown["Residential – Gravel Hill positive"] == expected
            assert shown["Answered"] == str(team[number]["base_after"])
    assert withheld_seen


def test_the_split_teams_pages_say_where_they_came_from(site: Site) -> None:
    html = site.html(f"/results/{SURVEY}/waves/2015/teams/mash_cse")
    assert "MASH – Referral &amp; Assessment Service</a>, split in 2015 into this team and" in html
    assert f'href="/results/{SURVEY}/waves/2014/teams/mash_referral_assessment"' in html
    earlier = site.html(f"/results/{SURVEY}/waves/2014/teams/mash_referral_assessment")
    assert re.search(r"In 2015: <a [^>]+>MASH – CSE</a> and <a [^>]+>Referral", earlier)
    assert "(split)" in earlier
    link = re.search(r'href="([^"]+)">This team year on year', html)
    assert link, "the team page links to the team year on year"
    year_on_year = site.page(link.group(1).replace("&amp;", "&"))
    assert MASH_SPLIT in year_on_year.tables["positive-share-table"].caption
    together = site.page(f"/results/{SURVEY}/waves/2015/teams")
    assert any(
        r[0].startswith("MASH – CSE + Referral & Assessment Service (together)")
        for r in together.tables["teams"].rows
    )


def test_the_consistency_view_is_the_services(site: Site) -> None:
    page = site.page(f"/results/{SURVEY}/waves/2015/consistency")
    table = page.tables["consistency-table-task_assistance"]
    eleven_a = table.row("11a ")
    assert eleven_a["Teams shown"].endswith("of 17")
    assert (
        int(eleven_a["Teams significantly above the rest"])
        + int(eleven_a["Teams significantly below the rest"])
        >= 2
    )
    low, high = (int(eleven_a[c].rstrip("%")) for c in ("Lowest team", "Highest team"))
    assert high - low > 40


def test_every_section_and_every_team_page_opens(site: Site) -> None:
    sections = re.findall(r'section=(\w+)"', site.html(f"{COMPARE}&section=key_basics"))
    assert len(set(sections)) >= 10
    for section in dict.fromkeys(sections):
        page = site.page(f"{COMPARE}&section={section}")
        assert page.json, section
    for wave in ("2014", "2015"):
        teams = site.page(f"/results/{SURVEY}/waves/{wave}/teams").tables["teams"]
        assert len(teams.rows) == (16 if wave == "2014" else 18)
        html = site.html(f"/results/{SURVEY}/waves/{wave}/teams")
        for key in dict.fromkeys(re.findall(rf"/waves/{wave}/teams/([\w+]+)\"", html)):
            assert site.page(f"/results/{SURVEY}/waves/{wave}/teams/{key}").json, key
