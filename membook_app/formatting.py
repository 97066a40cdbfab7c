"""Finnish display formats for money, dates and times (12,50 €, 28.11.2026)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.numbers import format_currency, format_decimal

HELSINKI = ZoneInfo("Europe/Helsinki")


def money(cents: int | None) -> str:
    """Cents as Finnish euros: 1250 → '12,50 €' (babel, fi_FI)."""
    if cents is None:
        return ""
    return format_currency(cents / 100, "EUR", locale="fi_FI")


def number(value: int | float | None) -> str:
    """A count with Finnish digit grouping: 100000 → '100 000'."""
    if value is None:
        return ""
    return format_decimal(value, locale="fi_FI")


def fi_date(value: date | None) -> str:
    """28.11.2026 (no leading zeros, as Finns write dates)."""
    if value is None:
        return ""
    return f"{value.day}.{value.month}.{value.year}"


def fi_datetime(value: datetime | None) -> str:
    """A UTC timestamp shown in Helsinki time: 28.11.2026 klo 14.05."""
    if value is None:
        return ""
    local = value.astimezone(HELSINKI)
    return f"{fi_date(local.date())} klo {local.hour}.{local.minute:02d}"
