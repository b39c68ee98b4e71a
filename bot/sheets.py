"""Every spreadsheet rectbot writes goes through here: text is text, never a formula.

Names, findings and Telegram display names are typed by people outside the bureau. openpyxl
turns any str starting with "=" into a live formula and Excel runs CSV cells starting with
= + - @ (and tab or CR) as formulas, so a department called =HYPERLINK(...) became a link in
the bureau's own ledger. Here XLSX text cells get the string data type explicitly (and Excel's
quote prefix, so editing the cell keeps it text), CSV text cells that Excel would evaluate get
the OWASP prefix (a leading '), and characters Excel cannot hold are dropped so that data
stored before the input sanitiser (bot/text.py) still exports. The ledger, the budget sheet and
later the bulletin and statistics use `XlsxSheet` and `csv_bytes`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time
from typing import Any

# What XML 1.0 (so XLSX) cannot contain, plus C1 controls, DEL, lone surrogates and U+FFFE/U+FFFF.
_NOT_IN_EXCEL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
EXCEL_CELL_CHARS = 32_767          # Excel's own limit for one cell
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
CSV_ESCAPE = "'"

Cell = str | int | float | bool | date | datetime | time | None


def excel_text(value: str) -> str:
    """The text without what Excel cannot hold, cut to Excel's cell limit."""
    return _NOT_IN_EXCEL.sub("", value)[:EXCEL_CELL_CHARS]


def looks_like_formula(text: str) -> bool:
    """Would Excel (or LibreOffice) evaluate this text when it is a CSV cell?"""
    return text.startswith(FORMULA_TRIGGERS)


def safe_csv_value(value: Any) -> str | int | float:
    """One CSV cell: dates as ISO text, numbers as they are, text cleaned and OWASP-prefixed when risky."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    text = excel_text(str(value))
    return CSV_ESCAPE + text if looks_like_formula(text) else text


def unescape_csv_value(text: str) -> str:
    """Undo `safe_csv_value`'s prefix, so that importing our own CSV export gives back the same text."""
    if text.startswith(CSV_ESCAPE) and looks_like_formula(text[1:]):
        return text[1:]
    return text


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """UTF-8 with BOM (so that Excel opens Chinese correctly), every cell through `safe_csv_value`."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([safe_csv_value(h) for h in header])
    for row in rows:
        writer.writerow([safe_csv_value(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


class XlsxSheet:
    """A one-sheet write-only workbook whose text cells can never be formulas.

    Frozen header row, column widths, optional fill and date format per row; `to_bytes` saves it.
    """

    def __init__(self, title: str, widths: Sequence[float] = ()) -> None:
        from openpyxl import Workbook
        from openpyxl.utils import get_column_letter

        self._wb = Workbook(write_only=True)
        self._ws = self._wb.create_sheet(excel_text(title)[:31] or "Sheet1")
        self._ws.freeze_panes = "A2"
        for i, width in enumerate(widths, start=1):
            self._ws.column_dimensions[get_column_letter(i)].width = width

    def cell(self, value: Any, *, fill: Any = None, font: Any = None, alignment: Any = None,
             date_format: str | None = "yyyy-mm-dd", number_format: str | None = None) -> Any:
        """One cell: text forced to the string type, dates as real Excel dates, numbers as numbers."""
        from openpyxl.cell import WriteOnlyCell

        if isinstance(value, str):
            text = excel_text(value)
            cell = WriteOnlyCell(self._ws, value=text)
            cell.data_type = "s"     # after the value: its setter makes any "=…" a formula
            if looks_like_formula(text):
                cell.quotePrefix = True  # Excel keeps it text even when someone edits the cell
        else:
            cell = WriteOnlyCell(self._ws, value=value)
            if isinstance(value, date) and date_format:
                cell.number_format = date_format
            elif number_format and isinstance(value, int | float):
                cell.number_format = number_format
        if fill is not None:
            cell.fill = fill
        if font is not None:
            cell.font = font
        if alignment is not None:
            cell.alignment = alignment
        return cell

    def header(self, labels: Sequence[str]) -> None:
        """The bold, centred first row."""
        from openpyxl.styles import Alignment, Font

        bold, centre = Font(bold=True), Alignment(horizontal="center")
        self._ws.append([self.cell(label, font=bold, alignment=centre) for label in labels])

    def row(self, values: Sequence[Any], *, fill: Any = None, fills: Mapping[int, Any] | None = None,
            formats: Mapping[int, str] | None = None) -> None:
        """One row; `fills` gives some columns (0-based) their own background over the row's `fill`, `formats`
        their own number format (Excel's, e.g. "0.00" or "0.0%") so that numbers stay numbers a reader can sort."""
        own, shapes = fills or {}, formats or {}
        self._ws.append([self.cell(v, fill=own.get(i, fill), number_format=shapes.get(i))
                         for i, v in enumerate(values)])

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        self._wb.save(buf)
        return buf.getvalue()


def solid_fill(argb: str) -> Any:
    """A solid background (for highlighted rows) without the caller importing openpyxl."""
    from openpyxl.styles import PatternFill

    return PatternFill(fill_type="solid", start_color=argb, end_color=argb)
