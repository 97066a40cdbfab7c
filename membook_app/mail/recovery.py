"""Mail left 'sending': the operator decides whether it goes out again.

Delivery claims a message (queued → sending) before the SMTP call and marks it sent
right after the server accepted it. A worker that dies in between leaves the message
'sending' for good: the server may or may not have taken it, so sending it again
automatically could give the payer the same invoice twice. The operator, who can see
the SMTP server's log or ask the recipient, settles each such message: send again
(back to the queue) or record that it did go out. Both are audited.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select, update

from membook_app.accounts.permissions import Actor
from membook_app.audit import record
from membook_app.errors import PermissionDenied, ValidationError
from models import OutboxMessage, utcnow

# A message claimed this long ago is no longer being sent by a live worker (one SMTP
# call takes seconds; a delivery run of 500 messages a few minutes).
STUCK_AFTER = timedelta(minutes=10)
ACTIONS = {"resend": "queued", "mark_sent": "sent"}


def is_stuck(older_than: timedelta = STUCK_AFTER) -> sa.ColumnElement[bool]:
    """'sending', and claimed more than `older_than` ago (messages claimed before the
    claim time was recorded count from their creation)."""
    claimed = sa.func.coalesce(col(OutboxMessage.claimed_at), col(OutboxMessage.created_at))
    return sa.and_(OutboxMessage.status == "sending", claimed < utcnow() - older_than)


def stuck_ids(session: Session, actor: Actor) -> set[int]:
    """Messages claimed for sending more than STUCK_AFTER ago and never finished."""
    if not actor.is_operator:
        raise PermissionDenied()
    return set(session.exec(select(OutboxMessage.id).where(is_stuck())).all())  # type: ignore[arg-type]


def settle_stuck(session: Session, actor: Actor, message_id: int, action: str) -> str:
    """Send a stuck message again (`resend`) or record it as delivered (`mark_sent`).

    One UPDATE conditional on the message being stuck (`is_stuck`), so a worker that
    finishes after all, or a second operator, is never overruled. Returns the new status.
    """
    if not actor.is_operator:
        raise PermissionDenied()
    if action not in ACTIONS:
        raise ValidationError("Tuntematon toiminto", "Unknown action", field="action")
    status = ACTIONS[action]
    values: dict[str, object] = {"status": status}
    if status == "sent":
        values.update(sent_at=utcnow(), last_error="merkitty lähetetyksi / marked as sent")
    changed = session.exec(update(OutboxMessage).where(  # type: ignore[call-overload]
        col(OutboxMessage.id) == int(message_id), is_stuck()).values(**values)).rowcount
    if changed != 1:
        raise ValidationError("Viesti ei ole jumissa lähetyksessä",
                              "The message is not stuck in sending")
    record(session, actor, f"outbox.{action}", "outboxmessage", int(message_id),
           before={"status": "sending"}, after={"status": status})
    return status
