"""Paying a payer's credit balance back to them ("Maija paid twice by mistake").

Credit has no invoice to pay, so without this it would stay in the escrow account for
ever. The operator takes the amount off the payer's balance at once, per source payment,
oldest payment first (the order `credit_use.apply_credit` uses): one negative allocation
`kind = "refund"`, rule `credit_refund`, on each source payment, all naming the new
`CreditRefund`. The money itself stays in the escrow account until the operator has
transferred it from the bank and records the day (`refunds.mark_credit_refund_paid`);
escrow reconciliation counts it as paid back from that day (docs/settlements.md).

Operator only, like refunds of queued payments: the escrow account holds every
organisation's money. One transaction with its audit event, under the money lock, so a
refund and a use of the same credit cannot both take it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.audit import record
from membook_app.errors import NotFound, ValidationError
from membook_app.payments.credit_use import take_oldest_first, usable_credit
from membook_app.payments.matching import lock_money
from membook_app.payments.refunds import require_operator
from membook_app.register.validation import clean_iban
from models import Allocation, CreditRefund, Payment, Person, utcnow

RULE = "credit_refund"
MAX_NOTE = 500


@dataclass(frozen=True)
class CreditRefundResult:
    credit_refund_id: int
    amount_cents: int
    iban: str
    parts: tuple[tuple[int, int], ...]  # (payment id, cents) taken, oldest payment first


def refund_defaults(session: Session, actor: Actor, person_id: int) -> tuple[int, str]:
    """(the whole credit, the latest payer IBAN of its source payments or "") to prefill
    the refund form with."""
    require_operator(actor)
    usable = usable_credit(session, actor, person_id)
    ibans = session.exec(
        select(Payment.payer_iban)
        .where(col(Payment.id).in_([p for p, _ in usable]), col(Payment.payer_iban).is_not(None),
               Payment.payer_iban != "")
        .order_by(col(Payment.booking_date).desc(), col(Payment.id).desc()).limit(1)).first()
    return sum(c for _, c in usable), ibans or ""


def refund_credit(session: Session, actor: Actor, person_id: int, amount_cents: int, *,
                  iban: str, note: str = "") -> CreditRefundResult:
    """Take `amount_cents` of the person's credit to be paid back to `iban`, in the caller's
    transaction. The lock is taken before the credit is read."""
    require_operator(actor)
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool):
        raise ValidationError("Anna summa senteinä", "Give the amount in cents",
                              field="amount")
    if amount_cents <= 0:
        raise ValidationError("Summan on oltava positiivinen", "The amount must be positive",
                              field="amount")
    account = clean_iban(iban)
    if account is None:
        raise ValidationError("Anna tilinumero (IBAN)", "Give the account number (IBAN)",
                              field="iban")
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise ValidationError(f"Selite on liian pitkä (enintään {MAX_NOTE} merkkiä)",
                              f"The note is too long (at most {MAX_NOTE} characters)",
                              field="note")
    lock_money(session)
    if session.get(Person, person_id) is None:
        raise NotFound("Henkilöä ei löydy", "Person not found")
    usable = usable_credit(session, actor, person_id)
    available = sum(c for _, c in usable)
    if amount_cents > available:
        raise ValidationError("Summa on suurempi kuin maksajan saldo",
                              "The amount exceeds the payer's credit", field="amount")
    refund = CreditRefund(person_id=person_id, amount_cents=amount_cents, iban=account,
                          note=note, created_by_user_id=actor.user_id)
    session.add(refund)
    session.flush()
    parts = take_oldest_first(usable, amount_cents)
    session.execute(sa.insert(Allocation.__table__), [  # type: ignore[arg-type]
        {"payment_id": payment_id, "invoice_id": None, "person_id": person_id,
         "amount_cents": -cents, "kind": "refund", "rule": RULE,
         "credit_refund_id": refund.id, "created_by_user_id": actor.user_id,
         "created_at": utcnow()} for payment_id, cents in parts])
    record(session, actor, "payment.credit_refund", "creditrefund", refund.id,
           after={"person_id": person_id, "amount_cents": amount_cents, "iban": account,
                  "note": note, "payments": [{"payment_id": p, "cents": c} for p, c in parts]})
    return CreditRefundResult(refund.id, amount_cents, account,  # type: ignore[arg-type]
                              tuple(parts))
