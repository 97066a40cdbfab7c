"""Refunds: payments the operator marked to be paid back (`unmatched.mark_refund`) and
credit paid back to a payer (`credit_refunds.refund_credit`), and the step that closes
one — "paid back on this day".

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
from membook_app.formatting import HELSINKI, fi_date
from membook_app.payments.bank_import import helsinki_today
from membook_app.payments.matching import lock_money
from models import CreditRefund, Payment, Person

MAX_ROWS = 200


@dataclass(frozen=True)
class RefundRow:
    """One payment marked for refund or one credit refund (`credit_refund_id`, no
    payment; booked = the day it was made), paid back (`refunded_on`) or still owed."""

    payment_id: int | None
    booking_date: date
    amount_cents: int
    payer_name: str
    payer_iban: str
    message: str
    refunded_on: date | None
    credit_refund_id: int | None = None


def require_operator(actor: Actor) -> None:
    if not actor.is_operator:
        raise PermissionDenied("Vain operaattori käsittelee palautuksia",
                               "Only the operator handles refunds")


def list_refunds(session: Session, actor: Actor, *, limit: int = MAX_ROWS) -> list[RefundRow]:
    """Refunds still owed first (oldest first), then the latest paid back; payments marked
    for refund and credit refunds together."""
    require_operator(actor)
    payments = session.exec(select(Payment).where(Payment.status == "refund").order_by(
        col(Payment.refunded_on).is_not(None), col(Payment.refunded_on).desc(),
        col(Payment.booking_date), col(Payment.id)).limit(limit)).all()
    credits = session.exec(select(CreditRefund, Person).join(
        Person, Person.id == CreditRefund.person_id).order_by(
        col(CreditRefund.paid_on).is_not(None), col(CreditRefund.paid_on).desc(),
        col(CreditRefund.id)).limit(limit)).all()
    rows = [RefundRow(p.id, p.booking_date, p.amount_cents, p.payer_name or "",
                      p.payer_iban or "", p.message or "", p.refunded_on) for p in payments]
    rows += [_credit_row(c, person) for c, person in credits]
    rows.sort(key=lambda r: (r.refunded_on is not None,
                             -(r.refunded_on.toordinal() if r.refunded_on else 0),
                             r.booking_date))
    return rows[:limit]


def _credit_row(refund: CreditRefund, person: Person) -> RefundRow:
    return RefundRow(None, refund.created_at.astimezone(HELSINKI).date(), refund.amount_cents,
                     f"{person.last_name} {person.first_name}", refund.iban, refund.note,
                     refund.paid_on, refund.id)


def _check_day(paid_on: date, earliest: date, today: date | None, fi_early: str,
               en_early: str) -> None:
    """A day paid back is given, not in the future and not before `earliest`."""
    if not isinstance(paid_on, date):
        raise ValidationError("Palautuspäivä puuttuu", "The day paid back is missing",
                              field="paid_on")
    if paid_on > (today or helsinki_today()):
        raise ValidationError("Palautuspäivä ei voi olla tulevaisuudessa",
                              "The day paid back cannot be in the future", field="paid_on")
    if paid_on < earliest:
        raise ValidationError(f"{fi_early} {fi_date(earliest)}",
                              f"{en_early} ({earliest.isoformat()})", field="paid_on")


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
    _check_day(paid_on, payment.booking_date, today, "Palautuspäivä on ennen maksun "
               "kirjauspäivää", "The day paid back is before the payment was booked")
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


def mark_credit_refund_paid(session: Session, actor: Actor, credit_refund_id: int,
                            paid_on: date, *, today: date | None = None) -> RefundRow:
    """Record that a credit refund was paid back to the payer's account on `paid_on`.

    Not before the refund was made, not in the future, and only once: a credit refund
    already recorded as paid back is refused, whatever the day (correcting it is a bank
    question, not a click)."""
    require_operator(actor)
    lock_money(session)
    refund = session.get(CreditRefund, credit_refund_id)
    person = session.get(Person, refund.person_id) if refund else None
    if refund is None or person is None:
        raise NotFound("Saldon palautusta ei löydy", "No such credit refund",
                       field="credit_refund_id")
    if refund.paid_on is not None:
        raise ValidationError(
            f"Saldon palautus on jo kirjattu palautetuksi {fi_date(refund.paid_on)}",
            f"The credit refund is already recorded as paid back on "
            f"{refund.paid_on.isoformat()}", field="paid_on")
    _check_day(paid_on, refund.created_at.astimezone(HELSINKI).date(), today,
               "Palautuspäivä on ennen palautuksen kirjausta",
               "The day paid back is before the refund was made")
    refund.paid_on, refund.paid_by_user_id = paid_on, actor.user_id
    session.add(refund)
    session.flush()
    record(session, actor, "payment.credit_refund_paid", "creditrefund", refund.id,
           before={"paid_on": None},
           after={"paid_on": paid_on, "amount_cents": refund.amount_cents,
                  "person_id": refund.person_id, "iban": refund.iban})
    return _credit_row(refund, person)
