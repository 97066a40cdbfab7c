"""Single invoices: manual invoices, credit notes, the invoice list and an invoice's detail.

A manual invoice is written by a treasurer with lines of their choosing (each
line belongs to the invoicing organisation or one of its ancestors, so the
settlement can split the money). A credit note (kind "credit_note") has
negative lines against the original's lines and a negative total; its
`credited_invoice_id` names the original, whose status `refresh_invoices`
recomputes in the same transaction ("credited" when fully credited). When the credit
leaves more paid than is still billed, the excess moves to the payer's credit balance in
the same transaction (`_move_excess_to_credit`, docs/settlements.md "Credit notes on paid
invoices").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.billing.references import allocate_invoice_ids, invoice_reference
from membook_app.billing.status import refresh_invoices
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.payments.matching import lock_money
from membook_app.register.organizations import get_organization
from models import (
    INVOICE_STATUSES,
    Allocation,
    Invoice,
    InvoiceLine,
    Membership,
    Organization,
    Payment,
    Person,
    Plan,
    invoice_lines,
    utcnow,
)

MAX_LINES = 20
MAX_LINE_CENTS = 10_000_000
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class LineInput:
    """A line the treasurer chose: whose share, what, how much (cents > 0)."""

    organization_id: int
    description: str
    amount_cents: int


def _insert_invoice(session: Session, values: dict[str, object],
                    lines: list[dict[str, object]]) -> Invoice:
    """One invoice with its final reference (id allocated first) and its lines."""
    invoice_id = allocate_invoice_ids(session, 1)[0]
    session.execute(sa.insert(Invoice.__table__), [{  # type: ignore[attr-defined]
        "id": invoice_id, "reference": invoice_reference(invoice_id), "paid_cents": 0,
        "credited_cents": 0, "status": "open", "created_at": utcnow(), **values}])
    session.execute(sa.insert(InvoiceLine.__table__),  # type: ignore[attr-defined]
                    [{"invoice_id": invoice_id, "position": i, **line}
                     for i, line in enumerate(lines)])  # a line's own position wins
    invoice = session.get(Invoice, invoice_id)
    assert invoice is not None
    return invoice


def _check_plan(session: Session, org: Organization) -> None:
    from membook_app.errors import LimitReached

    plan = session.get(Plan, org.plan_id)
    if plan is not None and not plan.invoicing_enabled:
        raise LimitReached(f"Paketti {plan.name} ei sisällä laskutusta",
                           f"The {plan.name} plan does not include invoicing")


def create_manual_invoice(session: Session, actor: Actor | None, *, organization_id: int,
                          person_id: int, lines: list[LineInput], issue_date: date,
                          due_date: date, description: str = "",
                          membership_id: int | None = None) -> Invoice:
    """A single invoice with the treasurer's lines; billed to the household payer if set.

    The person must be (or have been) a member of the organisation or one
    below it; each line's organisation is the invoicing one or an ancestor.
    """
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("billing.write", org)
    _check_plan(session, org)
    person = session.get(Person, person_id)
    member_of = session.exec(
        select(Membership.id).join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.person_id == person_id,
               col(Organization.path).startswith(org.path))).first()
    if person is None or member_of is None:
        raise NotFound("Henkilö ei ole tämän yhdistyksen jäsen",
                       "The person is not a member of this organisation", field="person_id")
    if membership_id is not None:
        m = session.get(Membership, membership_id)
        if m is None or m.person_id != person_id:
            raise ValidationError("Jäsenyys ei kuulu henkilölle",
                                  "The membership is not the person's", field="membership_id")
    if due_date < issue_date:
        raise ValidationError("Eräpäivä on ennen laskun päivää",
                              "The due date is before the issue date", field="due_date")
    if not lines or len(lines) > MAX_LINES:
        raise ValidationError(f"Laskulla on oltava 1–{MAX_LINES} riviä",
                              f"An invoice needs 1–{MAX_LINES} lines", field="lines")
    chain = {int(p) for p in org.path.strip("/").split("/") if p}
    clean: list[dict[str, object]] = []
    for line in lines:
        text = " ".join((line.description or "").split())
        if not text or len(text) > 200:
            raise ValidationError("Rivin selite puuttuu tai on liian pitkä",
                                  "A line's description is missing or too long",
                                  field="description")
        if not isinstance(line.amount_cents, int) or not 0 < line.amount_cents <= MAX_LINE_CENTS:
            raise ValidationError("Rivin summan on oltava 0,01–100 000 €",
                                  "A line's amount must be 0.01–100,000 €", field="amount")
        if line.organization_id not in chain:
            raise ValidationError("Rivin yhdistys ei ole laskuttaja eikä sen ylempi yhdistys",
                                  "A line's organisation is neither the invoicer nor above it",
                                  field="organization_id")
        clean.append({"organization_id": line.organization_id, "description": text,
                      "amount_cents": line.amount_cents, "kind": "manual"})
    total = sum(int(c["amount_cents"]) for c in clean)  # type: ignore[call-overload]
    invoice = _insert_invoice(session, {
        "organization_id": org.id, "person_id": person_id,
        "payer_id": person.payer_id or person_id, "membership_id": membership_id,
        "run_id": None, "period": None, "kind": "invoice", "credited_invoice_id": None,
        "dedupe_key": None, "description": " ".join(description.split())[:200],
        "issue_date": issue_date, "due_date": due_date, "total_cents": total,
    }, clean)
    refresh_invoices(session, [invoice.id])  # type: ignore[list-item]
    session.refresh(invoice)
    audit.record(session, actor, "invoice.created", "invoice", invoice.id,
                 organization_id=org.id,
                 after={"kind": "manual", "person_id": person_id, "payer_id": invoice.payer_id,
                        "reference": invoice.reference, "total_cents": total,
                        "due_date": due_date, "lines": len(clean)})
    return invoice


def _credited_by_position(session: Session, invoice_id: int) -> dict[int, int]:
    """Cents credited so far per line position (a credit line has the position of the
    line it credits; positions are unique per invoice)."""
    notes = select(Invoice.id).where(Invoice.credited_invoice_id == invoice_id,
                                     Invoice.kind == "credit_note")
    return {int(pos): -int(cents) for pos, cents in session.execute(
        sa.select(InvoiceLine.position, sa.func.sum(InvoiceLine.amount_cents))
        .where(col(InvoiceLine.invoice_id).in_(notes))
        .group_by(InvoiceLine.position)).all()}


def create_credit_note(session: Session, actor: Actor | None, invoice_id: int, *,
                       amounts: dict[int, int] | None = None, reason: str = "",
                       issue_date: date | None = None) -> Invoice:
    """Credit an invoice fully (`amounts=None`) or partly ({line position: cents to credit}).

    No line can be credited beyond what is still uncredited on it; the
    credit note's lines carry the same organisations and positions as the lines they
    credit, so settlements subtract each share from the right organisation.
    """
    if actor is not None:
        original = get_invoice(session, actor, invoice_id, "billing.write")
    else:
        original = session.get(Invoice, invoice_id)  # type: ignore[assignment]
        if original is None:
            raise NotFound("Laskua ei löydy", "Invoice not found")
    org = get_organization(session, original.organization_id)
    if original.kind != "invoice":
        raise ValidationError("Hyvityslaskua ei voi hyvittää", "A credit note cannot be credited")
    lines = {line.position: line for line in session.execute(
        sa.select(invoice_lines).where(invoice_lines.c.invoice_id == original.id))}
    already = _credited_by_position(session, original.id)  # type: ignore[arg-type]
    remaining = {pos: line.amount_cents - already.get(pos, 0) for pos, line in lines.items()}
    if amounts is None:
        wanted = {pos: rest for pos, rest in remaining.items() if rest > 0}
    else:
        wanted = {}
        for pos, cents in amounts.items():
            if pos not in remaining:
                raise ValidationError("Rivi ei kuulu laskuun", "The line is not on the invoice",
                                      field="lines")
            if not isinstance(cents, int) or cents < 0:
                raise ValidationError("Hyvitys ei voi olla negatiivinen",
                                      "A credit cannot be negative", field="amount")
            if cents > remaining[pos]:
                raise ValidationError("Hyvitys on suurempi kuin hyvittämätön summa",
                                      "The credit exceeds what is left to credit",
                                      field="amount")
            if cents:
                wanted[pos] = cents
    if not wanted:
        raise ValidationError("Ei hyvitettävää", "Nothing to credit", field="amount")
    text = " ".join(reason.split())[:150]
    credit_lines = [{"organization_id": lines[pos].organization_id,
                     "description": f"Hyvitys: {lines[pos].description}"[:200],
                     "amount_cents": -cents, "kind": "credit", "position": pos}
                    for pos, cents in sorted(wanted.items())]
    total = -sum(wanted.values())
    today = issue_date or date.today()
    note = _insert_invoice(session, {
        "organization_id": original.organization_id, "person_id": original.person_id,
        "payer_id": original.payer_id, "membership_id": original.membership_id,
        "run_id": None, "period": original.period, "kind": "credit_note",
        "credited_invoice_id": original.id, "dedupe_key": None,
        "description": (f"Hyvityslasku laskulle {original.reference}"
                        + (f": {text}" if text else ""))[:200],
        "issue_date": today, "due_date": today, "total_cents": total,
    }, credit_lines)
    refresh_invoices(session, [original.id, note.id])  # type: ignore[list-item]
    session.refresh(original)
    session.refresh(note)
    moved = _move_excess_to_credit(session, actor, original, note)
    audit.record(session, actor, "invoice.credited", "invoice", original.id,
                 organization_id=org.id,
                 after={"credit_note_id": note.id, "credit_reference": note.reference,
                        "credited_cents": -total, "full": amounts is None, "reason": text,
                        "moved_to_credit_cents": moved, "status": original.status})
    return note


def _move_excess_to_credit(session: Session, actor: Actor | None, original: Invoice,
                           note: Invoice) -> int:
    """Move what the invoice has been paid beyond what is still billed to the payer's
    credit balance; returns the cents moved.

    Without this a credited line's money stayed on the invoice ("paid") and settlements
    divided it among the organisations still billed. The money is taken from the
    invoice's latest payments: per payment a negative allocation on the invoice carrying
    `credit_note_id` (settlements split it by the credit note's own lines, so exactly the
    credited organisations give it back) and the same amount to the payer's credit. Runs
    under the money lock, so no bank import books to the invoice meanwhile.
    """
    lock_money(session)
    session.refresh(original)
    excess = original.paid_cents - (original.total_cents - original.credited_cents)
    if excess <= 0:
        return 0
    # A payment the bank took back (status "reversed") is no money to move: its net on the
    # invoice is cancelled by the correction's own (negative) allocations.
    by_payment = session.execute(
        sa.select(Allocation.payment_id, sa.func.sum(Allocation.amount_cents))
        .join(Payment, col(Payment.id) == Allocation.payment_id)
        .where(Allocation.invoice_id == original.id, Payment.status != "reversed")
        .group_by(Allocation.payment_id)
        .having(sa.func.sum(Allocation.amount_cents) > 0)
        .order_by(sa.func.max(Allocation.id).desc())).all()
    now, rows, taken = utcnow(), [], []
    left = excess
    for payment_id, net in by_payment:
        cents = min(int(net), left)
        common = {"payment_id": payment_id, "rule": "credited_invoice", "created_at": now,
                  "created_by_user_id": actor.user_id if actor else None}
        rows += [{**common, "invoice_id": original.id, "person_id": None,
                  "amount_cents": -cents, "kind": "reversal", "credit_note_id": note.id},
                 {**common, "invoice_id": None, "person_id": original.payer_id,
                  "amount_cents": cents, "kind": "credit", "credit_note_id": None}]
        taken.append({"payment_id": payment_id, "cents": cents})
        left -= cents
        if left == 0:
            break
    session.execute(sa.insert(Allocation.__table__), rows)  # type: ignore[attr-defined]
    refresh_invoices(session, [original.id])  # type: ignore[list-item]
    session.refresh(original)
    audit.record(session, actor, "invoice.paid_moved_to_credit", "invoice", original.id,
                 organization_id=original.organization_id,
                 after={"credit_note_id": note.id, "payer_id": original.payer_id,
                        "moved_cents": excess - left, "payments": taken,
                        "paid_cents": original.paid_cents})
    return excess - left


# ---------------------------------------------------------------- queries


@dataclass(frozen=True)
class InvoiceQuery:
    organization_id: int
    include_suborganizations: bool = True
    status: str | None = None
    period: str | None = None
    kind: str | None = None
    search: str = ""
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class InvoiceRow:
    id: int
    reference: str
    kind: str
    organization: str
    person_id: int
    person_name: str
    payer_name: str
    period: str | None
    issue_date: date
    due_date: date
    total_cents: int
    paid_cents: int
    credited_cents: int
    status: str


@dataclass(frozen=True)
class InvoicePage:
    rows: list[InvoiceRow]
    total: int
    page: int
    pages: int
    sum_cents: int


def list_invoices(session: Session, actor: Actor, query: InvoiceQuery) -> InvoicePage:
    """One page of invoices (server-side filters, count and sum)."""
    org = get_organization(session, query.organization_id)
    actor.require("billing.read", org)
    if query.status and query.status not in INVOICE_STATUSES:
        raise ValidationError("Tuntematon tila", "Unknown status", field="status")
    payer = aliased(Person)
    conds: list[sa.ColumnElement[bool]] = []
    if query.include_suborganizations:
        conds.append(col(Organization.path).startswith(org.path))
    else:
        conds.append(Organization.id == org.id)
    if query.status:
        conds.append(Invoice.status == query.status)
    if query.period:
        conds.append(Invoice.period == query.period)
    if query.kind:
        conds.append(Invoice.kind == query.kind)
    search = " ".join(query.search.split())[:100]
    if search:
        digits = search.replace(" ", "")
        like = f"%{search.lower()}%"
        name_match = sa.or_(
            sa.func.lower(Person.last_name + " " + Person.first_name).like(like),
            sa.func.lower(Person.first_name + " " + Person.last_name).like(like),
            sa.func.lower(payer.last_name + " " + payer.first_name).like(like))
        conds.append(sa.or_(Invoice.reference == digits, name_match) if digits.isdigit()
                     else name_match)
    base = (sa.select(Invoice.id)
            .join(Organization, Organization.id == Invoice.organization_id)
            .join(Person, Person.id == Invoice.person_id)
            .join(payer, payer.id == Invoice.payer_id)
            .where(*conds))
    count, sum_cents = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(Invoice.total_cents), 0))
        .select_from(Invoice)
        .join(Organization, Organization.id == Invoice.organization_id)
        .join(Person, Person.id == Invoice.person_id)
        .join(payer, payer.id == Invoice.payer_id)
        .where(*conds)).one()
    size = max(1, min(query.page_size, MAX_PAGE_SIZE))
    pages = max(1, -(-int(count) // size))
    page = max(1, min(query.page, pages))
    rows = session.execute(
        base.add_columns(Invoice.reference, Invoice.kind, Organization.name, Invoice.person_id,
                         Person.first_name, Person.last_name, payer.first_name,
                         payer.last_name, Invoice.period, Invoice.issue_date,
                         Invoice.due_date, Invoice.total_cents, Invoice.paid_cents,
                         Invoice.credited_cents, Invoice.status)
        .order_by(col(Invoice.id).desc()).limit(size).offset((page - 1) * size)).all()
    return InvoicePage([
        InvoiceRow(r[0], r[1], r[2], r[3], r[4], f"{r[6]} {r[5]}", f"{r[8]} {r[7]}", r[9],
                   r[10], r[11], r[12], r[13], r[14], r[15]) for r in rows
    ], int(count), page, pages, int(sum_cents))


@dataclass(frozen=True)
class LineRow:
    position: int  # a line is known by its invoice and position
    organization: str
    description: str
    amount_cents: int
    kind: str


@dataclass(frozen=True)
class AllocationRow:
    id: int
    payment_id: int
    booking_date: date
    source: str
    payer_name: str
    amount_cents: int
    kind: str


@dataclass(frozen=True)
class InvoiceDetail:
    invoice: Invoice
    organization: str
    person_name: str
    payer_name: str
    payer_email: str | None
    lines: list[LineRow]
    allocations: list[AllocationRow]
    credit_notes: list[Invoice]
    credited_invoice: Invoice | None
    creditable: dict[int, int]  # line position → cents that can still be credited


def get_invoice(session: Session, actor: Actor, invoice_id: int,
                action: str = "billing.read") -> Invoice:
    """The invoice if the actor may read it; outside their subtrees it looks missing."""
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound("Laskua ei löydy", "Invoice not found")
    org = get_organization(session, invoice.organization_id)
    if not actor.can(action, org.path):
        if actor.can("billing.read", org.path):
            raise PermissionDenied()
        raise NotFound("Laskua ei löydy", "Invoice not found")
    return invoice


def invoice_detail(session: Session, actor: Actor, invoice_id: int) -> InvoiceDetail:
    """An invoice with its lines, allocations and credit notes."""
    invoice = get_invoice(session, actor, invoice_id)
    org = get_organization(session, invoice.organization_id)
    person = session.get(Person, invoice.person_id)
    payer = session.get(Person, invoice.payer_id)
    line_rows = session.execute(
        sa.select(invoice_lines.c.position, Organization.name, invoice_lines.c.description,
                  invoice_lines.c.amount_cents, invoice_lines.c.kind)
        .join(Organization, Organization.id == invoice_lines.c.organization_id)
        .where(invoice_lines.c.invoice_id == invoice.id)
        .order_by(invoice_lines.c.position)).all()
    allocations = session.execute(
        sa.select(Allocation.id, Payment.id, Payment.booking_date, Payment.source,
                  Payment.payer_name, Allocation.amount_cents, Allocation.kind)
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(Allocation.invoice_id == invoice.id).order_by(Allocation.id)).all()
    notes = list(session.exec(select(Invoice).where(
        Invoice.credited_invoice_id == invoice.id, Invoice.kind == "credit_note")
        .order_by(Invoice.id)))
    credited = _credited_by_position(session, invoice.id) if notes else {}  # type: ignore[arg-type]
    creditable = ({} if invoice.kind != "invoice" else
                  {r[0]: r[3] - credited.get(r[0], 0) for r in line_rows})
    original = (session.get(Invoice, invoice.credited_invoice_id)
                if invoice.credited_invoice_id else None)
    return InvoiceDetail(
        invoice=invoice, organization=org.name,
        person_name=f"{person.first_name} {person.last_name}" if person else "",
        payer_name=f"{payer.first_name} {payer.last_name}" if payer else "",
        payer_email=payer.email if payer else None,
        lines=[LineRow(*r) for r in line_rows],
        allocations=[AllocationRow(r[0], r[1], r[2], r[3], r[4] or "", r[5], r[6])
                     for r in allocations],
        credit_notes=notes, credited_invoice=original, creditable=creditable)


def invoice_periods(session: Session, actor: Actor, organization_id: int) -> list[str]:
    """Periods that have invoices in the organisation's subtree (for the filter)."""
    org = get_organization(session, organization_id)
    actor.require("billing.read", org)
    return sorted(set(session.execute(
        sa.select(Invoice.period).join(Organization, Organization.id == Invoice.organization_id)
        .where(col(Organization.path).startswith(org.path), col(Invoice.period).is_not(None))
        .distinct()).scalars()), reverse=True)
