"""An export's tables as files: one XLSX workbook, or one CSV file per table.

Text that a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage return,
such as a team named `=HYPERLINK(...)`) is written as text: in XLSX as an explicit string cell,
marked to stay text if edited; in CSV behind an apostrophe, which Excel and LibreOffice show as
text. Numbers stay numbers in XLSX. CSV is UTF-8 with a byte-order mark, without which Excel reads
it in the machine's legacy code page and garbles names such as "MASH – CSE".
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.cell import Cell as XlsxCell
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from app.cache import FrozenCache
from app.exports.service import Export, ExportRow, Part, SectionRow, Table

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SHEET_NAME_LENGTH = 31
SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
SHEET_TITLES = {Part.notes: "notes", Part.response_profile: "Response profile"}
MAX_COLUMN_WIDTH = 60
_WORKBOOKS: FrozenCache[bytes] = FrozenCache(size=16)
Cell = str | int | float | bool | None


def file_name(export: Export, extension: str, part: Part = Part.results) -> str:
    """e.g. coventry-supervision-2015-by-team.xlsx, or ...-notes.csv for a CSV's notes."""
    stem = export.name if part == Part.results else f"{export.name}-{part}"
    return re.sub(r"[^A-Za-z0-9._-]", "-", stem) + extension


def csv_bytes(table: Table) -> bytes:
    """One table, headed by its column titles."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(_headings(table.row_type))
    writer.writerows([_csv_cell(value) for value in _values(row)] for row in table.rows)
    return text.getvalue().encode("utf-8-sig")


def _csv_cell(value: Cell) -> Cell:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def xlsx_bytes(export: Export) -> bytes:
    """The notes first, then the response profile, then one sheet per questionnaire section;
    written once per export."""
    return _WORKBOOKS.get_or_make(export.made_from, lambda: _workbook(export))


def _workbook(export: Export) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]  # its one empty default sheet
    names = _UniqueNames()
    for part in (Part.notes, Part.response_profile):
        _fill(workbook.create_sheet(names.claim(SHEET_TITLES[part])), export.tables[part])
    results = export.tables[Part.results]
    for section, rows in _by_section(results.rows).items():
        sheet = workbook.create_sheet(names.claim(section))
        _fill(sheet, Table(results.row_type, rows))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _by_section(rows: Iterable[ExportRow]) -> dict[str, list[ExportRow]]:
    sections: dict[str, list[ExportRow]] = {}
    for row in rows:
        assert isinstance(row, SectionRow)
        sections.setdefault(row.section, []).append(row)
    return sections


def _headings(row_type: type[ExportRow]) -> list[str]:
    return [field.title or name for name, field in row_type.model_fields.items()]


def _values(row: ExportRow) -> list[Cell]:
    return [getattr(row, name) for name in type(row).model_fields]


def _fill(sheet: Worksheet, table: Table) -> None:
    """Headings in bold, frozen and filterable; text as text, numbers as numbers."""
    headings = _headings(table.row_type)
    sheet.append(headings)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    formats = [table.row_type.NUMBER_FORMATS.get(name) for name in table.row_type.model_fields]
    widths = [len(heading) for heading in headings]
    for row_number, row in enumerate(table.rows, start=2):
        for column, value in enumerate(_values(row), start=1):
            cell = sheet.cell(row=row_number, column=column)
            assert isinstance(cell, XlsxCell), "a new sheet has no merged cells"
            _write(cell, value, formats[column - 1])
            widths[column - 1] = max(widths[column - 1], len(str(value or "")))
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(column)].width = min(width, MAX_COLUMN_WIDTH) + 2
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions


def _write(cell: XlsxCell, value: Cell, number_format: str | None) -> None:
    if isinstance(value, str):
        text = ILLEGAL_CHARACTERS_RE.sub("", value)  # control characters XLSX cannot hold
        cell.value = text
        cell.data_type = "s"  # never a formula, whatever it starts with
        cell.quotePrefix = text.startswith(FORMULA_STARTS)
    else:
        cell.value = value
        if number_format is not None:
            cell.number_format = number_format


class _UniqueNames:
    """Valid, distinct sheet names: at most 31 characters, none of []:*?/\\, no leading or
    trailing apostrophe, and unique ignoring case, as Excel requires."""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, title: str) -> str:
        cleaned = " ".join(SHEET_NAME_FORBIDDEN.sub(" ", title).split()).strip("'. ")
        base = _shortened(cleaned or "Section", SHEET_NAME_LENGTH)
        name, copy = base, 1
        while name.lower() in self._taken:
            copy += 1
            suffix = f" ({copy})"
            name = _shortened(base, SHEET_NAME_LENGTH - len(suffix)) + suffix
        self._taken.add(name.lower())
        return name


def _shortened(text: str, length: int) -> str:
    """At most `length` characters, cut at a word break where one is near the end."""
    if len(text) <= length:
        return text
    cut = text[:length]
    space = cut.rfind(" ")
    return (cut[:space] if space >= length // 2 else cut).rstrip("'. ")
