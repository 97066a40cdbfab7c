"""Invoice email and reminder tasks: a send job queues its outbox rows, then a task per chunk.

Thin wrappers around `membook_app.billing.delivery`; the order and the crash
behaviour are documented there.
"""

from __future__ import annotations

from datetime import date, datetime

from huey import crontab

from membook_app.banking.banking_days import is_banking_day
from membook_app.billing import delivery, reminders
from membook_app.billing.status import refresh_overdue
from membook_app.db import session_scope
from membook_app.formatting import HELSINKI
from membook_app.jobs import finish_job
from membook_app.mail.smtp import SmtpConfig
from membook_app.settings import get_settings
from tasks import huey


@huey.task()
def send_invoice_mail(job_id: int) -> dict[str, int]:
    """Queue the job's messages (idempotent) and a delivery task per chunk."""
    try:
        return delivery.queue_job_messages(
            job_id, lambda ids: deliver_invoice_mail_chunk(job_id, ids))
    except Exception as exc:
        finish_job(job_id, failed=f"{type(exc).__name__}: {exc}")
        raise


@huey.task()
def deliver_invoice_mail_chunk(job_id: int, message_ids: list[int]) -> dict[str, int]:
    """Send one chunk (≤ 500 messages) of a job and update its progress."""
    return delivery.deliver_chunk(job_id, message_ids)


@huey.task()
def deliver_mail_chunk(message_ids: list[int]) -> dict[str, int]:
    """Send one chunk of outbox messages that belong to no job (reminders)."""
    config = SmtpConfig.from_settings(get_settings())
    return delivery.deliver_messages(message_ids, config) if config else {}


def helsinki_today() -> date:
    """Today in Finland: due dates are Finnish dates, and the worker's clock may be UTC."""
    return datetime.now(HELSINKI).date()


def mark_overdue(today: date) -> int:
    """Open and partly paid invoices past their due date become overdue, so the portal,
    the public page and the admin's "overdue" filter say so (no payment event does it)."""
    with session_scope() as session:
        return refresh_overdue(session, today)


@huey.periodic_task(crontab(hour="22", minute="15"))
def mark_overdue_daily() -> int:
    """Just after midnight in Finland (22.15 UTC is 0.15 or 1.15 there): yesterday's due
    invoices are overdue from the first minute of the day."""
    return mark_overdue(helsinki_today())


@huey.periodic_task(crontab(hour="5", minute="30"))
def send_reminders_daily() -> dict[str, int]:
    """Every banking day at 7.30 Finnish time (Huey's crontab is UTC): today's reminders,
    after the overdue statuses (again: idempotent, and right even if the night's task
    did not run)."""
    today = helsinki_today()
    overdue = mark_overdue(today)
    if not is_banking_day(today):
        return {"overdue": overdue}
    with session_scope() as session:
        result = reminders.apply_reminders(session, today)
    for start in range(0, len(result.message_ids), delivery.DELIVERY_CHUNK):
        deliver_mail_chunk(list(result.message_ids[start:start + delivery.DELIVERY_CHUNK]))
    return {"overdue": overdue, "first": result.first, "second": result.second,
            "mailed": result.mailed}
