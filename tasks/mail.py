"""Mail delivery tasks: the outbox is drained by the worker, never by a web request."""

from __future__ import annotations

from huey import crontab
from sqlmodel import Session

from membook_app.db import get_engine
from membook_app.mail.outbox import deliver_pending
from membook_app.mail.smtp import SmtpConfig
from membook_app.settings import get_settings
from tasks import huey


def deliver_now() -> dict[str, int]:
    """Send what is queued (a no-op without SMTP: the outbox is the delivery then)."""
    engine = get_engine()
    return deliver_pending(lambda: Session(engine, expire_on_commit=False),
                           SmtpConfig.from_settings(get_settings()))


@huey.task()
def deliver_outbox() -> dict[str, int]:
    """Queued right after a message is committed, so mail leaves within seconds."""
    return deliver_now()


@huey.periodic_task(crontab(minute="*"))
def deliver_outbox_periodically() -> dict[str, int]:
    """Safety net: retries, and anything queued while the worker was down."""
    return deliver_now()
