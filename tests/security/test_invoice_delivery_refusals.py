"""Invoice mail and reminder handlers called by nobody, a member, a sibling admin and a
viewer: each call is refused and the database is unchanged.

The pattern of test_handler_refusals: the in-process state tree, the registered
(guarded) handler awaited with attacker-chosen arguments and steered state.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

import membook_app.membook_app  # noqa: F401
from membook_app.accounts.permissions import load_actor
from membook_app.billing.reminders import save_rule
from membook_app.db import session_scope
from membook_app.ui.admin.invoice_delivery import InvoiceMailState
from membook_app.ui.admin.reminders import RemindersState
from models import AuditEvent, Invoice, Job, OutboxMessage, Reminder, ReminderRule, User
from tests.db.test_invoice_page import make_invoice
from tests.factories import make_member, make_member_login, make_staff, make_tree
from tests.handlers import call_handler, is_refusal, state_for

ATTACKERS = ["nobody", "forged", "member", "sibling_admin", "viewer"]
READERS_REFUSED = ["nobody", "forged", "member", "sibling_admin"]


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    tree = make_tree(db_url)
    payer = make_member(db_url, tree.club_a, tree.type_a, "Ville", "Velallinen",
                        "ville@example.fi")
    make_member(db_url, tree.club_b, tree.type_b, "Maija", "Jäsen", "maija@example.fi")
    invoice = make_invoice(db_url, tree.club_a, payer, [(tree.club_a, "Jäsenmaksu", 3000)],
                           due=date.today() - timedelta(days=60))
    return {
        "url": db_url, "tree": tree, "invoice": invoice,
        "nobody": "", "forged": "not-a-real-session-token",
        "member": make_member_login(db_url, "maija@example.fi"),
        "sibling_admin": make_staff(db_url, "b.admin@example.fi", tree.club_b, "admin"),
        "viewer": make_staff(db_url, "viewer@example.fi", tree.club_a, "viewer"),
        "treasurer": make_staff(db_url, "treasurer@example.fi", tree.club_a, "treasurer"),
    }


def _snapshot(url: str) -> tuple[Any, ...]:
    with session_scope(url) as s:
        def count(model: Any) -> int:
            return s.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()

        totals = tuple(s.execute(sa.select(Invoice.total_cents).order_by(Invoice.id)).scalars())
        rules = tuple(s.execute(sa.select(ReminderRule.enabled, ReminderRule.fee_cents)).all())
        return (count(Job), count(OutboxMessage), count(Reminder), count(AuditEvent), totals,
                rules)


def _enable_rule(world: dict[str, Any]) -> None:
    """A rule that would remind the overdue invoice, so a successful call would show."""
    with session_scope(world["url"]) as s:
        user = s.execute(sa.select(User).where(User.email == "treasurer@example.fi")).scalar_one()
        save_rule(s, load_actor(s, user), world["tree"].club_a, enabled=True,
                  first_after_days=14, second_after_days=None, fee_cents=500)


@pytest.mark.parametrize("who", ATTACKERS)
async def test_sending_invoices_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = state_for(InvoiceMailState, world[who])
    state.org_id = str(world["tree"].club_a)  # steered at the victim organisation
    result = await call_handler(state, "send")
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before
    assert state.running is False


@pytest.mark.parametrize("who", READERS_REFUSED)
async def test_mail_preview_of_other_organisation_refused(world: dict[str, Any],
                                                          who: str) -> None:
    state = state_for(InvoiceMailState, world[who])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "load")
    assert is_refusal(result), result
    assert state.to_send == 0


@pytest.mark.parametrize("who", ATTACKERS)
async def test_saving_the_reminder_rule_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = state_for(RemindersState, world[who])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "save_rule", {"enabled": "on", "first_days": "1",
                                              "second_days": "", "fee": "5"})
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", ATTACKERS)
async def test_sending_reminders_refused(world: dict[str, Any], who: str) -> None:
    _enable_rule(world)
    before = _snapshot(world["url"])
    state = state_for(RemindersState, world[who])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "send_now")
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", READERS_REFUSED)
async def test_overdue_list_and_export_refused(world: dict[str, Any], who: str) -> None:
    state = state_for(RemindersState, world[who])
    state.org_id = str(world["tree"].club_a)
    for handler in ("load", "export"):
        result = await call_handler(state, handler)
        assert is_refusal(result), (handler, result)
        assert "download" not in repr(result)
    assert state.rows == []


async def test_viewer_reads_and_exports_but_treasurer_acts(world: dict[str, Any]) -> None:
    """Positive controls: the same handlers do work for those allowed."""
    viewer = state_for(RemindersState, world["viewer"])
    viewer.org_id = str(world["tree"].club_a)
    await call_handler(viewer, "load")
    assert [r.payer for r in viewer.rows] == ["Velallinen Ville"]
    assert "download" in repr(await call_handler(viewer, "export"))

    treasurer = state_for(RemindersState, world["treasurer"])
    treasurer.org_id = str(world["tree"].club_a)
    await call_handler(treasurer, "save_rule", {"enabled": "on", "first_days": "14",
                                         "second_days": "", "fee": "2,50"})
    assert treasurer.errors == {} and treasurer.fee == "2,50"
    await call_handler(treasurer, "send_now")
    with session_scope(world["url"]) as s:
        assert s.execute(sa.select(Reminder.number, Reminder.fee_cents)).all() == [(1, 250)]
        assert s.get(Invoice, world["invoice"]).total_cents == 3250

    mail = state_for(InvoiceMailState, world["treasurer"])
    mail.org_id = str(world["tree"].club_a)
    await call_handler(mail, "load")
    assert mail.to_send == 1
    result = await call_handler(mail, "send")
    assert not is_refusal(result) and mail.running
    with session_scope(world["url"]) as s:
        assert s.execute(sa.select(Job.kind)).scalars().all() == ["invoice_mail"]
