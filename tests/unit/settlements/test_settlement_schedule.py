"""The weekly run's decision with explicit times: due at 07.00 Helsinki on the settlement
day, caught up when the worker missed it, never twice."""

from __future__ import annotations

from datetime import UTC, datetime

from membook_app.settlements.schedule import settlement_due, weekly_run_decision


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_due_is_the_settlement_day_at_seven_helsinki() -> None:
    monday_seven = _utc(2026, 11, 23, 5, 0)  # EET: 07.00 Helsinki = 05.00 UTC
    assert settlement_due(monday_seven) == monday_seven
    assert settlement_due(_utc(2026, 11, 28, 12, 0)) == monday_seven
    # Monday 06.59 Helsinki: this week's run is not due yet, last week's is.
    assert settlement_due(_utc(2026, 11, 23, 4, 59)) == _utc(2026, 11, 16, 5, 0)
    # Summer time: 07.00 Helsinki = 04.00 UTC.
    assert settlement_due(_utc(2027, 6, 7, 4, 0)) == _utc(2027, 6, 7, 4, 0)


def test_holiday_monday_moves_the_due_moment() -> None:
    # Easter Monday 29.3.2027 is a holiday: Tuesday 30.3. at 07.00 (EEST, 04.00 UTC).
    easter_monday_noon = _utc(2027, 3, 29, 9, 0)
    assert settlement_due(easter_monday_noon) == _utc(2027, 3, 22, 5, 0)
    last_week = _utc(2027, 3, 22, 5, 0)
    assert weekly_run_decision(easter_monday_noon, last_week, False, None) == "run exists"
    tuesday = _utc(2027, 3, 30, 4, 15)
    assert settlement_due(tuesday) == _utc(2027, 3, 30, 4, 0)
    assert weekly_run_decision(tuesday, last_week, False, None) is None
    # Christmas Eve 2029 is a Monday; Christmas and Boxing Day follow: Thursday.
    assert settlement_due(_utc(2029, 12, 27, 5, 0)) == _utc(2029, 12, 27, 5, 0)
    assert settlement_due(_utc(2029, 12, 26, 12, 0)) == _utc(2029, 12, 17, 5, 0)


def test_missed_run_is_caught_up_once() -> None:
    due = _utc(2026, 11, 23, 5, 0)
    last_week = _utc(2026, 11, 16, 5, 3)
    # The worker was down at 07.00 and comes back on Wednesday: create now.
    wednesday = _utc(2026, 11, 25, 10, 30)
    assert weekly_run_decision(wednesday, last_week, False, None) is None
    # The run made then (cut-off Wednesday) covers the week: later checks do nothing.
    assert weekly_run_decision(_utc(2026, 11, 25, 10, 45), wednesday, False, None) \
        == "run exists"
    assert weekly_run_decision(due, due, False, None) == "run exists"
    # A draft waiting blocks a second one; a discard after the due moment is final.
    assert weekly_run_decision(wednesday, last_week, True, None) == "draft waiting"
    assert weekly_run_decision(wednesday, last_week, False, _utc(2026, 11, 23, 9, 0)) \
        == "discarded this week"
    assert weekly_run_decision(wednesday, last_week, False, _utc(2026, 11, 20, 9, 0)) is None
    # Nothing ever made (a new installation): the first due week is created.
    assert weekly_run_decision(wednesday, None, False, None) is None
