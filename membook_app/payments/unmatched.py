"""The unmatched queue: payments no reference could place, and what a person decides.

Each payment in the queue comes with ranked candidate invoices and the reason for each
(the reference is one digit off, the amount equals what is still open, the payer's name
resembles the invoice payer's). A person then books it to one invoice (any excess goes to
the payer's credit balance), splits it over several, or — the operator only, who pays
refunds out of the escrow account — marks it to be refunded. Every decision is an
`AuditEvent` written in the same transaction as the money rows.

Who: the operator sees and decides everything. Staff of an organisation (admin,
treasurer, viewer) see a queued payment only when it has at least one candidate invoice in
their subtree (`payments.resemblance`: a payment without a usable reference carries a
stranger's name and message and belongs to no organisation until it is booked), and only
the candidates of their subtree; admins and treasurers (`billing.write`) book or split it,
only to invoices of their subtree. `waiting_summary` counts the same queue for the
dashboard.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor, in_subtrees
from membook_app.audit import record
from membook_app.billing.status import refresh_invoices
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.payments.matching import lock_money
from membook_app.payments.resemblance import (
    OPEN_STATUSES,
    QUEUED_COLUMNS,
    name_matches,
    name_tokens,
    open_cents,
    typo_variants,
    with_candidates,
)
from models import Allocation, Invoice, Organization, Payment, Person, utcnow

_POOL = 50
_BATCH = 500  # queued payments judged per round of `with_candidates`


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
    bookable: bool = False  # the actor may book to it (billing.write on its organisation)


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

def require_queue(actor: Actor) -> None:
    """The operator, or staff of some organisation (viewers read; members never)."""
    if not actor.is_operator and not actor.grants:
        raise PermissionDenied()


def _require_visible(session: Session, actor: Actor, payment: Payment) -> None:
    """A queued payment that resembles none of the actor's invoices is not theirs to see
    or book: it looks missing, so payment ids cannot be probed."""
    if actor.is_operator:
        return
    if payment.status != "unmatched" or not with_candidates(session, in_subtrees(actor),
                                                            [payment]):
        raise NotFound("Maksua ei löydy", "Payment not found")


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

def _queued(session: Session, scope: sa.ColumnElement[bool] | None,
            want: int | None) -> Iterator[Payment]:
    """Queued payments oldest first — all of them, or (with `scope`) those with a candidate
    in scope — judged a batch at a time until `want` are found (None: to the end)."""
    query = (select(Payment).where(Payment.status == "unmatched")
             .order_by(col(Payment.booking_date), col(Payment.id)))
    if scope is None:
        yield from session.exec(query.limit(want) if want else query)
        return
    offset = found = 0
    while want is None or found < want:
        batch = list(session.exec(query.offset(offset).limit(_BATCH)))
        visible = with_candidates(session, scope, batch)
        for payment in batch:
            if payment.id in visible and (want is None or found < want):
                found += 1
                yield payment
        if len(batch) < _BATCH:
            return
        offset += _BATCH


def list_unmatched(session: Session, actor: Actor, *, limit: int = 200) -> list[QueueRow]:
    """Payments waiting for a person, oldest first (for staff: those resembling one of
    their organisations' invoices)."""
    require_queue(actor)
    scope = None if actor.is_operator else in_subtrees(actor)
    return [QueueRow(p.id, p.source, p.source_id, p.booking_date,  # type: ignore[arg-type]
                     p.amount_cents, p.reference, p.payer_name, p.message, p.match_rule)
            for p in _queued(session, scope, max(1, min(limit, 1000)))]


def waiting_summary(session: Session, actor: Actor, organization_id: int | None
                    ) -> tuple[int, int]:
    """(count, cents) of the payments waiting in the queue, for the dashboard.

    `organization_id`: that organisation's subtree (billing.read on it needed), counting
    the payments with a candidate there, as `list_unmatched` shows them; None: the
    actor's whole queue (the operator's: every queued payment).
    """
    if organization_id is None:
        require_queue(actor)
        scope = None if actor.is_operator else in_subtrees(actor)
    else:
        org = session.get(Organization, organization_id)
        if org is None:
            raise NotFound("Yhdistystä ei löydy", "Organisation not found")
        actor.require("billing.read", org)
        scope = col(Organization.path).startswith(org.path)
    if scope is None:
        count, cents = session.exec(
            select(sa.func.count(), sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0))
            .where(Payment.status == "unmatched")).one()
        return int(count), int(cents)
    # The whole queue in one judgement: each reason's query (the scope's open amounts and
    # payer names are a scan of its open invoices) then runs once, not once per batch.
    queued = session.execute(sa.select(*QUEUED_COLUMNS).where(
        Payment.status == "unmatched")).all()
    visible = with_candidates(session, scope, queued)
    waiting = [p.amount_cents for p in queued if p.id in visible]
    return len(waiting), sum(waiting)


def candidates(session: Session, actor: Actor, payment_id: int, *,
               limit: int = 8) -> list[Candidate]:
    """Ranked invoices this payment may belong to, each with its reasons (for staff: of
    their subtrees, and only for a queued payment that has some there)."""
    require_queue(actor)
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("Maksua ei löydy", "Payment not found")
    _require_visible(session, actor, payment)
    base = (select(Invoice, Organization.name, Person.first_name, Person.last_name)
            .join(Organization, Organization.id == Invoice.organization_id)
            .join(Person, Person.id == Invoice.payer_id)
            .where(Invoice.kind != "credit_note", in_subtrees(actor)))
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

    variants = typo_variants(payment)
    if variants:
        rows = session.exec(base.where(col(Invoice.reference).in_(sorted(variants)))).all()
        add(rows, lambda inv, *_: Reason(
            "reference_one_off",
            f"Viite yhden numeron päässä maksun viitteestä {variants[inv.reference]}",
            f"Reference one digit off the payment's {variants[inv.reference]}"), 50)

    if payment.amount_cents > 0:
        rows = session.exec(base.where(col(Invoice.status).in_(OPEN_STATUSES),
                                       open_cents() == payment.amount_cents)
                            .order_by(col(Invoice.due_date)).limit(_POOL)).all()
        add(rows, lambda *_: Reason("equal_amount", "Summa on sama kuin avoin saldo",
                                    "Amount equals what is open"), 30)

    tokens = name_tokens(payment.payer_name)
    if tokens:
        rows = session.exec(base.where(col(Invoice.status).in_(OPEN_STATUSES),
                                       name_matches(tokens))
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
    org_ids = {found[i][0].organization_id for i in ranked}
    paths = dict(session.exec(select(Organization.id, Organization.path)
                              .where(col(Organization.id).in_(org_ids))).all())
    return [Candidate(inv.id, inv.reference, inv.organization_id, org_name,  # type: ignore[arg-type]
                      f"{last} {first}", inv.description, inv.total_cents, _open_cents(inv),
                      inv.due_date, inv.status, scores[inv.id], tuple(reasons[inv.id]),
                      actor.can("billing.write", paths[inv.organization_id]))
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
    _require_visible(session, actor, payment)
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
    _require_visible(session, actor, payment)
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
