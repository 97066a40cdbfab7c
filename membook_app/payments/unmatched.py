"""The unmatched queue: payments no reference could place, and what a person decides.

Each payment in the queue comes with ranked candidate invoices and the reason for each
(the reference is one digit off, the amount equals what is still open, the payer's name
resembles the invoice payer's). A person then books it to one invoice (any excess goes to
the payer's credit balance), splits it over several, or — the operator only, who pays
refunds out of the escrow account — marks it to be refunded. Every decision is an
`AuditEvent` written in the same transaction as the money rows.

Who: the operator for everything; treasurers and admins (`billing.write`) see the queue
but only candidate invoices of their own subtree, and can book only to those. A payment
without a usable reference belongs to no organisation until it is booked, so the queue
itself is shown to every billing user; the payment rows carry no more than the bank line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.audit import record
from membook_app.banking.references import normalise
from membook_app.billing.status import refresh_invoices
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.payments.matching import lock_money
from models import Allocation, Invoice, Organization, Payment, Person, utcnow

OPEN_STATUSES = ("open", "partly_paid", "overdue")
_NAME_TOKEN = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_DIGITS = re.compile(r"\d(?:[\d ]*\d)?")
_POOL = 50


@dataclass(frozen=True)
class Reason:
    code: str
    fi: str
    en: str


@dataclass(frozen=True)
class Candidate:
    invoice_id: int
    reference: str
    organization_id: int
    organization: str
    payer_name: str
    description: str
    total_cents: int
    open_cents: int
    due_date: date
    status: str
    score: int
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class QueueRow:
    payment_id: int
    source: str
    source_id: str
    booking_date: date
    amount_cents: int
    reference: str | None
    payer_name: str | None
    message: str | None
    match_rule: str | None


@dataclass(frozen=True)
class Booking:
    payment_id: int
    status: str
    invoice_ids: tuple[int, ...]
    to_invoices_cents: int
    to_credit_cents: int


# --- who may do what -------------------------------------------------------------------

def _billing_roots(actor: Actor) -> list[str]:
    """Topmost organisation paths where the actor may write billing (treasurer, admin)."""
    paths = sorted({g.path for g in actor.grants if g.role in ("admin", "treasurer")}, key=len)
    roots: list[str] = []
    for path in paths:
        if not any(path.startswith(r) for r in roots):
            roots.append(path)
    return roots


def require_queue(actor: Actor) -> None:
    """The operator, or someone who writes billing somewhere (viewers and members not)."""
    if not actor.is_operator and not _billing_roots(actor):
        raise PermissionDenied()


def _in_scope(actor: Actor):  # type: ignore[no-untyped-def]
    """SQL condition on Organization: inside the actor's billing subtrees."""
    if actor.is_operator:
        return sa.true()
    return sa.or_(*[col(Organization.path).startswith(r) for r in _billing_roots(actor)])


def _invoice_for_booking(session: Session, actor: Actor, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    org = session.get(Organization, invoice.organization_id) if invoice else None
    if invoice is None or org is None or not actor.can("billing.read", org.path):
        raise NotFound("Laskua ei löydy", "Invoice not found")
    actor.require("billing.write", org)
    if invoice.kind == "credit_note":
        raise ValidationError("Hyvityslaskulle ei voi kohdistaa maksua",
                              "A payment cannot be booked to a credit note")
    return invoice


def _queued_payment(session: Session, payment_id: int) -> Payment:
    """The payment, locked for the decision; it must still be waiting in the queue."""
    lock_money(session)
    payment = session.get(Payment, payment_id, with_for_update=True)
    if payment is None:
        raise NotFound("Maksua ei löydy", "Payment not found")
    session.refresh(payment)
    if payment.status != "unmatched":
        raise ValidationError("Maksu on jo käsitelty", "The payment has already been handled")
    return payment


def _open_cents(invoice: Invoice) -> int:
    if invoice.status == "credited":
        return 0
    return max(invoice.total_cents - invoice.credited_cents - invoice.paid_cents, 0)


# --- reading the queue -----------------------------------------------------------------

def list_unmatched(session: Session, actor: Actor, *, limit: int = 200) -> list[QueueRow]:
    """Payments waiting for a person, oldest first."""
    require_queue(actor)
    rows = session.exec(select(Payment).where(Payment.status == "unmatched")
                        .order_by(col(Payment.booking_date), col(Payment.id))
                        .limit(max(1, min(limit, 1000)))).all()
    return [QueueRow(p.id, p.source, p.source_id, p.booking_date,  # type: ignore[arg-type]
                     p.amount_cents, p.reference, p.payer_name, p.message, p.match_rule)
            for p in rows]


def _one_digit_off(ref: str) -> set[str]:
    """Valid national references one edit away: a digit changed, dropped, added or swapped."""
    out: set[str] = set()
    digits = "0123456789"
    for i in range(len(ref)):
        out.update(ref[:i] + d + ref[i + 1:] for d in digits)
        out.add(ref[:i] + ref[i + 1:])
        if i + 1 < len(ref):
            out.add(ref[:i] + ref[i + 1] + ref[i] + ref[i + 2:])
    for i in range(len(ref) + 1):
        out.update(ref[:i] + d + ref[i:] for d in digits)
    out.discard(ref)
    return {v.lstrip("0") for v in out
            if 4 <= len(v.lstrip("0")) <= 20 and normalise(v).kind == "national"}


def _given_numbers(payment: Payment) -> list[str]:
    """Digit strings the payer wrote (reference field and message) — the typo sources."""
    found: list[str] = []
    for text in (payment.reference, payment.message):
        for run in _DIGITS.findall(text or ""):
            for piece in (run.replace(" ", ""), *run.split()):
                digits = piece.lstrip("0")
                if 4 <= len(digits) <= 20:
                    found.append(digits)
    if payment.national_reference:
        found.append(payment.national_reference)
    return list(dict.fromkeys(found))


def _name_tokens(name: str | None) -> list[str]:
    return [t.lower() for t in _NAME_TOKEN.findall(name or "")][:4]


def candidates(session: Session, actor: Actor, payment_id: int, *,
               limit: int = 8) -> list[Candidate]:
    """Ranked invoices this payment may belong to, each with its reasons."""
    require_queue(actor)
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("Maksua ei löydy", "Payment not found")
    base = (select(Invoice, Organization.name, Person.first_name, Person.last_name)
            .join(Organization, Organization.id == Invoice.organization_id)
            .join(Person, Person.id == Invoice.payer_id)
            .where(Invoice.kind != "credit_note", _in_scope(actor)))
    found: dict[int, tuple[Invoice, str, str, str]] = {}
    reasons: dict[int, list[Reason]] = {}
    scores: dict[int, int] = {}

    def add(rows: object, reason_of: object, score: int) -> None:
        for invoice, org_name, first, last in rows:  # type: ignore[attr-defined]
            found[invoice.id] = (invoice, org_name, first, last)
            reason = reason_of(invoice, first, last)  # type: ignore[operator]
            if reason is not None:
                reasons.setdefault(invoice.id, []).append(reason)
                scores[invoice.id] = scores.get(invoice.id, 0) + score

    variants: dict[str, str] = {}
    for given in _given_numbers(payment):
        for variant in _one_digit_off(given):
            variants.setdefault(variant, given)
    if variants:
        rows = session.exec(base.where(col(Invoice.reference).in_(sorted(variants)))).all()
        add(rows, lambda inv, *_: Reason(
            "reference_one_off",
            f"Viite yhden numeron päässä maksun viitteestä {variants[inv.reference]}",
            f"Reference one digit off the payment's {variants[inv.reference]}"), 50)

    if payment.amount_cents > 0:
        due_expr = Invoice.total_cents - Invoice.credited_cents - Invoice.paid_cents
        rows = session.exec(base.where(col(Invoice.status).in_(OPEN_STATUSES),
                                       due_expr == payment.amount_cents)
                            .order_by(col(Invoice.due_date)).limit(_POOL)).all()
        add(rows, lambda *_: Reason("equal_amount", "Summa on sama kuin avoin saldo",
                                    "Amount equals what is open"), 30)

    tokens = _name_tokens(payment.payer_name)
    if tokens:
        likes = []
        for token in tokens:
            for pattern in {token + "%", token.capitalize() + "%"}:
                likes.append(col(Person.last_name).ilike(pattern))
        rows = session.exec(base.where(col(Invoice.status).in_(OPEN_STATUSES), sa.or_(*likes))
                            .order_by(col(Invoice.due_date)).limit(_POOL)).all()

        def name_reason(_inv: Invoice, first: str, last: str) -> Reason | None:
            last_l, first_l = last.lower(), first.lower()
            if not any(last_l.startswith(t) for t in tokens):
                return None
            both = any(first_l.startswith(t) for t in tokens)
            return Reason("similar_name" if not both else "same_name",
                          f"Maksajan nimi muistuttaa laskun maksajaa {last} {first}",
                          f"Payer name resembles the invoice payer {last} {first}")
        add(rows, name_reason, 25)
        for invoice_id in found:
            if any(r.code == "same_name" for r in reasons.get(invoice_id, ())):
                scores[invoice_id] += 10

    ranked = sorted((i for i in found if i in reasons),
                    key=lambda i: (-scores[i], found[i][0].due_date, i))[:limit]
    return [Candidate(inv.id, inv.reference, inv.organization_id, org_name,  # type: ignore[arg-type]
                      f"{last} {first}", inv.description, inv.total_cents, _open_cents(inv),
                      inv.due_date, inv.status, scores[inv.id], tuple(reasons[inv.id]))
            for inv, org_name, first, last in (found[i] for i in ranked)]


# --- decisions -------------------------------------------------------------------------

def _allocation(payment: Payment, invoice_id: int | None, person_id: int | None, amount: int,
                kind: str, rule: str, actor: Actor) -> dict[str, object]:
    return {"payment_id": payment.id, "invoice_id": invoice_id, "person_id": person_id,
            "amount_cents": amount, "kind": kind, "rule": rule,
            "created_by_user_id": actor.user_id, "created_at": utcnow()}


def book_payment(session: Session, actor: Actor, payment_id: int, invoice_id: int, *,
                 note: str = "", today: date | None = None) -> Booking:
    """Book the whole payment to one invoice; more than is open goes to the payer's credit.

    A negative payment (a correction with no original found) reduces what the invoice
    has been paid, never below zero.
    """
    require_queue(actor)
    invoice = _invoice_for_booking(session, actor, invoice_id)
    payment = _queued_payment(session, payment_id)
    session.refresh(invoice)
    amount = payment.amount_cents
    if amount < 0:
        if invoice.paid_cents < -amount:
            raise ValidationError("Laskulle ei ole maksettu näin paljon palautettavaksi",
                                  "The invoice has not been paid this much to reverse")
        to_invoice, to_credit, status = amount, 0, "reversal"
    else:
        to_invoice = min(amount, _open_cents(invoice))
        to_credit = amount - to_invoice
        status = "matched" if to_credit == 0 else ("overpaid" if to_invoice else "credit")
    rows = []
    if to_invoice:
        rows.append(_allocation(payment, invoice.id, None, to_invoice, "invoice", "manual", actor))
    if to_credit:
        rows.append(_allocation(payment, None, invoice.payer_id, to_credit, "credit",
                                "manual_overpayment", actor))
    session.execute(sa.insert(Allocation.__table__), rows)  # type: ignore[arg-type]
    before = {"status": payment.status, "match_rule": payment.match_rule}
    payment.status, payment.match_rule = status, "manual"
    session.add(payment)
    session.flush()
    refresh_invoices(session, [invoice.id], today=today)  # type: ignore[list-item]
    record(session, actor, "payment.booked", "payment", payment.id,
           organization_id=invoice.organization_id, before=before,
           after={"status": status, "match_rule": "manual", "invoice_id": invoice.id,
                  "reference": invoice.reference, "to_invoice_cents": to_invoice,
                  "to_credit_cents": to_credit, "credit_person_id": invoice.payer_id
                  if to_credit else None, "note": note[:500]})
    return Booking(payment.id, status, (invoice.id,), to_invoice,  # type: ignore[arg-type]
                   to_credit)


def split_payment(session: Session, actor: Actor, payment_id: int,
                  parts: list[tuple[int, int]], *, note: str = "",
                  today: date | None = None) -> Booking:
    """Split a payment over several invoices: the parts must add up to the payment exactly,
    and no part may exceed what is open on its invoice."""
    require_queue(actor)
    clean = [(int(i), int(c)) for i, c in parts]
    if len(clean) < 2:
        raise ValidationError("Jaa maksu vähintään kahdelle laskulle",
                              "Split a payment over at least two invoices")
    if len({i for i, _ in clean}) != len(clean):
        raise ValidationError("Sama lasku on jaossa kahdesti", "The same invoice twice")
    if any(c <= 0 for _, c in clean):
        raise ValidationError("Osien on oltava positiivisia", "Parts must be positive")
    invoices = [_invoice_for_booking(session, actor, i) for i, _ in clean]
    payment = _queued_payment(session, payment_id)
    if payment.amount_cents <= 0:
        raise ValidationError("Vain saapuvan maksun voi jakaa", "Only incoming money can be split")
    if sum(c for _, c in clean) != payment.amount_cents:
        raise ValidationError("Osien summa ei ole maksun summa",
                              "The parts do not add up to the payment", field="parts")
    for invoice, (_, cents) in zip(invoices, clean, strict=True):
        session.refresh(invoice)
        if cents > _open_cents(invoice):
            raise ValidationError(f"Lasku {invoice.reference}: osa on suurempi kuin avoin saldo",
                                  f"Invoice {invoice.reference}: part exceeds what is open")
    session.execute(sa.insert(Allocation.__table__),  # type: ignore[arg-type]
                    [_allocation(payment, inv.id, None, cents, "invoice", "manual_split", actor)
                     for inv, (_, cents) in zip(invoices, clean, strict=True)])
    before = {"status": payment.status, "match_rule": payment.match_rule}
    payment.status, payment.match_rule = "matched", "manual_split"
    session.add(payment)
    session.flush()
    refresh_invoices(session, [inv.id for inv in invoices], today=today)  # type: ignore[misc]
    split = [{"invoice_id": inv.id, "reference": inv.reference, "cents": cents}
             for inv, (_, cents) in zip(invoices, clean, strict=True)]
    for inv in invoices:
        record(session, actor, "payment.split", "payment", payment.id,
               organization_id=inv.organization_id, before=before,
               after={"status": "matched", "match_rule": "manual_split", "parts": split,
                      "note": note[:500]})
    return Booking(payment.id, "matched", tuple(inv.id for inv in invoices),  # type: ignore[arg-type]
                   payment.amount_cents, 0)


def mark_refund(session: Session, actor: Actor, payment_id: int, *, note: str = "") -> Booking:
    """Mark a queued payment to be paid back to the payer (operator only: escrow money)."""
    if not actor.is_operator:
        raise PermissionDenied("Vain operaattori voi palauttaa maksuja",
                               "Only the operator may refund payments")
    payment = _queued_payment(session, payment_id)
    if payment.amount_cents <= 0:
        raise ValidationError("Vain saapuvan maksun voi palauttaa",
                              "Only incoming money can be refunded")
    before = {"status": payment.status, "match_rule": payment.match_rule}
    payment.status, payment.match_rule = "refund", "manual_refund"
    session.add(payment)
    session.flush()
    record(session, actor, "payment.refund", "payment", payment.id, before=before,
           after={"status": "refund", "match_rule": "manual_refund",
                  "amount_cents": payment.amount_cents, "payer_name": payment.payer_name,
                  "payer_iban": payment.payer_iban, "note": note[:500]})
    return Booking(payment.id, "refund", (), 0, 0)  # type: ignore[arg-type]
