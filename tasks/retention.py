"""Data protection: the daily retention run (pseudonymise people the rules cover)."""

from __future__ import annotations

import logging

from huey import crontab

from membook_app.db import session_scope
from membook_app.privacy.retention import run_retention
from tasks import huey

log = logging.getLogger(__name__)


def retention_now() -> dict[str, int]:
    """One run in one transaction: everyone due is pseudonymised, or nobody."""
    with session_scope() as session:
        result = run_retention(session)
    log.info("retention run: %s", result)
    return result


@huey.periodic_task(crontab(hour="3", minute="30"))
def retention_daily() -> dict[str, int]:
    """Every night at 03:30 (the worker's clock)."""
    return retention_now()
