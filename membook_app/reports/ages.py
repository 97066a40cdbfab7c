"""Open receivables and their age buckets, defined once: the receivables report and the
dashboard count the same invoices into the same buckets.

An invoice is open when it is an invoice (not a credit note), its status is open, partly
paid or overdue, and something is still unpaid on it (total − paid − credited > 0). Its
age is the number of days past the due date on the day counted from: due that day or
later is "not due"; then 1–30, 31–60, 61–90 and over 90 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import col

from models import Invoice

OPEN_STATUSES = ("open", "partly_paid", "overdue")


@dataclass(frozen=True)
class AgeBucket:
    key: str
    last_day: int | None  # the last day past due in the bucket; None: open-ended
    fi: str
    en: str

    @property
    def label(self) -> str:
        return f"{self.fi} / {self.en}"


AGE_BUCKETS = (
    AgeBucket("not_due", 0, "ei erääntynyt", "not due"),
    AgeBucket("d1_30", 30, "1–30 pv", "1–30 days"),
    AgeBucket("d31_60", 60, "31–60 pv", "31–60 days"),
    AgeBucket("d61_90", 90, "61–90 pv", "61–90 days"),
    AgeBucket("d90", None, "yli 90 pv", "over 90 days"),
)


def open_cents() -> sa.ColumnElement[int]:
    """SQL: what is still unpaid on an invoice."""
    return Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents


def open_invoices() -> list[sa.ColumnElement[bool]]:
    """SQL conditions: the invoice is open (see the module's docstring)."""
    return [Invoice.kind == "invoice", col(Invoice.status).in_(OPEN_STATUSES),
            open_cents() > 0]


def age_bucket(today: date) -> sa.ColumnElement[str]:
    """SQL: the key of an invoice's age bucket on `today` (a CASE on the due date against
    boundary dates, so the due-date index serves it)."""
    return sa.case(*[(Invoice.due_date >= today - timedelta(days=b.last_day), b.key)
                     for b in AGE_BUCKETS if b.last_day is not None],
                   else_=AGE_BUCKETS[-1].key)
