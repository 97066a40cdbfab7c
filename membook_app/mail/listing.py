"""Reading the outbox (operator only): what went out, or would have."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, PermissionDenied
from models import OutboxMessage


@dataclass(frozen=True)
class OutboxRow:
    id: int
    to_address: str
    subject: str
    kind: str
    status: str
    attempts: int
    last_error: str
    created_at: datetime


def list_outbox(session: Session, actor: Actor, limit: int = 100) -> list[OutboxRow]:
    """Newest messages first; mail holds personal data and links, so operators only."""
    if not actor.is_operator:
        raise PermissionDenied()
    rows = session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit))
    return [OutboxRow(m.id, m.to_address, m.subject, m.kind, m.status, m.attempts,  # type: ignore[arg-type]
                      m.last_error or "", m.created_at) for m in rows]


def read_message(session: Session, actor: Actor, message_id: int) -> OutboxMessage:
    """One message with its text (operators only)."""
    if not actor.is_operator:
        raise PermissionDenied()
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise NotFound("Viestiä ei löydy", "Message not found")
    return message
