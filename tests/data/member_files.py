"""Small member files built by the tests themselves (better than committed binaries)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook

FI_HEADERS = ["Etunimi", "Sukunimi", "Sähköposti", "Puhelin", "Lähiosoite", "Postinumero",
              "Postitoimipaikka", "Syntymäaika", "Jäsenlaji", "Liittymispäivä"]


def good_rows() -> list[list[Any]]:
    return [
        ["Aino", "Ääritalo", "aino@example.fi", "040 123 4567", "Kotikatu 1", "00100",
         "Helsinki", "1.2.1980", "Varsinainen jäsen", "15.1.2024"],
        ["Bertil", "Åberg", "bertil@example.fi", "+358501112222", "Strandvägen 2", "02100",
         "Espoo", "1975-06-30", "varsinainen JÄSEN", "2024-02-01"],
        ["Cecilia", "Öhman", "", "", "", "", "", "", "", ""],
    ]


def xlsx_bytes(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    """An .xlsx with the header row and rows (dates as real Excel dates when given as date)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(headers))
    for index, row in enumerate(rows, start=2):
        sheet.append(list(row))
        for column, value in enumerate(row, start=1):
            if isinstance(value, date):
                sheet.cell(row=index, column=column).number_format = "d.m.yyyy"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, delimiter: str = ";",
              encoding: str = "utf-8") -> bytes:
    """A CSV as Finnish Excel (cp1252, `;`) or other tools (UTF-8, `,`) write it."""
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        if delimiter in text or '"' in text:
            text = '"' + text.replace('"', '""') + '"'
        return text
    lines = [delimiter.join(cell(c) for c in row) for row in [list(headers), *rows]]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
