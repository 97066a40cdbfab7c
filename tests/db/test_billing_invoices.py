"""Manual invoices, credit notes and statuses, the invoice list and detail (both databases)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from membook_app.banking.references import is_valid_national
from membook_app.billing.invoices import (
    InvoiceQuery,
    LineInput,
    create_credit_note,
    create_manual_invoice,
    invoice_detail,
    list_invoices,
)
from membook_app.billing.runs import commit_run
from membook_app.billing.status import refresh_invoices
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from models import Allocation, AuditEvent, Invoice, InvoiceLine, Payment
from tests.db.test_billing_fees import P, World, actor_for, billing_world

ISSUE, DUE = date(2027, 1, 2), date(2099, 1, 31)


@pytest.fixture
def world(db_url: str) -> World:
    w = billing_world(db_url)
    with session_scope(db_url) as s:
        commit_run(s, None, w.tree.district, True, P, ISSUE, DUE)
    return w


def _invoice_of(world: World, person: str) -> Invoice:
    with session_scope(world.url) as s:
        return s.exec(select(Invoice).where(Invoice.person_id == world.people[person],
                                            Invoice.kind == "invoice")).one()


def _pay(url: str, invoice_id: int, cents: int, source_id: str) -> None:
    """A bank payment booked to the invoice, as the banking side records it."""
    with session_scope(url) as s:
        payment = Payment(source="bank", source_id=source_id, booking_date=date(2027, 1, 10),
                          amount_cents=cents, status="matched")
        s.add(payment)
        s.flush()
        s.add(Allocation(payment_id=payment.id, invoice_id=invoice_id, amount_cents=cents))
        s.flush()
        refresh_invoices(s, [invoice_id])


def test_manual_invoice(world: World) -> None:
    t = world.tree
    treasurer = actor_for(world.url, "rh@example.fi", t.club_a, "treasurer")
    with session_scope(world.url) as s:
        inv = create_manual_invoice(
            s, treasurer, organization_id=t.club_a, person_id=world.people["dependant"],
            lines=[LineInput(t.club_a, "Leiri", 12000), LineInput(t.federation, "Lisenssi", 2500)],
            issue_date=ISSUE, due_date=DUE, description="Kesäleiri")
        inv_id = inv.id
        assert inv.total_cents == 14500 and inv.payer_id == world.people["full"]
        assert inv.status == "open" and is_valid_national(inv.reference)
    with session_scope(world.url) as s:
        kinds = s.exec(select(InvoiceLine.kind).where(InvoiceLine.invoice_id == inv_id)).all()
        assert kinds == ["manual", "manual"]
        event = s.exec(select(AuditEvent).where(AuditEvent.action == "invoice.created")).one()
        assert event.object_id == inv_id and event.after["total_cents"] == 14500
    bad = [
        ([LineInput(t.club_b, "Väärä yhdistys", 100)], ValidationError),
        ([LineInput(t.club_a, "", 100)], ValidationError),
        ([LineInput(t.club_a, "Nolla", 0)], ValidationError),
        ([], ValidationError),
    ]
    for lines, exc in bad:
        with pytest.raises(exc):
            with session_scope(world.url) as s:
                create_manual_invoice(s, treasurer, organization_id=t.club_a,
                                      person_id=world.people["full"], lines=lines,
                                      issue_date=ISSUE, due_date=DUE)
    with pytest.raises(NotFound):  # club B's member is not club A's to invoice
        with session_scope(world.url) as s:
            create_manual_invoice(s, treasurer, organization_id=t.club_a,
                                  person_id=world.people["paper"],
                                  lines=[LineInput(t.club_a, "X", 100)],
                                  issue_date=ISSUE, due_date=DUE)
    sibling = actor_for(world.url, "b@example.fi", t.club_b, "treasurer")
    viewer = actor_for(world.url, "v@example.fi", t.club_a, "viewer")
    for who in (sibling, viewer):
        with pytest.raises(PermissionDenied):
            with session_scope(world.url) as s:
                create_manual_invoice(s, who, organization_id=t.club_a,
                                      person_id=world.people["full"],
                                      lines=[LineInput(t.club_a, "X", 100)],
                                      issue_date=ISSUE, due_date=DUE)
    with session_scope(world.url) as s:
        assert len(s.exec(select(Invoice)).all()) == 6


def test_full_credit_note(world: World) -> None:
    inv = _invoice_of(world, "full")
    treasurer = actor_for(world.url, "rh@example.fi", world.tree.club_a, "treasurer")
    with session_scope(world.url) as s:
        note = create_credit_note(s, treasurer, inv.id, reason="Erosi ennen kautta")  # type: ignore[arg-type]
        note_id = note.id
        assert note.kind == "credit_note" and note.credited_invoice_id == inv.id
        assert note.total_cents == -4800 and note.status == "credited"
        assert note.reference != inv.reference and is_valid_national(note.reference)
    with session_scope(world.url) as s:
        original = s.get(Invoice, inv.id)
        assert (original.status, original.credited_cents) == ("credited", 4800)
        lines = s.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == note_id)
                       .order_by(InvoiceLine.position)).all()
        assert [(li.organization_id, li.amount_cents) for li in lines] == [
            (world.tree.club_a, -3000), (world.tree.district, -1000),
            (world.tree.federation, -800)]
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "invoice.credited")).one()
    with pytest.raises(ValidationError):  # nothing left to credit
        with session_scope(world.url) as s:
            create_credit_note(s, treasurer, inv.id)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):  # a credit note is not credited
        with session_scope(world.url) as s:
            create_credit_note(s, treasurer, note_id)  # type: ignore[arg-type]


def test_partial_credit_and_payment_statuses(world: World) -> None:
    inv = _invoice_of(world, "full")
    treasurer = actor_for(world.url, "rh@example.fi", world.tree.club_a, "treasurer")
    with session_scope(world.url) as s:
        detail = invoice_detail(s, treasurer, inv.id)  # type: ignore[arg-type]
        club_line = detail.lines[0].position
        assert detail.creditable[club_line] == 3000
    _pay(world.url, inv.id, 1000, "A1")  # type: ignore[arg-type]
    assert _invoice_of(world, "full").status == "partly_paid"
    with session_scope(world.url) as s:
        create_credit_note(s, treasurer, inv.id, amounts={club_line: 1800})  # type: ignore[arg-type]
    with pytest.raises(ValidationError):  # more than is left on the line
        with session_scope(world.url) as s:
            create_credit_note(s, treasurer, inv.id, amounts={club_line: 1201})  # type: ignore[arg-type]
    after = _invoice_of(world, "full")
    assert (after.credited_cents, after.paid_cents, after.status) == (1800, 1000, "partly_paid")
    _pay(world.url, inv.id, 2000, "A2")  # type: ignore[arg-type]
    assert _invoice_of(world, "full").status == "paid"  # 4800 - 1800 = 3000 paid
    with session_scope(world.url) as s:
        detail = invoice_detail(s, treasurer, inv.id)  # type: ignore[arg-type]
    assert detail.creditable[club_line] == 1200
    assert [a.amount_cents for a in detail.allocations] == [1000, 2000]
    assert len(detail.credit_notes) == 1 and detail.credit_notes[0].total_cents == -1800
    sibling = actor_for(world.url, "b@example.fi", world.tree.club_b, "treasurer")
    viewer = actor_for(world.url, "v@example.fi", world.tree.club_a, "viewer")
    for who, exc in ((sibling, NotFound), (viewer, PermissionDenied)):
        with pytest.raises(exc):
            with session_scope(world.url) as s:
                create_credit_note(s, who, inv.id)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        with session_scope(world.url) as s:
            invoice_detail(s, sibling, inv.id)  # type: ignore[arg-type]
    assert _invoice_of(world, "full").credited_cents == 1800


def test_invoice_list_filters_and_pages(world: World) -> None:
    t = world.tree
    district = actor_for(world.url, "d@example.fi", t.district, "viewer")
    with session_scope(world.url) as s:
        everything = list_invoices(s, district, InvoiceQuery(t.district, page_size=2))
        assert (everything.total, everything.pages, len(everything.rows)) == (5, 3, 2)
        assert everything.sum_cents == 4800 + 2000 + 6200 + 4800 + 4300
        last = list_invoices(s, district, InvoiceQuery(t.district, page_size=2, page=99))
        assert last.page == 3 and len(last.rows) == 1
        club_b = list_invoices(s, district, InvoiceQuery(t.club_b))
        assert [r.person_name for r in club_b.rows] == ["Paperi Paavo"]
        by_name = list_invoices(s, district, InvoiceQuery(t.district, search="virtanen"))
        assert by_name.total == 2  # Matti, and Ville billed to him
        ref = everything.rows[0].reference
        by_ref = list_invoices(s, district, InvoiceQuery(t.district, search=ref))
        assert [r.reference for r in by_ref.rows] == [ref]
        assert list_invoices(s, district, InvoiceQuery(t.district, status="paid")).total == 0
        assert list_invoices(s, district, InvoiceQuery(t.district, period="2026")).total == 0
    sibling = actor_for(world.url, "b@example.fi", t.club_b, "treasurer")
    with pytest.raises(PermissionDenied):
        with session_scope(world.url) as s:
            list_invoices(s, sibling, InvoiceQuery(t.club_a))
