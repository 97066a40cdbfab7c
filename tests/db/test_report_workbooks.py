"""What a treasurer sees in a report's workbook: a total row that sorting leaves alone,
each header once, words instead of codes, and no date range on a report that reads none.
The data of tests/db/test_reports.py, on SQLite and PostgreSQL, through the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from membook_app.reports.registry import TOTAL_LABEL
from tests.db.test_cli import membook
from tests.db.test_reports import AS_OF, Data, build_data


@pytest.fixture
def data(db_url: str) -> Data:
    return build_data(db_url)


def _export(data: Data, tmp_path: Path, name: str, *args: str) -> tuple[Any, str]:
    out = tmp_path / f"{name}.xlsx"
    result = membook(data.world.url, "report", name, *args, "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return load_workbook(out), result.stderr


def _headers(book: Any) -> list[str]:
    return [str(c.value) for sheet in book for row in sheet.iter_rows()
            for c in row if c.font is not None and c.font.b and c.value
            and " / " in str(c.value)]


def test_total_row_outside_the_filter_and_bold(data: Data, tmp_path: Path) -> None:
    """register-summary has no detail rows: its data sheet is its "data" table, whose
    total row comes after a blank row, below the auto-filter's range."""
    book, _ = _export(data, tmp_path, "register-summary", "--org", "Liitto ry")
    sheet = book["Tiedot"]
    rows = list(sheet.iter_rows())
    labels = [r[0].value for r in rows]
    total_at = labels.index(TOTAL_LABEL)  # 0-based: the sheet row is total_at + 1
    assert labels[total_at - 1] is None  # the blank row
    filtered = sheet.auto_filter.ref
    assert filtered == f"A1:{rows[0][-1].column_letter}{total_at - 1}"
    assert TOTAL_LABEL not in labels[:total_at - 1]
    assert all(c.font.b for c in rows[total_at] if c.value is not None)
    body = rows[1:total_at - 1]
    members = sum(r[-1].value for r in body)
    assert rows[total_at][-1].value == members > 0
    summary = [r for r in book["Yhteenveto"].iter_rows() if r[0].value == TOTAL_LABEL]
    assert summary and all(r[0].font.b for r in summary)


def test_headers_once_and_line_kinds_in_words(data: Data, tmp_path: Path) -> None:
    book, _ = _export(data, tmp_path, "register-summary", "--org", "Liitto ry")
    headers = _headers(book)
    assert "aktiivinen (active)" in [str(c.value) for c in book["Tiedot"][1]]
    assert not [h for h in headers if h.split(" / ")[0] == h.split(" / ")[-1]], headers
    settlements, _ = _export(data, tmp_path, "settlements", "--org", "Liitto ry")
    week = [str(c.value) for row in settlements["Yhteenveto"].iter_rows()
            for c in row if c.value and "-V" in str(c.value)]
    assert week and all(" / " not in w for w in week)
    kinds = {row[3] for row in settlements["Tiedot"].iter_rows(min_row=2, values_only=True)}
    assert "maksu / payment" in kinds and kinds <= {"maksu / payment", "oikaisu / reversal"}


def _info(book: Any) -> dict[str, str]:
    rows = book["Yhteenveto"].iter_rows(min_row=3, max_row=8, values_only=True)
    return {str(r[0]): str(r[1]) for r in rows if r[0]}


def test_dates_only_on_reports_that_read_them(data: Data, tmp_path: Path) -> None:
    book, stderr = _export(data, tmp_path, "register-summary", "--org", "Liitto ry",
                           "--from", "2026-01-01", "--to", AS_OF.isoformat())
    assert "Aikaväli / Dates" not in _info(book)
    assert "--from, --to" in stderr and "does not apply" in stderr
    dated, stderr = _export(data, tmp_path, "receivables", "--org", "Liitto ry",
                            "--from", "2026-01-01", "--to", AS_OF.isoformat())
    assert _info(dated)["Aikaväli / Dates"] == "15.3.2027"  # the end date only
    assert "--from" in stderr and "--to" not in stderr


def test_every_organisation_from_the_command(data: Data, tmp_path: Path) -> None:
    everything, _ = _export(data, tmp_path, "payments-journal", "--org", "all")
    assert _info(everything)["Yhdistys / Organisation"] == "Kaikki / All"
    federation, _ = _export(data, tmp_path, "payments-journal", "--org", "Liitto ry")
    # The queue's money belongs to no organisation: only the every-organisation view
    # holds it, so the two journals differ by what waits there and was refunded.
    def total(book: Any) -> float:
        return sum(r[-1] or 0 for r in book["Yhteenveto"].iter_rows(values_only=True)
                   if r[0] == TOTAL_LABEL and isinstance(r[-1], float | int))
    assert total(everything) != total(federation)
    escrow, _ = _export(data, tmp_path, "escrow", "--org", "all")
    assert escrow.sheetnames == ["Yhteenveto", "Tiedot"]
