"""The audit trail: one helper so every change is written the same way."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from membook_app.accounts.permissions import Actor
from models import AuditEvent


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, as JSON-ready values, before and after."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return ({k: _plain(before.get(k)) for k in keys}, {k: _plain(after.get(k)) for k in keys})


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: int | None,
    *,
    organization_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write an audit event in the caller's transaction, so it exists exactly if the change does."""
    event = AuditEvent(
        actor_user_id=actor.user_id if actor else None,
        actor_label=actor.email if actor else "system",
        action=action,
        object_type=object_type,
        object_id=object_id,
        organization_id=organization_id,
        before={k: _plain(v) for k, v in before.items()} if before else None,
        after={k: _plain(v) for k, v in after.items()} if after else None,
    )
    session.add(event)
    return event
