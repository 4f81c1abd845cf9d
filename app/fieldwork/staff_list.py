"""Reading a wave's staff list from a CSV file `email,team`, each line checked on its own so the
survey owner sees every problem at once, by line number as a spreadsheet numbers them."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

HEADER = ["email", "team"]
EMAIL_LENGTH = 320
LIST_LIMIT = 20_000
"""More people than any council's social-care workforce: a larger file is a mistake."""
ADDRESS = re.compile(r"[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\".]+")
"""An address a mail server will take: something, an @, a domain with a dot. Whether the
mailbox exists only the mail server can say."""


@dataclass(frozen=True)
class StaffMember:
    line: int
    """The line in the file, the header being line 1."""
    email: str
    team_key: str
    team_name: str


@dataclass(frozen=True)
class StaffList:
    people: list[StaffMember] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Each problem, naming its line; a list with any is not stored at all."""


def read_staff_list(text: str, teams: dict[str, str]) -> StaffList:
    """`teams` maps each team key of the wave's version to its name; the file may give either.
    Addresses are compared without regard to case."""
    try:
        records = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except csv.Error as error:
        return StaffList(problems=[f"The file is not CSV: {error}"])
    if not records or [cell.strip().lower() for cell in records[0]] != HEADER:
        return StaffList(problems=["The first line must be the header: email,team"])
    by_name = {name.casefold(): key for key, name in teams.items()}
    first_line: dict[str, int] = {}
    people, problems = [], []
    for line, cells in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        member, problem = _read_line(line, cells, teams, by_name, first_line)
        if problem:
            problems.append(f"Line {line}: {problem}")
        elif member:
            people.append(member)
    if not people and not problems:
        problems.append("The file lists nobody: add a line email,team for each person")
    if len(people) > LIST_LIMIT:
        problems.append(f"The file lists {len(people):,} people: at most {LIST_LIMIT:,} at once")
    return StaffList(people=people, problems=problems)


def _read_line(
    line: int,
    cells: list[str],
    teams: dict[str, str],
    by_name: dict[str, str],
    first_line: dict[str, int],
) -> tuple[StaffMember | None, str | None]:
    if len(cells) != 2:
        return None, f"expected 2 columns, email and team, but found {len(cells)}"
    email, written_team = (cell.strip() for cell in cells)
    team_key = written_team if written_team in teams else by_name.get(written_team.casefold())
    if len(email) > EMAIL_LENGTH or not ADDRESS.fullmatch(email):
        return None, f"{email!r} is not an email address"
    folded = email.casefold()
    if folded in first_line:
        return None, f"{email} appears again (first on line {first_line[folded]})"
    first_line[folded] = line
    if team_key is None:
        return None, f"no team {written_team!r} in this wave's version (give its key or name)"
    return StaffMember(line, email, team_key, teams[team_key]), None
