"""Weekly settlement: on the settlement day the draft run is created for the operator.

The run is only a draft: the operator reviews it on /admin/settlement-runs (or with
`membook settle --dry-run`) and approves it, which produces the payout file. The task is
idempotent: a run already made today, or a draft still waiting, means there is nothing to
do (so a restarted worker, or a second worker, creates nothing twice).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import col, select

from membook_app.accounts.permissions import load_actor
from membook_app.db import session_scope
from membook_app.formatting import HELSINKI
from membook_app.settlements.runs import NothingToSettle, create_run
from membook_app.settlements.schedule import is_settlement_day
from models import SettlementRun, User, utcnow
from tasks import huey

RUN_AT_HELSINKI = (7, 0)  # before the bank import of the day (08:00)


def is_settlement_run_time(now: datetime) -> bool:
    """True at the run minute of a settlement day (`now` naive UTC or aware)."""
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    local = aware.astimezone(HELSINKI)
    return (local.hour, local.minute) == RUN_AT_HELSINKI and is_settlement_day(local.date())


def create_weekly_run(now: datetime | None = None) -> dict[str, Any]:
    """Create the draft run with cut-off `now` when today is the settlement day."""
    moment = now or utcnow()
    today = moment.astimezone(HELSINKI).date()
    if not is_settlement_day(today):
        return {"skipped": today.isoformat(), "reason": "not the settlement day"}
    with session_scope() as session:
        latest = session.exec(select(SettlementRun).order_by(
            col(SettlementRun.cut_off).desc()).limit(1)).first()
        if latest is not None and (latest.status == "draft"
                                   or latest.cut_off.astimezone(HELSINKI).date() == today):
            return {"skipped": today.isoformat(), "reason": "run exists", "run_id": latest.id}
        try:
            run = create_run(session, None, moment)
        except NothingToSettle:
            return {"skipped": today.isoformat(), "reason": "nothing to settle"}
        return {"run_id": run.id, "organizations": run.organization_count,
                "payout_cents": run.payout_cents}


@huey.periodic_task(is_settlement_run_time)
def create_weekly_settlement_run() -> dict[str, Any]:
    """The scheduled run; the validator already restricted it to the settlement day."""
    return create_weekly_run()


def create_run_for(user_id: int | None, cut_off_iso: str) -> dict[str, Any]:
    """Create the draft run for `cut_off_iso` as this operator (or the system)."""
    with session_scope() as session:
        user = session.get(User, user_id) if user_id is not None else None
        actor = load_actor(session, user) if user is not None else None
        run = create_run(session, actor, datetime.fromisoformat(cut_off_iso))
        return {"run_id": run.id, "organizations": run.organization_count,
                "payout_cents": run.payout_cents}


@huey.task()
def create_settlement_run(user_id: int | None, cut_off_iso: str) -> dict[str, Any]:
    """"Create run now" from the page when the run is too big to write inside a click."""
    return create_run_for(user_id, cut_off_iso)
