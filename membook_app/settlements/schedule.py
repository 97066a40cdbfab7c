"""When the weekly settlement runs: Monday, rolled forward to the next Finnish banking day.

Easter Monday moves it to Tuesday, a Monday Christmas Eve to Wednesday. The settled period
is defined by cut-off timestamps, not by dates, so a moved day neither loses nor doubles
any payment (`banking_days.weekly_settlement_day`).
"""

from __future__ import annotations

from datetime import date

from membook_app.banking.banking_days import weekly_settlement_day


def settlement_day(day: date) -> date:
    """The settlement day of the ISO week that `day` is in."""
    iso = day.isocalendar()
    return weekly_settlement_day(iso.year, iso.week)


def is_settlement_day(day: date) -> bool:
    """True when `day` is its week's settlement day."""
    return settlement_day(day) == day
