"""Finnish banking days from holidays.Finland, checked against the spec's closed-days lists."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from membook_app.banking.banking_days import (
    add_banking_days,
    is_banking_day,
    next_banking_day,
    weekly_settlement_day,
)

# banking.md section f: non-banking weekdays (Bank of Finland / OP closed-days lists)
NON_BANKING_WEEKDAYS = {
    2026: ["01-01", "01-06", "04-03", "04-06", "05-01", "05-14", "06-19", "12-24", "12-25"],
    2027: ["01-01", "01-06", "03-26", "03-29", "05-06", "06-25", "12-06", "12-24"],
}


@pytest.mark.parametrize("year", sorted(NON_BANKING_WEEKDAYS))
def test_non_banking_weekdays_match_spec_exactly(year: int) -> None:
    days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
    closed = [
        d.strftime("%m-%d")
        for d in days
        if d.year == year and d.weekday() < 5 and not is_banking_day(d)
    ]
    assert closed == NON_BANKING_WEEKDAYS[year]


def test_weekends_are_not_banking_days() -> None:
    assert not is_banking_day(date(2026, 3, 7))  # Saturday
    assert not is_banking_day(date(2026, 3, 8))  # Sunday
    assert is_banking_day(date(2026, 3, 9))


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 3, 9), date(2026, 3, 9)),  # already a banking day
        (date(2026, 3, 7), date(2026, 3, 9)),  # Saturday → Monday
        (date(2026, 4, 3), date(2026, 4, 7)),  # Good Friday → Tuesday after Easter
        (date(2026, 12, 24), date(2026, 12, 28)),  # Christmas Eve → Monday
        (date(2027, 12, 31), date(2027, 12, 31)),  # New Year's Eve is a banking day
        (date(2028, 1, 1), date(2028, 1, 3)),
    ],
)
def test_next_banking_day(day: date, expected: date) -> None:
    assert next_banking_day(day) == expected


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 12, 23), 1, date(2026, 12, 28)),
        (date(2026, 12, 28), -1, date(2026, 12, 23)),
        (date(2026, 4, 2), 2, date(2026, 4, 8)),
        (date(2026, 4, 4), 0, date(2026, 4, 4)),
        (date(2026, 4, 4), 1, date(2026, 4, 7)),
        (date(2027, 12, 31), 1, date(2028, 1, 3)),  # across a year boundary
        (date(2028, 1, 7), -1, date(2028, 1, 5)),  # skips Epiphany (Thursday)
    ],
)
def test_add_banking_days(day: date, n: int, expected: date) -> None:
    assert add_banking_days(day, n) == expected


@pytest.mark.parametrize(
    ("iso_year", "iso_week", "expected"),
    [
        (2026, 2, date(2026, 1, 5)),
        (2026, 15, date(2026, 4, 7)),  # Easter Monday → Tuesday
        (2027, 49, date(2027, 12, 7)),  # Independence Day (Monday) → Tuesday
        (2026, 53, date(2026, 12, 28)),
    ],
)
def test_weekly_settlement_day(iso_year: int, iso_week: int, expected: date) -> None:
    assert weekly_settlement_day(iso_year, iso_week) == expected


def test_weekly_settlement_day_rejects_missing_week() -> None:
    with pytest.raises(ValueError):
        weekly_settlement_day(2027, 53)
