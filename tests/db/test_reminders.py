"""Reminder rules applied on given dates, the overdue list and its Excel export."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from membook_app.accounts.permissions import Actor
from membook_app.billing import delivery
from membook_app.billing.reminders import (
    OverdueQuery,
    apply_reminders,
    get_rule,
    overdue_page,
    overdue_workbook,
    save_rule,
)
from membook_app.db import session_scope
from membook_app.errors import FormErrors, PermissionDenied
from membook_app.formatting import HELSINKI
from models import AuditEvent, Invoice, InvoiceLine, OutboxMessage, Reminder
from tasks.invoice_mail import helsinki_today, mark_overdue_daily
from tests.db.test_invoice_delivery import Inbox, actor_for, smtp  # noqa: F401 (fixture)
from tests.db.test_invoice_page import make_invoice, pay
from tests.factories import make_member, make_tree

DUE = date(2027, 1, 31)


@dataclass
class World:
    url: str
    org: int
    district: int
    treasurer: Actor
    invoices: dict[str, int]


@pytest.fixture
def world(db_url: str) -> World:
    tree = make_tree(db_url)
    invoices = {}
    for key, first, due, email in (("late", "Myöhäinen", DUE, "late@example.fi"),
                                   ("later", "Myöhempi", DUE + timedelta(days=10), None),
                                   ("paid", "Maksanut", DUE, "paid@example.fi"),
                                   ("partly", "Osittain", DUE, "partly@example.fi")):
        person = make_member(db_url, tree.club_a, tree.type_a, first, "Virtanen", email)
        invoices[key] = make_invoice(db_url, tree.club_a, person, [
            (tree.club_a, "Jäsenmaksu", 3000), (tree.district, "Piirin osuus", 1000)], due=due)
    other = make_member(db_url, tree.club_b, tree.type_b, "Toinen", "Seura", "b@example.fi")
    invoices["club_b"] = make_invoice(db_url, tree.club_b, other, [(tree.club_b, "Maksu", 100)],
                                      due=DUE)
    pay(db_url, invoices["paid"], 4000, DUE - timedelta(days=3))
    pay(db_url, invoices["partly"], 1500, DUE - timedelta(days=3))
    treasurer = actor_for(db_url, "rahastonhoitaja@example.fi", tree.club_a, "treasurer")
    with session_scope(db_url) as s:
        save_rule(s, treasurer, tree.club_a, enabled=True, first_after_days=14,
                  second_after_days=28, fee_cents=500)
    return World(db_url, tree.club_a, tree.district, treasurer, invoices)


def _at(day: date) -> datetime:
    return datetime.combine(day, time(7, 30), tzinfo=HELSINKI)


def _apply(world: World, day: date) -> tuple[int, int]:
    with session_scope(world.url) as s:
        result = apply_reminders(s, day, now=_at(day))
    return result.first, result.second


def _invoice(world: World, key: str) -> Invoice:
    with session_scope(world.url) as s:
        return s.get(Invoice, world.invoices[key])  # type: ignore[return-value]


def _reminders(world: World) -> set[tuple[str, int]]:
    names = {v: k for k, v in world.invoices.items()}
    with session_scope(world.url) as s:
        return {(names[r.invoice_id], r.number) for r in s.exec(select(Reminder))}


def test_rules_create_each_reminder_once_with_its_fee(world: World) -> None:
    assert _apply(world, DUE + timedelta(days=13)) == (0, 0)  # not yet
    assert _apply(world, DUE + timedelta(days=14)) == (2, 0)  # late + partly; paid never
    assert _reminders(world) == {("late", 1), ("partly", 1)}
    late = _invoice(world, "late")
    assert (late.total_cents, late.status) == (4500, "overdue")
    partly = _invoice(world, "partly")
    assert (partly.total_cents, partly.paid_cents, partly.status) == (4500, 1500, "overdue")
    with session_scope(world.url) as s:
        fee_lines = s.exec(select(InvoiceLine).where(InvoiceLine.kind == "reminder_fee")).all()
        assert sorted((ln.invoice_id, ln.amount_cents, ln.position, ln.organization_id)
                      for ln in fee_lines) == sorted(
            (world.invoices[k], 500, 2, world.org) for k in ("late", "partly"))
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "reminders.sent")).all()
        assert [e.after["first"] for e in events] == [2]

    # The same day again, and the next days: nothing twice.
    assert _apply(world, DUE + timedelta(days=14)) == (0, 0)
    assert _apply(world, DUE + timedelta(days=20)) == (0, 0)  # "later" is 10 days overdue
    assert _apply(world, DUE + timedelta(days=24)) == (1, 0)  # now "later" is 14 days over
    assert _invoice(world, "late").total_cents == 4500
    # Second reminders after 28 days, with a second fee; then never again.
    assert _apply(world, DUE + timedelta(days=28)) == (0, 2)
    assert _apply(world, DUE + timedelta(days=60)) == (0, 1)  # "later"
    assert _apply(world, DUE + timedelta(days=90)) == (0, 0)
    assert _invoice(world, "late").total_cents == 5000
    assert ("club_b", 1) not in _reminders(world)  # club B has no rule


def test_reminder_mail_goes_to_the_payer_and_paper_ones_are_recorded(
        world: World, smtp: tuple[Inbox, object]) -> None:  # noqa: F811
    inbox, config = smtp
    with session_scope(world.url) as s:
        result = apply_reminders(s, DUE + timedelta(days=30), now=_at(DUE + timedelta(days=30)))
    assert (result.first, result.mailed, result.without_email) == (3, 2, 1)  # "later": paper
    delivery.deliver_messages(list(result.message_ids), config)  # type: ignore[arg-type]
    assert inbox.recipients() == ["late@example.fi", "partly@example.fi"]
    msg = next(m for r, m in inbox.received if r == ["late@example.fi"])
    assert msg["Subject"] == "Maksumuistutus 1: Jäsenmaksu 2027 – Seura A ry"
    text = msg.get_body(("plain",)).get_content()
    assert "45,00\xa0€" in text and "5,00\xa0€" in text and "31.1.2027" in text
    assert "http://127.0.0.1:3999/i/" in text
    with session_scope(world.url) as s:
        rows = {r.invoice_id: r for r in s.exec(select(Reminder))}
        later = rows[world.invoices["later"]]
        assert later.outbox_message_id is None and later.fee_cents == 500
        message = s.get(OutboxMessage, rows[world.invoices["late"]].outbox_message_id)
        assert message.dedupe_key == f"invoice:{world.invoices['late']}:reminder1"
        assert message.kind == "reminder" and message.status == "sent"


def test_a_late_rule_spaces_the_two_reminders(world: World) -> None:
    """Switched on long after the due date: first now, the second 14 days later."""
    assert _apply(world, DUE + timedelta(days=100)) == (3, 0)
    assert _apply(world, DUE + timedelta(days=113)) == (0, 0)
    assert _apply(world, DUE + timedelta(days=114)) == (0, 3)


def test_rule_without_fee_or_second_reminder(world: World) -> None:
    with session_scope(world.url) as s:
        save_rule(s, world.treasurer, world.org, enabled=True, first_after_days=7,
                  second_after_days=None, fee_cents=0)
    assert _apply(world, DUE + timedelta(days=7)) == (2, 0)
    assert _apply(world, DUE + timedelta(days=200)) == (1, 0)
    assert _invoice(world, "late").total_cents == 4000
    with session_scope(world.url) as s:
        assert s.exec(select(InvoiceLine).where(InvoiceLine.kind == "reminder_fee")).all() == []


def test_disabled_rule_sends_nothing(world: World) -> None:
    with session_scope(world.url) as s:
        save_rule(s, world.treasurer, world.org, enabled=False, first_after_days=14,
                  second_after_days=28, fee_cents=500)
    assert _apply(world, DUE + timedelta(days=100)) == (0, 0)


def test_rule_validation_and_permissions(world: World) -> None:
    with session_scope(world.url) as s, pytest.raises(FormErrors) as caught:
        save_rule(s, world.treasurer, world.org, enabled=True, first_after_days=0,
                  second_after_days=0, fee_cents=600)
    assert set(caught.value.errors) == {"first_after_days", "second_after_days", "fee_cents"}
    viewer = actor_for(world.url, "viewer@example.fi", world.org, "viewer")
    with session_scope(world.url) as s:
        assert get_rule(s, viewer, world.org).fee_cents == 500  # viewers read
        with pytest.raises(PermissionDenied):
            save_rule(s, viewer, world.org, enabled=True, first_after_days=1,
                      second_after_days=None, fee_cents=0)
        with pytest.raises(PermissionDenied):
            apply_reminders(s, DUE, organization_id=world.org, actor=viewer)


def test_overdue_list_filters_and_export(world: World) -> None:
    today = DUE + timedelta(days=20)
    _apply(world, DUE + timedelta(days=14))
    club_a = OverdueQuery(organization_id=world.org)
    with session_scope(world.url) as s:
        page = overdue_page(s, world.treasurer, club_a, today=today)
        assert [r.payer for r in page.rows] == ["Virtanen Myöhäinen", "Virtanen Osittain",
                                                "Virtanen Myöhempi"]
        assert page.total == 3 and page.open_cents == 4500 + 3000 + 4000
        assert page.rows[0].days_overdue == 20 and page.rows[0].reminders == 1
        assert page.rows[0].last_reminder is not None

        def payers(**kw: object) -> list[str]:
            q = OverdueQuery(organization_id=world.org, **kw)  # type: ignore[arg-type]
            return [r.payer for r in overdue_page(s, world.treasurer, q, today=today).rows]

        assert payers(reminders="none") == ["Virtanen Myöhempi"]
        assert payers(reminders="first") == ["Virtanen Myöhäinen", "Virtanen Osittain"]
        assert payers(min_days=15) == ["Virtanen Myöhäinen", "Virtanen Osittain"]
        assert payers(search="osittain") == ["Virtanen Osittain"]
        assert payers(search=_invoice(world, "late").reference) == ["Virtanen Myöhäinen"]
        assert payers(page_size=1, page=2) == ["Virtanen Osittain"]
        # The sibling club's invoice is not in club A's list, and B's admin cannot read A's.
        sibling = actor_for(world.url, "b.admin@example.fi", world.org + 1, "admin")
        with pytest.raises(PermissionDenied):
            overdue_page(s, sibling, club_a, today=today)
        data = overdue_workbook(s, world.treasurer, club_a, today=today)

    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Viitenumero / Reference"
    assert [r[1] for r in rows[1:]] == ["Virtanen Myöhäinen", "Virtanen Osittain",
                                        "Virtanen Myöhempi"]
    assert rows[1][4].date() == DUE and rows[1][5] == 20
    assert rows[1][6] == 45.0 and rows[2][7] == 30.0 and rows[1][8] == 1


def test_daily_task_marks_past_due_invoices_overdue(db_url: str) -> None:
    """The periodic task (run in this process) on the Finnish date: an open and a partly
    paid invoice past their due date turn overdue; paid and not yet due ones stay."""
    tree = make_tree(db_url)
    today = helsinki_today()
    made = {}
    for key, due in (("open", today - timedelta(days=1)), ("partly", today - timedelta(days=5)),
                     ("paid", today - timedelta(days=5)), ("due_today", today)):
        person = make_member(db_url, tree.club_a, tree.type_a, key.title(), "Virtanen")
        made[key] = make_invoice(db_url, tree.club_a, person, [(tree.club_a, "Maksu", 2000)],
                                 due=due, issue=today - timedelta(days=30))
    pay(db_url, made["paid"], 2000, today - timedelta(days=10))
    pay(db_url, made["partly"], 500, today - timedelta(days=10))
    assert mark_overdue_daily.call_local() == 2
    with session_scope(db_url) as s:
        statuses = {k: s.get(Invoice, i).status for k, i in made.items()}
    assert statuses == {"open": "overdue", "partly": "overdue", "paid": "paid",
                        "due_today": "open"}
    assert mark_overdue_daily.call_local() == 0  # nothing left to change
