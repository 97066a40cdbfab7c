"""Paytrail polling: attempts without a final status are asked about until they have one."""

from __future__ import annotations

from huey import crontab

from membook_app.db import session_scope
from membook_app.payments.online import make_client, poll_pending
from tasks import huey


@huey.periodic_task(crontab(minute="*/5"))
def poll_paytrail() -> int:
    """Every five minutes; a lost callback costs the member at most that long."""
    with session_scope() as session, make_client() as client:
        return poll_pending(session, client)
