"""What the staff's invoice page shows besides `invoices.invoice_detail`.

* Each payment booked to the invoice with its allocation's kind and the rule that matched
  it, in the payments pages' words (`payments/labels.py`), and reversals marked: a
  treasurer answering "why is this paid?" needs to see "viite / reference" or "käsin / by
  hand", and that a booking was taken back.
* Links to the invoice's public page and PDF, for printing it for a member without an
  email address (paper delivery). A fresh signed token each time, issued only to staff
  who may read the invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session

from membook_app.accounts.permissions import Actor
from membook_app.billing.invoices import get_invoice
from membook_app.billing.public_link import invoice_url, issue_token, pdf_url
from membook_app.payments.labels import (
    ALLOCATION_KINDS,
    ALLOCATION_RULES,
    PAYMENT_SOURCES,
    PAYMENT_STATUSES,
    label,
)
from models import Allocation, Payment

# A reversal's own allocation kind is "reversal" (payments/matching.py: reverse_payment).
_KINDS = {**ALLOCATION_KINDS, "reversal": PAYMENT_STATUSES["reversal"]}


@dataclass(frozen=True)
class PaymentLine:
    allocation_id: int
    booking_date: date
    source: str  # labels, Finnish / English
    payer_name: str
    amount_cents: int  # negative for a reversal
    kind: str
    rule: str
    reversal: str  # "oikaisu / correction" (takes back), "oikaistu / reversed" (taken back), ""


def invoice_payments(session: Session, actor: Actor, invoice_id: int) -> list[PaymentLine]:
    """The invoice's allocations, oldest first (NotFound outside the actor's grants)."""
    invoice = get_invoice(session, actor, invoice_id)
    rows = session.execute(
        sa.select(Allocation.id, Payment.booking_date, Payment.source, Payment.payer_name,
                  Allocation.amount_cents, Allocation.kind, Allocation.rule,
                  Allocation.reverses_allocation_id)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Allocation.invoice_id == invoice.id).order_by(Allocation.id)).all()
    taken_back = {r.reverses_allocation_id for r in rows if r.reverses_allocation_id}
    return [PaymentLine(
        r.id, r.booking_date, label(PAYMENT_SOURCES, r.source), r.payer_name or "",
        r.amount_cents, label(_KINDS, r.kind), label(ALLOCATION_RULES, r.rule),
        label(PAYMENT_STATUSES, "reversal") if r.reverses_allocation_id
        else label(PAYMENT_STATUSES, "reversed") if r.id in taken_back else "")
        for r in rows]


@dataclass(frozen=True)
class PaperLinks:
    page: str
    pdf: str


def paper_links(session: Session, actor: Actor, invoice_id: int) -> PaperLinks:
    """The public page and PDF of an invoice the actor may read, to print it."""
    invoice = get_invoice(session, actor, invoice_id)
    token = issue_token(invoice.id, invoice.reference)  # type: ignore[arg-type]
    return PaperLinks(invoice_url(token), pdf_url(token))
