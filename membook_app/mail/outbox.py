"""The outbox: mail is written to the database first and delivered by a task.

Writing first means a message is never lost between "decided to send" and
"sent", the operator can read everything that went out (or would have, when
no SMTP server is configured), and a crashed delivery can be resumed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlmodel import Session, col, select, update

from membook_app.mail.smtp import SmtpConfig, send_one
from models import OutboxMessage, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5


def queue_message(
    session: Session,
    *,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    kind: str = "general",
    organization_id: int | None = None,
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction (sent after commit)."""
    message = OutboxMessage(to_address=to, subject=subject, text_body=text, html_body=html,
                            kind=kind, organization_id=organization_id)
    session.add(message)
    session.flush()
    return message


def deliver_pending(
    session_factory: Callable[[], Session],
    config: SmtpConfig | None,
    *,
    limit: int = 500,
) -> dict[str, int]:
    """Send queued messages one by one, recording each outcome in its own commit.

    Each message is claimed (queued → sending) before the SMTP call, so two
    workers never send the same message, and a message is marked sent right
    after the server accepted it. With no SMTP configured nothing is sent:
    the outbox is the delivery (the embedded default).
    """
    counts = {"sent": 0, "failed": 0, "retry": 0}
    if config is None:
        return counts
    with session_factory() as session:
        ids = session.exec(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == "queued")
            .order_by(OutboxMessage.id)
            .limit(limit)
        ).all()
    for message_id in ids:
        with session_factory() as session:
            # The claim is one conditional UPDATE, not a read then a write: SQLite ignores
            # FOR UPDATE, so there two workers could both read "queued" and both send.
            claimed = session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.status) == "queued")
                .values(status="sending", attempts=col(OutboxMessage.attempts) + 1,
                        claimed_at=utcnow())
            ).rowcount
            session.commit()
            if claimed != 1:
                continue
            message = session.get(OutboxMessage, message_id)
            if message is None:
                continue
            try:
                send_one(config, message)
            except Exception as exc:  # noqa: BLE001 - every SMTP failure is recorded, not raised
                failed_for_good = message.attempts >= MAX_ATTEMPTS
                message.status = "failed" if failed_for_good else "queued"
                message.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                counts["failed" if failed_for_good else "retry"] += 1
                log.warning("mail %s to %s failed: %s", message.id, message.to_address, exc)
            else:
                message.status = "sent"
                message.sent_at = utcnow()
                message.last_error = None
                counts["sent"] += 1
            session.add(message)
            session.commit()
    return counts
