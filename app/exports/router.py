"""HR exports: CSV and XLSX downloads of what the pages show. HR and admin staff only, signed in
or with an API token; closed waves only (409 while a wave is open), every figure suppressed.

A CSV file holds one table; `part` chooses which: the results (the default), the response
profile, or the notes that explain the markers and the threshold. The XLSX workbook holds all
three.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from app.accounts.deps import require_role
from app.accounts.models import Role
from app.deps import SessionDep, TodayDep, commits_in_thread
from app.exports.files import CSV_TYPE, XLSX_TYPE, csv_bytes, file_name, xlsx_bytes
from app.exports.service import ExportBreakdown, Part, comparison_export, wave_export

router = APIRouter(
    prefix="/exports",
    tags=["exports"],
    dependencies=[Depends(require_role(Role.hr, Role.admin))],
)

ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such survey or wave, or the waves are not consecutive versions"},
    409: {"description": "The wave is still open: its results are not released"},
}
PartQuery = Annotated[
    Part, Query(description="Which table: the results, the response profile or the notes")
]
FromQuery = Annotated[str, Query(alias="from", description="The earlier wave")]
ToQuery = Annotated[str, Query(alias="to", description="The later wave")]


def _file(media_type: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"content": {media_type: {}}, "description": "The file, as an attachment"},
        **ERRORS,
    }


def _download(content: bytes, media_type: str, name: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/{survey}/waves/{wave}.xlsx", response_class=Response, responses=_file(XLSX_TYPE))
@commits_in_thread
def wave_xlsx(
    survey: str, wave: str, session: SessionDep, today: TodayDep, by: ExportBreakdown = "team"
) -> Response:
    """Every question of a closed wave by team or role grouping: a sheet per section, the
    response profile and the notes."""
    export = wave_export(session=session, survey_key=survey, wave_key=wave, by=by, today=today)
    return _download(xlsx_bytes(export), XLSX_TYPE, file_name(export, ".xlsx"))


@router.get("/{survey}/waves/{wave}.csv", response_class=Response, responses=_file(CSV_TYPE))
@commits_in_thread
def wave_csv(
    survey: str,
    wave: str,
    session: SessionDep,
    today: TodayDep,
    by: ExportBreakdown = "team",
    part: PartQuery = Part.results,
) -> Response:
    """One table of a closed wave's export, UTF-8 with a byte-order mark."""
    export = wave_export(session=session, survey_key=survey, wave_key=wave, by=by, today=today)
    return _download(csv_bytes(export.tables[part]), CSV_TYPE, file_name(export, ".csv", part))


@router.get("/{survey}/compare.xlsx", response_class=Response, responses=_file(XLSX_TYPE))
@commits_in_thread
def compare_xlsx(
    survey: str, session: SessionDep, today: TodayDep, from_wave: FromQuery, to_wave: ToQuery
) -> Response:
    """Year on year by team, for every question the later wave continues."""
    export = comparison_export(
        session=session, survey_key=survey, from_wave=from_wave, to_wave=to_wave, today=today
    )
    return _download(xlsx_bytes(export), XLSX_TYPE, file_name(export, ".xlsx"))


@router.get("/{survey}/compare.csv", response_class=Response, responses=_file(CSV_TYPE))
@commits_in_thread
def compare_csv(
    survey: str,
    session: SessionDep,
    today: TodayDep,
    from_wave: FromQuery,
    to_wave: ToQuery,
    part: PartQuery = Part.results,
) -> Response:
    """One table of the year-on-year export, UTF-8 with a byte-order mark."""
    export = comparison_export(
        session=session, survey_key=survey, from_wave=from_wave, to_wave=to_wave, today=today
    )
    return _download(csv_bytes(export.tables[part]), CSV_TYPE, file_name(export, ".csv", part))
