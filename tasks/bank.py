"""Daily bank import: the inbox folder is read once a day, on Finnish banking days only.

The schedule is a validator rather than a crontab because banking days are not a cron
pattern: Saturdays, Sundays and Finnish bank holidays (Midsummer Eve and Christmas Eve
included, `banking_days.is_banking_day`) are skipped. Huey hands periodic validators UTC
times; the run time is Helsinki time, so it stays put across daylight saving. A file that
the bank delivers on a holiday waits in the inbox for the next banking day's run, which
takes everything that arrived since the last one.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from membook_app.banking.banking_days import is_banking_day
from membook_app.formatting import HELSINKI
from membook_app.payments.inbox import process_inbox
from tasks import huey

RUN_AT_HELSINKI = ((8, 0),)  # (hour, minute) local times of the daily run


def is_inbox_run_time(now: datetime) -> bool:
    """True at the run minute of a Finnish banking day (`now` naive UTC or aware)."""
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    local = aware.astimezone(HELSINKI)
    return (local.hour, local.minute) in RUN_AT_HELSINKI and is_banking_day(local.date())


def import_inbox_now(today: date | None = None) -> dict[str, Any]:
    """Import what waits in the inbox (also what `membook worker` runs on schedule)."""
    results = process_inbox(today=today)
    return {"files": [asdict(r) for r in results]}


@huey.periodic_task(is_inbox_run_time)
def import_bank_inbox() -> dict[str, Any]:
    """The scheduled run; the validator already restricted it to banking days."""
    today = datetime.now(HELSINKI).date()
    if not is_banking_day(today):  # a late-starting worker must not run on a holiday
        return {"skipped": today.isoformat()}
    return import_inbox_now(today)
