"""What an invoice shows, once, for the public page, the PDF and the emails.

Everything is prepared as display strings here (Finnish formats), so the HTML page,
the PDF and the mail templates cannot disagree about the amount to pay, the reference
or the barcode. Members pay to the client escrow account (settings), never to the
association directly; the settlement pays the associations later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from schwifty import IBAN
from sqlmodel import Session, col

from membook_app.banking.barcode import code128_svg, make_barcode
from membook_app.banking.epc_qr import epc_qr_payload, epc_qr_svg
from membook_app.banking.references import format_national, format_rf
from membook_app.formatting import fi_date, money
from membook_app.settings import get_settings
from models import Invoice, Organization, Person, invoice_lines

STATUS_LABELS = {
    "open": ("Avoin", "Open"),
    "partly_paid": ("Osittain maksettu", "Partly paid"),
    "paid": ("Maksettu", "Paid"),
    "credited": ("Hyvitetty", "Credited"),
    "overdue": ("Erääntynyt", "Overdue"),
}


@dataclass(frozen=True)
class LineView:
    description: str
    organization: str
    amount: str
    amount_cents: int


@dataclass(frozen=True)
class InvoiceView:
    """One invoice as shown to its payer; money as text, plus the cents where code needs them."""

    id: int
    kind: str
    organization: str
    organization_business_id: str
    payer_name: str
    payer_address: tuple[str, ...]
    member_name: str  # whom the invoice is for, when the payer is someone else; else ""
    description: str
    issue_date: str
    due_date: str
    due: date
    lines: tuple[LineView, ...]
    total: str
    total_cents: int
    paid: str
    paid_cents: int
    open_amount: str
    open_cents: int
    status: str
    status_fi: str
    status_en: str
    beneficiary: str
    iban: str
    iban_compact: str
    bic: str
    reference: str  # printed form: groups of five (national) or four (RF)
    reference_compact: str
    barcode: str  # the 54-digit virtual barcode; "" when nothing is left to pay
    barcode_svg: str
    qr_svg: str
    qr_payload: str

    @property
    def payable(self) -> bool:
        """Something is still to pay, so the payment details and codes are shown."""
        return self.open_cents > 0


def printed_reference(reference: str) -> str:
    """Groups of five for a national reference, of four for an RF reference."""
    compact = "".join(reference.split()).upper()
    return format_rf(compact) if compact.startswith("RF") else format_national(compact)


def load_views(session: Session, invoice_ids: list[int]) -> dict[int, InvoiceView]:
    """Views of many invoices in four queries (emails of a run need them by the thousand)."""
    if not invoice_ids:
        return {}
    invoices = session.execute(
        sa.select(Invoice).where(col(Invoice.id).in_(invoice_ids))).scalars().all()
    lines: dict[int, list[Any]] = {}
    for line in session.execute(
            sa.select(invoice_lines).where(invoice_lines.c.invoice_id.in_(invoice_ids))
            .order_by(invoice_lines.c.invoice_id, invoice_lines.c.position)):
        lines.setdefault(line.invoice_id, []).append(line)
    org_ids = {i.organization_id for i in invoices} | {
        ln.organization_id for group in lines.values() for ln in group}
    orgs = {o.id: o for o in session.execute(
        sa.select(Organization).where(col(Organization.id).in_(org_ids))).scalars()}
    people = {p.id: p for p in session.execute(
        sa.select(Person).where(col(Person.id).in_(
            {i.payer_id for i in invoices} | {i.person_id for i in invoices}))).scalars()}
    return {i.id: _view(i, lines.get(i.id, []), orgs, people[i.payer_id],  # type: ignore[misc]
                        people[i.person_id]) for i in invoices}


def build_view(session: Session, invoice: Invoice) -> InvoiceView:
    """The view of one invoice."""
    return load_views(session, [invoice.id])[invoice.id]  # type: ignore[list-item,index]


def _view(invoice: Invoice, lines: list[Any], orgs: dict[int | None, Organization],
          payer: Person, member: Person) -> InvoiceView:
    settings = get_settings()
    org = orgs[invoice.organization_id]
    open_cents = max(0, invoice.total_cents - invoice.paid_cents - invoice.credited_cents)
    if invoice.kind == "credit_note":
        open_cents = 0
    barcode = barcode_svg = qr_svg = qr_payload = ""
    if open_cents > 0:
        barcode = make_barcode(settings.escrow_iban, open_cents, invoice.reference,
                               invoice.due_date)
        barcode_svg = code128_svg(barcode)
        qr_args = (settings.escrow_name, settings.escrow_iban, open_cents)
        qr_svg = epc_qr_svg(*qr_args, reference=invoice.reference, bic=settings.escrow_bic)
        qr_payload = epc_qr_payload(*qr_args, reference=invoice.reference,
                                    bic=settings.escrow_bic)
    iban = IBAN(settings.escrow_iban)
    address = tuple(x for x in (
        payer.street_address,
        " ".join(p for p in (payer.postal_code, payer.city) if p),
    ) if x)
    status_fi, status_en = STATUS_LABELS.get(invoice.status, (invoice.status, invoice.status))
    return InvoiceView(
        id=invoice.id,  # type: ignore[arg-type]
        kind=invoice.kind,
        organization=org.name,
        organization_business_id=org.business_id or "",
        payer_name=f"{payer.first_name} {payer.last_name}",
        payer_address=address,
        member_name="" if member.id == payer.id else f"{member.first_name} {member.last_name}",
        description=invoice.description,
        issue_date=fi_date(invoice.issue_date),
        due_date=fi_date(invoice.due_date),
        due=invoice.due_date,
        lines=tuple(LineView(ln.description, orgs[ln.organization_id].name,
                             money(ln.amount_cents), ln.amount_cents) for ln in lines),
        total=money(invoice.total_cents),
        total_cents=invoice.total_cents,
        paid=money(invoice.paid_cents),
        paid_cents=invoice.paid_cents,
        open_amount=money(open_cents),
        open_cents=open_cents,
        status=invoice.status,
        status_fi=status_fi,
        status_en=status_en,
        beneficiary=settings.escrow_name,
        iban=iban.formatted,
        iban_compact=iban.compact,
        bic=settings.escrow_bic,
        reference=printed_reference(invoice.reference),
        reference_compact=invoice.reference,
        barcode=barcode,
        barcode_svg=barcode_svg,
        qr_svg=qr_svg,
        qr_payload=qr_payload,
    )
