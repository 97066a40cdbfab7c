"""Refunds: payments the operator marked to be paid back (`unmatched.mark_refund`), and the
step that closes one — "paid back on this day".

A payment marked for refund stays in the escrow account until the operator transfers it
back to the payer from the bank; Membook cannot see that transfer as such (an outgoing
debit carries no reference of ours), so the operator records it here with the day it was
paid. From that day the escrow reconciliation counts it as paid back rather than as money
still in the account (docs/settlements.md, "Escrow reconciliation"). Operator only, like
marking: refunds are escrow money. Each step is an audit event in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.audit import record
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.formatting import fi_date
from membook_app.payments.bank_import import helsinki_today
from membook_app.payments.matching import lock_money
from models import Payment

MAX_ROWS = 200


@dataclass(frozen=True)
class RefundRow:
    """One payment marked for refund, paid back (`refunded_on`) or still owed."""

    payment_id: int
    booking_date: date
    amount_cents: int
    payer_name: str
    payer_iban: str
    message: str
    refunded_on: date | None


def require_operator(actor: Actor) -> None:
    if not actor.is_operator:
        raise PermissionDenied("Vain operaattori käsittelee palautuksia",
                               "Only the operator handles refunds")


def list_refunds(session: Session, actor: Actor, *, limit: int = MAX_ROWS) -> list[RefundRow]:
    """Refunds still owed first (oldest first), then the latest paid back."""
    require_operator(actor)
    rows = session.exec(select(Payment).where(Payment.status == "refund").order_by(
        col(Payment.refunded_on).is_not(None), col(Payment.refunded_on).desc(),
        col(Payment.booking_date), col(Payment.id)).limit(limit)).all()
    return [RefundRow(p.id, p.booking_date, p.amount_cents, p.payer_name or "",  # type: ignore[arg-type]
                      p.payer_iban or "", p.message or "", p.refunded_on) for p in rows]


def mark_refund_paid(session: Session, actor: Actor, payment_id: int, paid_on: date,
                     *, today: date | None = None) -> RefundRow:
    """Record that a payment marked for refund was paid back to its payer on `paid_on`.

    Not before the payment was booked, not in the future; recording the same day again
    changes nothing, another day for a refund already recorded is refused (correcting a
    recorded payback is a bank question, not a click).
    """
    require_operator(actor)
    lock_money(session)
    payment = session.get(Payment, payment_id)
    if payment is None or payment.status != "refund":
        raise NotFound("Palautettavaksi merkittyä maksua ei löydy",
                       "No payment marked for refund", field="payment_id")
    if not isinstance(paid_on, date):
        raise ValidationError("Palautuspäivä puuttuu", "The day paid back is missing",
                              field="paid_on")
    if paid_on > (today or helsinki_today()):
        raise ValidationError("Palautuspäivä ei voi olla tulevaisuudessa",
                              "The day paid back cannot be in the future", field="paid_on")
    if paid_on < payment.booking_date:
        raise ValidationError(
            f"Palautuspäivä on ennen maksun kirjauspäivää {fi_date(payment.booking_date)}",
            f"The day paid back is before the payment was booked "
            f"({payment.booking_date.isoformat()})", field="paid_on")
    if payment.refunded_on is not None and payment.refunded_on != paid_on:
        raise ValidationError(
            f"Maksu on jo kirjattu palautetuksi {fi_date(payment.refunded_on)}",
            f"The payment is already recorded as paid back on "
            f"{payment.refunded_on.isoformat()}", field="paid_on")
    if payment.refunded_on is None:
        payment.refunded_on = paid_on
        session.add(payment)
        session.flush()
        record(session, actor, "payment.refund_paid", "payment", payment.id,
               before={"refunded_on": None},
               after={"refunded_on": paid_on, "amount_cents": payment.amount_cents,
                      "payer_name": payment.payer_name, "payer_iban": payment.payer_iban})
    return RefundRow(payment.id, payment.booking_date, payment.amount_cents,  # type: ignore[arg-type]
                     payment.payer_name or "", payment.payer_iban or "", payment.message or "",
                     payment.refunded_on)
