"""Any report as .xlsx: a summary sheet (the shaped tables) and a data sheet.

Numbers are numbers, money is euros with a € number format, dates are Excel dates,
headers are Finnish with English. The data sheet holds the report's detail rows streamed
from the database in partitions (xlsxwriter's constant-memory mode writes each row out as
it goes), or, for a report without detail rows, its "data" table. The workbook is built
with xlsxwriter, the register export's writer (see register/exporter.py for the choice).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.formatting import fi_date, fi_datetime
from membook_app.reports.registry import (
    SYSTEM,
    Column,
    Filters,
    ReportResult,
    get_report,
    run_report,
)
from models import utcnow

PARTITION = 2000
MONEY_FORMAT = '#,##0.00 "€"'
DATE_FORMAT = "d.m.yyyy"
SHEET_SUMMARY = "Yhteenveto"
SHEET_DATA = "Tiedot"
MAX_DATA_ROWS = 1_000_000  # Excel's own limit is 1,048,576 rows


class CellFormats:
    """Typed cells on one xlsxwriter workbook (the formats made once)."""

    def __init__(self, workbook: Any) -> None:
        self.bold = workbook.add_format({"bold": True})
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.header = workbook.add_format({"bold": True, "bg_color": "#E8EEF4", "bottom": 1,
                                           "text_wrap": True})
        self.money = workbook.add_format({"num_format": MONEY_FORMAT})
        self.date = workbook.add_format({"num_format": DATE_FORMAT})
        # A total row: bold, with a line above it.
        self.total = {kind: workbook.add_format({"bold": True, "top": 1, **extra})
                      for kind, extra in (("text", {}), ("int", {}),
                                          ("money", {"num_format": MONEY_FORMAT}),
                                          ("date", {"num_format": DATE_FORMAT}))}

    def headers(self, sheet: Any, row: int, columns: Sequence[Column]) -> None:
        for i, column in enumerate(columns):
            sheet.write_string(row, i, column.header, self.header)

    def row(self, sheet: Any, row: int, columns: Sequence[Column], values: Sequence[Any],
            total: bool = False) -> None:
        """One row of typed cells; `total`: the bold total row."""
        for i, (column, value) in enumerate(zip(columns, values, strict=True)):
            style = self.total[column.kind] if total else None
            if value is None:
                if total:
                    sheet.write_blank(row, i, None, style)
                continue
            if column.kind == "money":
                sheet.write_number(row, i, int(value) / 100, style or self.money)
            elif column.kind == "int":
                sheet.write_number(row, i, int(value), style)
            elif column.kind == "date":
                day = value.date() if isinstance(value, datetime) else value
                sheet.write_datetime(row, i, datetime(day.year, day.month, day.day),
                                     style or self.date)
            else:
                sheet.write_string(row, i, str(value), style)


def column_widths(sheet: Any, columns: Sequence[Column]) -> None:
    """Widths by column kind, so money and dates fit and text columns stay readable."""
    for i, column in enumerate(columns):
        width = 14 if column.kind in ("money", "date", "int") else 24
        sheet.set_column(i, i, max(width, min(40, len(column.fi) + 4)))


def open_workbook(target: Any) -> tuple[Any, CellFormats]:
    """A streaming xlsxwriter workbook and its cell formats.

    Text is written as text: a member's "0401234567" or "=SUM()" must not turn into a
    number, a formula or a link in a treasurer's spreadsheet.
    """
    import xlsxwriter

    workbook = xlsxwriter.Workbook(target, {"constant_memory": True,
                                            "strings_to_numbers": False,
                                            "strings_to_formulas": False,
                                            "strings_to_urls": False})
    return workbook, CellFormats(workbook)


def write_report(target: Any, result: ReportResult, detail_rows: Iterable[Sequence[Any]] | None,
                 generated: datetime) -> int:
    """Write the workbook to `target` (a path or a binary file); returns the data rows."""
    report, scope = result.report, result.scope
    workbook, cells = open_workbook(target)
    try:
        summary = workbook.add_worksheet(SHEET_SUMMARY)
        summary.set_column(0, 0, 34)
        summary.set_column(1, 12, 16)
        summary.write_string(0, 0, f"{report.fi} / {report.en}", cells.title)
        dates = " – ".join(fi_date(d) for d in (scope.date_from, scope.date_to) if d)
        # A report that reads no dates has no date range to show (resolve drops them).
        info = [("Yhdistys / Organisation", scope.organization_name),
                *([("Aikaväli / Dates", dates or "–")] if report.filters else []),
                ("Laadittu / Generated", fi_datetime(generated)), *[
                    ("Huom. / Note", note) for note in report.notes]]
        row = 2
        for label, value in info:
            summary.write_string(row, 0, label, cells.bold)
            summary.write_string(row, 1, value)
            row += 1
        for table in result.tables:
            row += 1
            summary.write_string(row, 0, f"{table.fi} / {table.en}", cells.bold)
            row += 1
            cells.headers(summary, row, table.columns)
            records, total = table.split_total()
            for values in records:
                row += 1
                cells.row(summary, row, table.columns, values)
            if total is not None:
                row += 1
                cells.row(summary, row, table.columns, total, total=True)
            row += 1

        data = workbook.add_worksheet(SHEET_DATA)
        total = None
        if detail_rows is not None:
            columns: Sequence[Column] = report.detail_columns
            rows: Iterable[Sequence[Any]] = detail_rows
        else:
            table = next((t for t in result.tables if t.key == "data"), result.tables[0])
            columns = table.columns
            rows, total = table.split_total()
        column_widths(data, columns)
        cells.headers(data, 0, columns)
        data.freeze_panes(1, 0)
        count = 0
        for count, values in enumerate(rows, start=1):
            if count > MAX_DATA_ROWS:
                count -= 1
                break
            cells.row(data, count, columns, values)
        data.autofilter(0, 0, max(count, 1), len(columns) - 1)
        if total is not None:  # after a blank row, outside the filter: sorting leaves it be
            cells.row(data, count + 2, columns, total, total=True)
    finally:
        workbook.close()
    return count


def export_report(session: Session, actor: Actor | None, name: str, filters: Filters,
                  target: Any = None) -> bytes | int:
    """The report as .xlsx for the asker: into `target` (path or file; returns the number of
    data rows), or, without a target, as bytes. `actor` None is the system (the command
    line on the server). Audited as `report.exported`, since a report can carry personal
    data."""
    report = get_report(name)
    result = run_report(session, actor or SYSTEM, name, filters)
    detail = None
    if report.detail is not None:
        stmt = report.detail(result.scope).execution_options(yield_per=PARTITION)
        detail = (tuple(r) for part in session.execute(stmt).partitions() for r in part)
    buffer = io.BytesIO() if target is None else target
    count = write_report(buffer, result, detail, utcnow())
    audit.record(session, actor, "report.exported", "organization", filters.organization_id,
                 organization_id=filters.organization_id,
                 after={"report": name, "rows": count,
                        "date_from": _iso(filters.date_from), "date_to": _iso(filters.date_to)})
    return buffer.getvalue() if target is None else count


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
