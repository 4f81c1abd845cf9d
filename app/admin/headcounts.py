"""Reading a wave's headcounts from a CSV file `team,headcount`, each row checked on its own so
the survey owner sees every problem at once, by row number as a spreadsheet numbers them."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from app.admin.service import HEADCOUNT_LIMIT
from app.admin.web import FormError

HEADER = ["team", "headcount"]
FILE_FIELD = "headcounts"


@dataclass(frozen=True)
class WaveTeam:
    id: int
    key: str
    name: str
    headcount: int
    """This wave's, as stored now."""


@dataclass(frozen=True)
class HeadcountRow:
    number: int
    """The row in the file, the header being row 1."""
    team_as_written: str
    headcount_as_written: str
    team: WaveTeam | None = None
    headcount: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class HeadcountFile:
    rows: list[HeadcountRow] = field(default_factory=list)
    errors: list[FormError] = field(default_factory=list)
    """Each problem, linked to its row of the preview (or to the file field)."""

    def headcounts(self) -> dict[int, int]:
        """Team id to headcount; only for a file without errors."""
        assert not self.errors
        return {
            row.team.id: row.headcount
            for row in self.rows
            if row.team is not None and row.headcount is not None
        }


def read_headcounts(text: str, teams: list[WaveTeam]) -> HeadcountFile:
    """Every team must appear once, by key or exact name, with a whole number of people."""
    try:
        records = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        return HeadcountFile(errors=[FormError(FILE_FIELD, f"The file is not CSV: {error}")])
    if not records or [cell.strip().lower() for cell in records[0]] != HEADER:
        return HeadcountFile(
            errors=[FormError(FILE_FIELD, "The first row must be the header: team,headcount")]
        )
    by_key = {team.key: team for team in teams}
    by_name = {team.name: team for team in teams}
    first_row: dict[int, int] = {}
    rows = [
        _read_row(number, cells, by_key, by_name, first_row)
        for number, cells in enumerate(records[1:], start=2)
        if any(cell.strip() for cell in cells)
    ]
    errors = [
        FormError(f"row-{row.number}", f"Row {row.number}: {row.problem}")
        for row in rows
        if row.problem
    ]
    missing = [team.name for team in teams if team.id not in first_row]
    if missing:
        errors.append(
            FormError(FILE_FIELD, f"Every team needs a headcount; missing: {', '.join(missing)}")
        )
    return HeadcountFile(rows=rows, errors=errors)


def _read_row(
    number: int,
    cells: list[str],
    by_key: dict[str, WaveTeam],
    by_name: dict[str, WaveTeam],
    first_row: dict[int, int],
) -> HeadcountRow:
    if len(cells) != 2:
        return HeadcountRow(
            number,
            ",".join(cells),
            "",
            problem=f"expected 2 columns, team and headcount, but found {len(cells)}",
        )
    written_team, written_count = (cell.strip() for cell in cells)
    team = by_key.get(written_team) or by_name.get(written_team)
    problem = None
    headcount = _whole_number(written_count)
    if team is None:
        problem = f"no team {written_team!r} in this wave's version (give its key or exact name)"
    elif team.id in first_row:
        problem = f"{team.name} appears again (first on row {first_row[team.id]})"
    elif headcount is None:
        problem = f"the headcount {written_count!r} is not a whole number"
    elif headcount < 0:
        problem = f"the headcount {headcount} is negative"
    elif headcount > HEADCOUNT_LIMIT:
        problem = f"the headcount {headcount} is more than {HEADCOUNT_LIMIT:,}"
    if team is not None and team.id not in first_row:
        first_row[team.id] = number
    return HeadcountRow(number, written_team, written_count, team, headcount, problem)


def _whole_number(written: str) -> int | None:
    digits = written.replace(",", "")
    return int(digits) if re.fullmatch(r"-?[0-9]+", digits) else None
