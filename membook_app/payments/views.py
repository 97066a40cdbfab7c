"""Read-side of payments for pages that others own, and the payments list with its export.

* `invoice_payments` — an invoice's payments and allocations (reversals included), for the
  invoice page and the member's own invoice view;
* `person_balance` — a member's credit balance (over-payments, payments to paid invoices)
  and what they still owe;
* `list_payments` / `export_payments_xlsx` — the payments list with filters (booking date,
  status, organisation subtree, source) and its Excel export.

A payment belongs to an organisation through its allocations' invoices. Payments with no
invoice (the unmatched queue, refunds, outgoing bank debits) are the operator's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor, in_subtrees
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.payments.labels import MATCH_RULES, PAYMENT_SOURCES, PAYMENT_STATUSES, label
from membook_app.register.people import get_person_for
from models import Allocation, Invoice, Organization, Payment

EXPORT_MAX_ROWS = 50_000
OPEN_STATUSES = ("open", "partly_paid", "overdue")


@dataclass(frozen=True)
class AllocationRow:
    allocation_id: int
    payment_id: int
    booking_date: date
    source: str
    source_id: str
    payer_name: str | None
    amount_cents: int
    kind: str
    rule: str | None
    reverses_allocation_id: int | None
    created_at: datetime


@dataclass(frozen=True)
class InvoicePayments:
    invoice_id: int
    reference: str
    total_cents: int
    paid_cents: int
    credited_cents: int
    status: str
    allocations: tuple[AllocationRow, ...]


@dataclass(frozen=True)
class OpenInvoiceRow:
    invoice_id: int
    reference: str
    description: str
    organization: str
    due_date: date
    status: str
    open_cents: int  # total − credited − paid


@dataclass(frozen=True)
class PersonBalance:
    person_id: int
    credit_cents: int
    open_cents: int
    net_cents: int  # credit − open: positive means the member has money on account
    credits: tuple[AllocationRow, ...]
    open_invoices: tuple[OpenInvoiceRow, ...] = ()


def _allocation_rows(session: Session, where: sa.ColumnElement[bool]) -> tuple[AllocationRow, ...]:
    rows = session.exec(
        select(Allocation, Payment).join(Payment, Payment.id == Allocation.payment_id)
        .where(where).order_by(col(Allocation.id))).all()
    return tuple(AllocationRow(a.id, p.id, p.booking_date, p.source,  # type: ignore[arg-type]
                               p.source_id, p.payer_name, a.amount_cents, a.kind, a.rule,
                               a.reverses_allocation_id, a.created_at) for a, p in rows)


def invoice_payments(session: Session, actor: Actor, invoice_id: int) -> InvoicePayments:
    """The invoice's allocations with their payments; staff with billing.read on the
    invoice's organisation, or the member who is the invoice's person or payer."""
    invoice = session.get(Invoice, invoice_id)
    org = session.get(Organization, invoice.organization_id) if invoice else None
    if invoice is None or org is None:
        raise NotFound("Laskua ei löydy", "Invoice not found")
    own = actor.person_id is not None and actor.person_id in (invoice.person_id,
                                                              invoice.payer_id)
    if not own and not actor.can("billing.read", org.path):
        raise NotFound("Laskua ei löydy", "Invoice not found")
    return InvoicePayments(
        invoice.id, invoice.reference, invoice.total_cents,  # type: ignore[arg-type]
        invoice.paid_cents, invoice.credited_cents, invoice.status,
        _allocation_rows(session, Allocation.invoice_id == invoice.id))


def person_balance(session: Session, actor: Actor, person_id: int) -> PersonBalance:
    """Credit on the person's account and what their open invoices still ask.

    The member sees all of their own; the operator everything. Other staff need
    billing.read on an organisation the person belongs to, and see only their
    organisations' part: open invoices of their subtrees and the credit from payments
    that reached one of their invoices (by allocation or reference). A person in two
    associations has one account, but neither association learns the other's dealings.
    Open invoices are those the person is billed for or pays (a household's payer).
    """
    org_match: sa.ColumnElement[bool] | None = None
    if actor.person_id != person_id:
        get_person_for(session, actor, person_id, "billing.read")
        if not actor.is_operator:
            org_match = in_subtrees(actor)
    credit_where = [Allocation.person_id == person_id, col(Allocation.invoice_id).is_(None)]
    open_where = [sa.or_(Invoice.person_id == person_id, Invoice.payer_id == person_id),
                  Invoice.kind != "credit_note", col(Invoice.status).in_(OPEN_STATUSES)]
    if org_match is not None:
        credit_where.append(payment_in(org_match))
        open_where.append(org_match)
    credits = _allocation_rows(session, sa.and_(*credit_where))
    rows = session.exec(
        select(Invoice, Organization.name).join(Organization,
                                                Organization.id == Invoice.organization_id)
        .where(*open_where).order_by(col(Invoice.due_date), col(Invoice.id))).all()
    invoices = tuple(OpenInvoiceRow(i.id, i.reference, i.description,  # type: ignore[arg-type]
                                    name, i.due_date, i.status,
                                    i.total_cents - i.credited_cents - i.paid_cents)
                     for i, name in rows)
    credit = sum(c.amount_cents for c in credits)
    open_cents = sum(i.open_cents for i in invoices)
    return PersonBalance(person_id, credit, open_cents, credit - open_cents, credits, invoices)


def payment_in(org_match: sa.ColumnElement[bool]) -> sa.ColumnElement[bool]:
    """The payment (`Payment` of the enclosing query) belongs to the organisations of
    `org_match`: booked to one of their invoices, or paid with the reference of one (a
    payment to a paid invoice is all credit on the payer, but the organisation saw it
    arrive). The allocation is aliased so an enclosing query over allocations stays apart.
    """
    booked = aliased(Allocation)
    return sa.or_(
        sa.exists(select(booked.id).join(Invoice, Invoice.id == booked.invoice_id)
                  .join(Organization, Organization.id == Invoice.organization_id)
                  .where(booked.payment_id == Payment.id, org_match)),
        sa.exists(select(Invoice.id)
                  .join(Organization, Organization.id == Invoice.organization_id)
                  .where(Invoice.reference == Payment.national_reference, org_match)))


# --- payments list ---------------------------------------------------------------------

@dataclass(frozen=True)
class PaymentQuery:
    organization_id: int | None = None  # None: every payment (operator only)
    include_suborganizations: bool = True
    date_from: date | None = None
    date_to: date | None = None
    status: str | None = None
    source: str | None = None
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class PaymentRow:
    id: int
    booking_date: date
    amount_cents: int
    source: str
    source_id: str
    reference: str | None
    payer_name: str | None
    status: str
    match_rule: str | None
    invoices: str = ""
    organizations: str = ""


@dataclass(frozen=True)
class PaymentPage:
    rows: list[PaymentRow]
    total: int
    total_cents: int
    page: int
    pages: int
    filters: dict[str, object] = field(default_factory=dict)


def _filtered(session: Session, actor: Actor, query: PaymentQuery):  # type: ignore[no-untyped-def]
    stmt = select(Payment)
    if query.organization_id is None:
        if not actor.is_operator:
            raise PermissionDenied()
    else:
        org = session.get(Organization, query.organization_id)
        if org is None:
            raise NotFound("Yhdistystä ei löydy", "Organisation not found")
        actor.require("billing.read", org)
        org_match = (col(Organization.path).startswith(org.path)
                     if query.include_suborganizations else Organization.id == org.id)
        stmt = stmt.where(payment_in(org_match))
    if query.date_from:
        stmt = stmt.where(Payment.booking_date >= query.date_from)
    if query.date_to:
        stmt = stmt.where(Payment.booking_date <= query.date_to)
    if query.status:
        stmt = stmt.where(Payment.status == query.status)
    if query.source:
        stmt = stmt.where(Payment.source == query.source)
    return stmt


def _invoice_labels(session: Session, payment_ids: list[int]) -> dict[int, tuple[str, str]]:
    labels: dict[int, tuple[list[str], list[str]]] = {}
    for start in range(0, len(payment_ids), 5000):
        rows = session.exec(
            select(Allocation.payment_id, Invoice.reference, Organization.name)
            .join(Invoice, Invoice.id == Allocation.invoice_id)
            .join(Organization, Organization.id == Invoice.organization_id)
            .where(col(Allocation.payment_id).in_(payment_ids[start:start + 5000]))
            .order_by(col(Allocation.id))).all()
        for payment_id, reference, org_name in rows:
            refs, orgs = labels.setdefault(payment_id, ([], []))
            if reference not in refs:
                refs.append(reference)
            if org_name not in orgs:
                orgs.append(org_name)
    return {k: (", ".join(r), ", ".join(o)) for k, (r, o) in labels.items()}


def _rows(session: Session, payments: list[Payment]) -> list[PaymentRow]:
    labels = _invoice_labels(session, [p.id for p in payments])  # type: ignore[misc]
    return [PaymentRow(p.id, p.booking_date, p.amount_cents, p.source,  # type: ignore[arg-type]
                       p.source_id, p.reference, p.payer_name, p.status, p.match_rule,
                       *labels.get(p.id, ("", "")))  # type: ignore[arg-type]
            for p in payments]


def list_payments(session: Session, actor: Actor, query: PaymentQuery) -> PaymentPage:
    """One page of payments, newest booking first, with the count and the sum."""
    stmt = _filtered(session, actor, query)
    sub = stmt.subquery()
    total, total_cents = session.exec(select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(sub.c.amount_cents), 0))).one()
    size = max(1, min(query.page_size, 500))
    pages = max(1, -(-int(total) // size))
    page = max(1, min(query.page, pages))
    payments = list(session.exec(stmt.order_by(col(Payment.booking_date).desc(),
                                               col(Payment.id).desc())
                                 .offset((page - 1) * size).limit(size)).all())
    return PaymentPage(_rows(session, payments), int(total), int(total_cents), page, pages)


EURO_FORMAT = '#,##0.00 "€"'
DATE_FORMAT = "d.m.yyyy"


def export_payments_xlsx(session: Session, actor: Actor, query: PaymentQuery) -> bytes:
    """The filtered payments as an Excel workbook (all pages, up to EXPORT_MAX_ROWS).

    Amounts are numbers in euros with a euro format and booking dates are dates, so a
    treasurer can sum and sort them; codes are written in the pages' words (labels.py).
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    stmt = _filtered(session, actor, query)
    count = session.exec(select(sa.func.count()).select_from(stmt.subquery())).one()
    if count > EXPORT_MAX_ROWS:
        raise ValidationError(
            f"Liikaa rivejä ({count}); rajaa päivämäärillä (enintään {EXPORT_MAX_ROWS})",
            f"Too many rows ({count}); narrow the dates (at most {EXPORT_MAX_ROWS})")
    payments = list(session.exec(stmt.order_by(col(Payment.booking_date),
                                               col(Payment.id))).all())
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Maksut")
    sheet.append(["Kirjauspäivä / Booked", "Summa / Amount", "Lähde / Source",
                  "Arkistointitunnus / Archive id", "Viite / Reference", "Maksaja / Payer",
                  "Tila / Status", "Kohdistussääntö / Rule", "Laskut / Invoices",
                  "Yhdistykset / Organisations"])

    def formatted(value: object, number_format: str) -> WriteOnlyCell:
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = number_format
        return cell

    for row in _rows(session, payments):
        sheet.append([formatted(row.booking_date, DATE_FORMAT),
                      formatted(Decimal(row.amount_cents) / 100, EURO_FORMAT),
                      label(PAYMENT_SOURCES, row.source), row.source_id, row.reference or "",
                      row.payer_name or "", label(PAYMENT_STATUSES, row.status),
                      label(MATCH_RULES, row.match_rule), row.invoices, row.organizations])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
