"""Mail stuck in 'sending' is settled by the operator only, once, and audited.
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from membook_app.billing.delivery import MAIL_KIND, stuck_messages
from membook_app.db import session_scope
from membook_app.errors import PermissionDenied, ValidationError
from membook_app.mail.recovery import settle_stuck, stuck_ids
from models import AuditEvent, OutboxMessage, utcnow
from tests.db.test_bank_import_support import actor
from tests.factories import make_staff, make_tree


def _message(url: str, status: str, age: timedelta,
             claimed: timedelta | None = None) -> int:
    """A message created `age` ago and, when given, claimed `claimed` ago."""
    with session_scope(url) as s:
        message = OutboxMessage(to_address="maksaja@example.fi", subject="Lasku 1000017",
                                text_body="…", kind="invoice", status=status, attempts=1,
                                created_at=utcnow() - age,
                                claimed_at=None if claimed is None else utcnow() - claimed)
        s.add(message)
        s.flush()
        return message.id  # type: ignore[return-value]


def _state(url: str, message_id: int) -> tuple[Any, ...]:
    with session_scope(url) as s:
        m = s.get(OutboxMessage, message_id)
        assert m is not None
        return m.status, m.attempts, m.sent_at is not None


@pytest.fixture
def people(db_url: str) -> dict[str, Any]:
    tree = make_tree(db_url)
    return {"operator": actor(db_url, make_staff(db_url, "op@example.fi", None, None,
                                                 operator=True)),
            "admin": actor(db_url, make_staff(db_url, "a@example.fi", tree.club_a, "admin"))}


def test_operator_sends_a_stuck_message_again(db_url: str, people: dict[str, Any]) -> None:
    stuck = _message(db_url, "sending", timedelta(hours=3), claimed=timedelta(minutes=30))
    fresh = _message(db_url, "sending", timedelta(minutes=1))
    # Queued long ago, claimed a moment ago: a live worker is sending it right now.
    being_sent = _message(db_url, "sending", timedelta(hours=3), claimed=timedelta(seconds=5))
    with session_scope(db_url) as s:
        assert stuck_ids(s, people["operator"]) == {stuck}
        assert settle_stuck(s, people["operator"], stuck, "resend") == "queued"
    assert _state(db_url, stuck) == ("queued", 1, False)
    assert _state(db_url, fresh) == ("sending", 1, False)
    with pytest.raises(ValidationError), session_scope(db_url) as s:
        settle_stuck(s, people["operator"], being_sent, "resend")
    assert _state(db_url, being_sent) == ("sending", 1, False)
    with session_scope(db_url) as s:
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "outbox.resend")).one()
        assert (event.object_id, event.after) == (stuck, {"status": "queued"})


def test_operator_records_that_a_stuck_message_went_out(db_url: str,
                                                        people: dict[str, Any]) -> None:
    stuck = _message(db_url, "sending", timedelta(hours=2))
    with session_scope(db_url) as s:
        assert settle_stuck(s, people["operator"], stuck, "mark_sent") == "sent"
    assert _state(db_url, stuck) == ("sent", 1, True)
    # Settled once: a second decision is refused and changes nothing.
    with pytest.raises(ValidationError), session_scope(db_url) as s:
        settle_stuck(s, people["operator"], stuck, "resend")
    assert _state(db_url, stuck) == ("sent", 1, True)


def test_only_stuck_messages_and_known_actions(db_url: str, people: dict[str, Any]) -> None:
    fresh = _message(db_url, "sending", timedelta(minutes=1))
    sent = _message(db_url, "sent", timedelta(hours=1))
    stuck = _message(db_url, "sending", timedelta(hours=1))
    for message_id, action in ((fresh, "resend"), (sent, "resend"), (stuck, "delete")):
        with pytest.raises(ValidationError), session_scope(db_url) as s:
            settle_stuck(s, people["operator"], message_id, action)
    assert [_state(db_url, i)[0] for i in (fresh, sent, stuck)] == ["sending", "sent", "sending"]


def test_an_admin_is_refused(db_url: str, people: dict[str, Any]) -> None:
    stuck = _message(db_url, "sending", timedelta(hours=1))
    with pytest.raises(PermissionDenied), session_scope(db_url) as s:
        settle_stuck(s, people["admin"], stuck, "resend")
    with pytest.raises(PermissionDenied), session_scope(db_url) as s:
        stuck_ids(s, people["admin"])
    assert _state(db_url, stuck) == ("sending", 1, False)


def test_invoice_mail_page_counts_the_same_stuck_mail(db_url: str) -> None:
    """The treasurer's warning on the invoice mail page uses the same rule, in their tree."""
    tree = make_tree(db_url)
    treasurer = actor(db_url, make_staff(db_url, "t@example.fi", tree.club_a, "treasurer"))
    with session_scope(db_url) as s:
        for org, claimed in ((tree.club_a, timedelta(hours=1)), (tree.club_a, timedelta(0)),
                             (tree.club_b, timedelta(hours=1))):
            s.add(OutboxMessage(to_address="m@example.fi", subject="Lasku", text_body="…",
                                kind=MAIL_KIND, status="sending", organization_id=org,
                                created_at=utcnow() - timedelta(hours=2),
                                claimed_at=utcnow() - claimed))
    with session_scope(db_url) as s:
        assert stuck_messages(s, treasurer, tree.club_a) == 1
