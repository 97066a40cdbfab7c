"""When the weekly settlement runs: Monday, rolled forward to the next Finnish banking day.

Easter Monday moves it to Tuesday; a Monday Christmas Eve to Thursday (Christmas Day and
Boxing Day are holidays too). The settled period is defined by cut-off timestamps, not by
dates, so a moved day neither loses nor doubles any payment
(`banking_days.weekly_settlement_day`).

The run is due at 07.00 Helsinki time on that day (`settlement_due`). The worker checks
every quarter of an hour and creates the draft when the latest due moment has passed and no
run covers it (`weekly_run_decision`), so a worker that was down at 07.00 catches up when
it comes back instead of skipping the week.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from membook_app.banking.banking_days import weekly_settlement_day
from membook_app.formatting import HELSINKI

RUN_AT_HELSINKI = time(7, 0)  # before the bank import of the day (08:00)


def settlement_day(day: date) -> date:
    """The settlement day of the ISO week that `day` is in."""
    iso = day.isocalendar()
    return weekly_settlement_day(iso.year, iso.week)


def is_settlement_day(day: date) -> bool:
    """True when `day` is its week's settlement day."""
    return settlement_day(day) == day


def _run_moment(day: date) -> datetime:
    return datetime.combine(settlement_day(day), RUN_AT_HELSINKI, HELSINKI).astimezone(UTC)


def settlement_due(now: datetime) -> datetime:
    """The latest weekly run moment at or before `now` (aware): this week's settlement day
    at 07.00 Helsinki time when it has passed, else last week's."""
    local = now.astimezone(HELSINKI).date()
    due = _run_moment(local)
    return due if due <= now else _run_moment(local - timedelta(days=7))


def weekly_run_decision(now: datetime, latest_cut_off: datetime | None,
                        draft_waiting: bool, discarded_since: datetime | None) -> str | None:
    """Why no weekly run is created at `now`, or None when it should be (cut-off `now`).

    Idempotent by construction: once a run's cut-off is at or after the due moment, later
    checks find it. A draft still waiting for the operator blocks a new one (only one draft
    at a time), and a draft the operator discarded after the due moment is their decision
    for this week: the next one comes next week, or by hand.
    """
    due = settlement_due(now)
    if draft_waiting:
        return "draft waiting"
    if latest_cut_off is not None and latest_cut_off >= due:
        return "run exists"
    if discarded_since is not None and discarded_since >= due:
        return "discarded this week"
    return None
