"""One organisation's settlement report as .xlsx: a summary sheet and a lines sheet.

The treasurer books the payout in the organisation's own accounts from this file, so the
cells are what a bookkeeper can sum: counts and euros are numbers (money as cents / 100
with a € number format), dates are Excel dates, headers are Finnish with English. The
cells are written by the reports' xlsxwriter writer (`membook_app.reports.xlsx`), the lines
stream from the database in partitions, so a settlement of any size stays flat in memory.
Every download is audited: the lines name members and payers.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.formatting import HELSINKI, fi_datetime
from membook_app.reports.registry import Column
from membook_app.reports.xlsx import column_widths, open_workbook
from membook_app.settlements.views import (
    SettlementRow,
    get_settlement,
    settlement_lines,
)
from models import utcnow

SHEET_SUMMARY = "Yhteenveto"
SHEET_LINES = "Maksut"
STATUS = {"draft": ("luonnos", "draft"), "approved": ("hyväksytty", "approved"),
          "carried": ("siirtyy seuraavaan", "carried over")}
LINE_KIND = {"payment": ("maksu", "payment"), "reversal": ("oikaisu", "reversal")}
LINE_COLUMNS = (
    Column("payment_date", "Maksupäivä", "Payment date", "date"),
    Column("payer", "Maksaja", "Payer"),
    Column("invoice", "Laskun viite", "Invoice reference"),
    Column("member", "Jäsen", "Member"),
    Column("amount", "Osuus", "Share", "money"),
    Column("fee", "Palvelumaksu", "Fee", "money"),
    Column("kind", "Laji", "Kind"),
)
_LABEL = Column("item", "Tieto", "Item")


def _local_day(moment: datetime | None) -> date | None:
    """A stored UTC moment as its Helsinki calendar day (the day the operator meant)."""
    return moment.astimezone(HELSINKI).date() if moment else None


def _both(pair: tuple[str, str]) -> str:
    return f"{pair[0]} / {pair[1]}"


def summary_items(s: SettlementRow) -> list[tuple[str, str, str, Any]]:
    """(Finnish label, English label, kind, value) of the summary sheet, in order."""
    return [
        ("Yhdistys", "Organisation", "text", s.organization),
        ("Tilitysviite", "Settlement reference", "text", s.reference),
        ("Tila", "Status", "text", _both(STATUS.get(s.status, (s.status, s.status)))),
        ("Edellinen katkaisu", "Previous cut-off", "date", _local_day(s.previous_cut_off)),
        ("Katkaisupäivä", "Cut-off date", "date", _local_day(s.cut_off)),
        ("Maksupäivä", "Execution date", "date", s.execution_date),
        ("Saajan tili", "Payee account", "text", s.iban or ""),
        ("Maksuja", "Payments", "int", s.payment_count),
        ("Jäsenmaksuosuudet", "Member payment shares", "money", s.gross_cents),
        ("Oikaisut", "Reversals", "money", s.reversal_cents),
        ("Palvelumaksut", "Transaction fees", "money", s.fee_cents),
        ("Edelliseltä kerralta siirtynyt", "Carried in", "money", s.carried_in_cents),
        ("Netto", "Net", "money", s.net_cents),
        ("Maksetaan", "Paid out", "money", s.payout_cents),
    ]


def _line_values(session: Session, settlement_id: int) -> Iterator[Sequence[Any]]:
    for line in settlement_lines(session, settlement_id):
        yield (line.payment_date, line.payer, line.invoice_reference, line.member,
               line.amount_cents, line.fee_cents,
               _both(LINE_KIND.get(line.kind, (line.kind, line.kind))))


def write_settlement_report(target: Any, settlement: SettlementRow,
                            lines: Iterator[Sequence[Any]], generated: datetime) -> int:
    """Write the workbook to `target` (a path or a binary file); returns the line count."""
    workbook, cells = open_workbook(target)
    try:
        summary = workbook.add_worksheet(SHEET_SUMMARY)
        summary.set_column(0, 0, 44)
        summary.set_column(1, 1, 26)
        summary.write_string(0, 0, "Tilitysraportti / Settlement report", cells.title)
        summary.write_string(1, 0, "Laadittu / Generated", cells.bold)
        summary.write_string(1, 1, fi_datetime(generated))
        cells.headers(summary, 3, (_LABEL, Column("value", "Arvo", "Value")))
        for row, (fi, en, kind, value) in enumerate(summary_items(settlement), start=4):
            cells.row(summary, row, (_LABEL, Column("value", fi, en, kind)),
                      (f"{fi} / {en}", value))

        sheet = workbook.add_worksheet(SHEET_LINES)
        column_widths(sheet, LINE_COLUMNS)
        cells.headers(sheet, 0, LINE_COLUMNS)
        sheet.freeze_panes(1, 0)
        count = 0
        for count, values in enumerate(lines, start=1):
            cells.row(sheet, count, LINE_COLUMNS, values)
        sheet.autofilter(0, 0, max(count, 1), len(LINE_COLUMNS) - 1)
    finally:
        workbook.close()
    return count


def settlement_report_xlsx(session: Session, actor: Actor, settlement_id: int
                           ) -> tuple[bytes, str]:
    """The report of one settlement for whoever may see it (see `views.get_settlement`):
    (workbook bytes, file name). Audited as `settlement.report_exported`."""
    settlement = get_settlement(session, actor, settlement_id)
    buffer = io.BytesIO()
    count = write_settlement_report(buffer, settlement, _line_values(session, settlement.id),
                                    utcnow())
    audit.record(session, actor, "settlement.report_exported", "settlement", settlement.id,
                 organization_id=settlement.organization_id,
                 after={"reference": settlement.reference, "rows": count})
    return buffer.getvalue(), f"tilitys-{settlement.reference}.xlsx"
