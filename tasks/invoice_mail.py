"""Invoice email tasks: one task queues a send job's outbox rows, then one task per chunk.

Thin wrappers around `membook_app.billing.delivery`; the order and the crash
behaviour are documented there.
"""

from __future__ import annotations

from membook_app.billing import delivery
from membook_app.jobs import finish_job
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
