"""Finnish banking days (pankkipäivät): Monday–Friday except Finnish bank holidays.

Settlements, due dates and "every banking day" jobs are scheduled on these days. The
holiday list comes from ``holidays.Finland`` (version pinned in pyproject.toml): since the
version in use it contains Midsummer Eve and Christmas Eve, so weekday ∩ not-holiday is
exactly the banks' closed-days list. The TARGET2 calendar is *not* enough for Finland.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

_DAY = timedelta(days=1)


@lru_cache(maxsize=64)
def _holidays(year: int) -> frozenset[date]:
    """Cache per year: ``holidays.Finland`` computes a year lazily and mutates on lookup."""
    return frozenset(holidays.Finland(years=year))


def is_banking_day(d: date) -> bool:
    """True when Finnish banks execute payments on ``d``."""
    return d.weekday() < 5 and d not in _holidays(d.year)


def next_banking_day(d: date) -> date:
    """``d`` itself if it is a banking day, else the first banking day after it.

    Finnish practice rolls forward: a due date or settlement day on a holiday moves to the
    next banking day, never back.
    """
    while not is_banking_day(d):
        d += _DAY
    return d


def add_banking_days(d: date, n: int) -> date:
    """The date ``n`` banking days after ``d`` (before it when ``n`` is negative).

    ``d`` itself need not be a banking day; ``n == 0`` returns ``d`` unchanged. Used for
    lead times such as "the bank needs the file one banking day before execution".
    """
    step = _DAY if n >= 0 else -_DAY
    for _ in range(abs(n)):
        d += step
        while not is_banking_day(d):
            d += step
    return d


def weekly_settlement_day(iso_year: int, iso_week: int) -> date:
    """Payout day of a weekly settlement: the week's Monday, rolled forward if a holiday.

    The settled period is defined by cut-off timestamps, so rolling (Easter Monday →
    Tuesday) neither loses nor doubles any payment.
    """
    return next_banking_day(date.fromisocalendar(iso_year, iso_week, 1))
