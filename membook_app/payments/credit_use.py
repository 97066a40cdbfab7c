"""Paying a payer's open invoice from their credit balance ("Maija paid twice last year").

Money reaches a payer's credit balance with a payment (an over-payment, a payment to a
paid or credited invoice, money a credit note moved off an invoice): `credit` allocations
with the person and the payment the money came with. `apply_credit` moves part of that
money to one of the payer's payable invoices, per source payment, oldest payment first: a
negative `credit` allocation and a positive invoice allocation, both on the same payment
and with rule `from_credit`. The money thus stays traceable to the payment it came with:
a settlement splits the new invoice allocation like any payment (fees once per payment and
organisation, so an organisation already charged for that payment is not charged again),
and a bank correction of the payment reverses the moved money too.

Who: admins and treasurers (`billing.write`) of the invoice's organisation, and only with
credit from payments that reached one of the invoices of organisations where they hold
`billing.write` (the scoping of `views.person_balance`): one association never spends
money that came in through another's invoice. The operator may use any credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor, in_subtrees
from membook_app.audit import record
from membook_app.billing.status import refresh_invoices
from membook_app.errors import NotFound, ValidationError
from membook_app.payments.matching import lock_money
from membook_app.payments.views import OPEN_STATUSES, payment_in
from models import Allocation, Invoice, Organization, Payment, utcnow

RULE = "from_credit"


@dataclass(frozen=True)
class CreditUse:
    invoice_id: int
    amount_cents: int
    status: str  # the invoice's status afterwards
    parts: tuple[tuple[int, int], ...]  # (payment id, cents) taken, oldest payment first


def usable_credit(session: Session, actor: Actor, person_id: int) -> list[tuple[int, int]]:
    """(payment id, cents) of the person's credit this actor may use, oldest payment first.

    The operator may use all of it; staff the credit from payments that reached an invoice
    of an organisation where they hold billing.write (`views.payment_in`)."""
    query = (select(Allocation.payment_id, sa.func.sum(Allocation.amount_cents))
             .join(Payment, Payment.id == Allocation.payment_id)
             .where(Allocation.person_id == person_id, col(Allocation.invoice_id).is_(None))
             .group_by(col(Allocation.payment_id), col(Payment.booking_date))
             .having(sa.func.sum(Allocation.amount_cents) > 0)
             .order_by(col(Payment.booking_date), col(Allocation.payment_id)))
    if not actor.is_operator:
        query = query.where(payment_in(in_subtrees(actor, "billing.write")))
    return [(int(payment_id), int(cents)) for payment_id, cents in session.exec(query).all()]


def open_cents(invoice: Invoice) -> int:
    """What the invoice still asks."""
    return max(invoice.total_cents - invoice.credited_cents - invoice.paid_cents, 0)


def credit_offers(session: Session, actor: Actor, person_id: int) -> dict[int, int]:
    """Invoice id → the default amount `apply_credit` would take, for each payable invoice
    the person pays that the actor may pay from credit (empty with no usable credit)."""
    usable = sum(cents for _, cents in usable_credit(session, actor, person_id))
    if usable <= 0:
        return {}
    invoices = session.exec(
        select(Invoice).join(Organization, Organization.id == Invoice.organization_id)
        .where(Invoice.payer_id == person_id, Invoice.kind != "credit_note",
               col(Invoice.status).in_(OPEN_STATUSES), in_subtrees(actor, "billing.write"))).all()
    return {i.id: min(open_cents(i), usable) for i in invoices  # type: ignore[misc]
            if open_cents(i) > 0}


def _payable_invoice(session: Session, actor: Actor, person_id: int,
                     invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    org = session.get(Organization, invoice.organization_id) if invoice else None
    if invoice is None or org is None or not actor.can("billing.read", org.path):
        raise NotFound("Laskua ei löydy", "Invoice not found")
    actor.require("billing.write", org)
    session.refresh(invoice)
    if invoice.kind == "credit_note":
        raise ValidationError("Hyvityslaskua ei voi maksaa saldosta",
                              "A credit note cannot be paid from credit")
    if invoice.payer_id != person_id:
        raise ValidationError("Laskun maksaja on toinen henkilö",
                              "The invoice is paid by someone else")
    if invoice.status not in OPEN_STATUSES or open_cents(invoice) <= 0:
        raise ValidationError("Lasku ei ole avoinna", "The invoice is not open")
    return invoice


def take_oldest_first(usable: list[tuple[int, int]], amount: int) -> list[tuple[int, int]]:
    """The parts of `amount` taken from the usable credit, oldest payment first."""
    parts = []
    for payment_id, cents in usable:
        if amount <= 0:
            break
        part = min(cents, amount)
        parts.append((payment_id, part))
        amount -= part
    return parts


def apply_credit(session: Session, actor: Actor, person_id: int, invoice_id: int,
                 amount_cents: int | None = None, *, today: date | None = None) -> CreditUse:
    """Pay the invoice from the person's credit, in the caller's transaction.

    `amount_cents` None: as much as both the invoice asks and the usable credit allow.
    The money lock is taken before anything is read, so two uses of the same credit (or
    a bank import filling the same invoice) are serialised and cannot overdraw.
    """
    if amount_cents is not None and (not isinstance(amount_cents, int)
                                     or isinstance(amount_cents, bool)):
        raise ValidationError("Anna summa senteinä", "Give the amount in cents",
                              field="amount")
    lock_money(session)
    invoice = _payable_invoice(session, actor, person_id, invoice_id)
    usable = usable_credit(session, actor, person_id)
    available, asked = sum(c for _, c in usable), open_cents(invoice)
    amount = min(asked, available) if amount_cents is None else amount_cents
    if amount_cents is None and available <= 0:
        raise ValidationError("Maksajalla ei ole käytettävää saldoa",
                              "The payer has no credit you can use", field="amount")
    if amount <= 0:
        raise ValidationError("Summan on oltava positiivinen", "The amount must be positive",
                              field="amount")
    if amount > asked:
        raise ValidationError("Summa on suurempi kuin laskulla on avoinna",
                              "The amount exceeds what the invoice still asks",
                              field="amount")
    if amount > available:
        raise ValidationError("Summa on suurempi kuin käytettävissä oleva saldo",
                              "The amount exceeds the credit you can use", field="amount")
    parts = take_oldest_first(usable, amount)
    now = utcnow()
    rows = []
    for payment_id, cents in parts:
        common = {"payment_id": payment_id, "rule": RULE, "created_by_user_id": actor.user_id,
                  "created_at": now}
        rows.append({**common, "invoice_id": None, "person_id": person_id,
                     "amount_cents": -cents, "kind": "credit"})
        rows.append({**common, "invoice_id": invoice.id, "person_id": None,
                     "amount_cents": cents, "kind": "invoice"})
    session.execute(sa.insert(Allocation.__table__), rows)  # type: ignore[arg-type]
    before = {"status": invoice.status, "paid_cents": invoice.paid_cents}
    refresh_invoices(session, [invoice.id], today=today)  # type: ignore[list-item]
    session.refresh(invoice)
    record(session, actor, "invoice.paid_from_credit", "invoice", invoice.id,
           organization_id=invoice.organization_id, before=before,
           after={"status": invoice.status, "paid_cents": invoice.paid_cents,
                  "amount_cents": amount, "person_id": person_id,
                  "payments": [{"payment_id": p, "cents": c} for p, c in parts]})
    return CreditUse(invoice.id, amount, invoice.status,  # type: ignore[arg-type]
                     tuple(parts))
