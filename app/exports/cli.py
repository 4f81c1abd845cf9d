"""`supervision-survey export`: the HR downloads, written to a file from the command line.

The files are the ones the web app serves at /exports/...: one wave by team or role grouping
(`--wave`), or year on year (`--from` and `--to`). A CSV export is three files: the results at
`--out`, and beside it `-response-profile.csv` and `-notes.csv`.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer

from app.config import Settings
from app.db import make_engine, make_session_factory, transaction

if TYPE_CHECKING:
    from app.surveys.definitions import ResolvedQuestion


class Breakdown(StrEnum):
    team = "team"
    role = "role"


class FileFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


def export(
    survey: Annotated[str, typer.Option("--survey", help="Survey key, e.g. coventry-supervision")],
    out: Annotated[Path, typer.Option("--out", help="The file to write (replaced if it exists)")],
    wave: Annotated[str | None, typer.Option("--wave", help="One wave's results")] = None,
    by: Annotated[Breakdown, typer.Option("--by", help="With --wave: team or role")] = (
        Breakdown.team
    ),
    from_wave: Annotated[
        str | None, typer.Option("--from", help="Year on year by team: the earlier wave")
    ] = None,
    to_wave: Annotated[
        str | None, typer.Option("--to", help="Year on year by team: the later wave")
    ] = None,
    file_format: Annotated[
        FileFormat | None,
        typer.Option("--format", help="csv or xlsx; by default from the extension of --out"),
    ] = None,
) -> None:
    """Export a closed wave's results by team or role grouping (--wave), or year on year
    (--from and --to), as XLSX or CSV; every figure suppressed as on the pages."""
    from app.exports.files import csv_bytes, xlsx_bytes
    from app.exports.service import Part, comparison_export, wave_export
    from app.reports.service import ResultsNotReleased
    from app.surveys.service import NotFound

    if (wave is None) == (from_wave is None and to_wave is None):
        _fail("Give either --wave, or --from and --to.")
    if wave is None and (from_wave is None or to_wave is None):
        _fail("Year on year needs both --from and --to.")
    chosen = file_format or (FileFormat.csv if out.suffix.lower() == ".csv" else FileFormat.xlsx)
    settings = Settings()
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    _check_writable(out)
    try:
        with transaction(make_session_factory(make_engine(settings))) as session:
            if wave is not None:
                made = wave_export(
                    session=session, survey_key=survey, wave_key=wave, by=by.value,
                    today=today, progress=_progress_bar,
                )  # fmt: skip
            else:
                assert from_wave is not None and to_wave is not None
                made = comparison_export(
                    session=session, survey_key=survey, from_wave=from_wave, to_wave=to_wave,
                    today=today, progress=_progress_bar,
                )  # fmt: skip
    except (NotFound, ResultsNotReleased) as error:
        _fail(str(error))
    if chosen == FileFormat.xlsx:
        files = {out: xlsx_bytes(made)}
    else:
        files = {
            out if part == Part.results else out.with_name(f"{out.stem}-{part}.csv"): csv_bytes(
                made.tables[part]
            )
            for part in Part
        }
    for path, content in files.items():
        try:
            path.write_bytes(content)
        except OSError as error:
            _fail(f"Cannot write {path}: {error.strerror}")
        typer.echo(f"wrote {path}")


def _progress_bar(questions: Sequence[ResolvedQuestion]) -> Iterator[ResolvedQuestion]:
    with typer.progressbar(questions, label="Questions", file=sys.stderr) as bar:
        yield from bar


def _check_writable(out: Path) -> None:
    """Before the work, not after it: a path that cannot be written is a clear error."""
    folder = out.parent
    if out.is_dir():
        _fail(f"{out} is a folder: give a file name")
    if not folder.is_dir():
        _fail(f"Cannot write {out}: there is no folder {folder}")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        _fail(f"Cannot write {out}: permission denied")


def _fail(message: str) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
