"""Weekly settlement: once the settlement day's 07.00 has passed, the draft run is created.

The run is only a draft: the operator reviews it on /admin/settlement-runs (or with
`membook settle --dry-run`) and approves it, which produces the payout file. The check runs
every quarter of an hour and is idempotent (`schedule.weekly_run_decision`): a run whose
cut-off is at or after this week's due moment, or a draft still waiting, means there is
nothing to do, so a restarted or second worker creates nothing twice, and a worker that was
down at 07.00 catches the week up when it comes back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from huey import crontab
from sqlmodel import select

from membook_app.accounts.permissions import load_actor
from membook_app.db import session_scope
from membook_app.settlements.runs import NothingToSettle, create_run, latest_cut_off
from membook_app.settlements.schedule import settlement_due, weekly_run_decision
from models import AuditEvent, SettlementRun, User, utcnow
from tasks import huey


def create_weekly_run(now: datetime | None = None) -> dict[str, Any]:
    """Create the draft run with cut-off `now` when this week's run is due and missing."""
    moment = now or utcnow()
    due = settlement_due(moment)
    with session_scope() as session:
        draft = session.exec(select(SettlementRun.id).where(
            SettlementRun.status == "draft")).first()
        discarded = session.exec(select(sa.func.max(AuditEvent.at)).where(
            AuditEvent.action == "settlement_run.discarded")).one()
        reason = weekly_run_decision(moment, latest_cut_off(session), draft is not None,
                                     discarded)
        if reason is not None:
            return {"skipped": due.isoformat(), "reason": reason}
        try:
            run = create_run(session, None, moment)
        except NothingToSettle:
            return {"skipped": due.isoformat(), "reason": "nothing to settle"}
        return {"run_id": run.id, "organizations": run.organization_count,
                "payout_cents": run.payout_cents}


@huey.periodic_task(crontab(minute="*/15"))
def create_weekly_settlement_run() -> dict[str, Any]:
    """Every quarter of an hour: create this week's draft if it is due and missing."""
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
