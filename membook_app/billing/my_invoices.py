"""A member's own invoices, for the portal: the ones they pay and the ones for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.billing.public_link import issue_token
from membook_app.errors import PermissionDenied
from models import Invoice, Organization, Person


@dataclass(frozen=True)
class MyInvoice:
    id: int
    organization: str
    member_name: str
    reference: str
    description: str
    due_date: date
    total_cents: int
    open_cents: int
    status: str
    token: str


def my_invoices(session: Session, actor: Actor) -> list[MyInvoice]:
    """Invoices where the member is the payer or the member billed; newest first.

    The person comes from the session, never from the client, so a member
    can only ever list their own.
    """
    if actor.person_id is None:
        raise PermissionDenied()
    rows = session.exec(
        select(Invoice, Organization.name, Person.first_name, Person.last_name)
        .join(Organization, Organization.id == Invoice.organization_id)
        .join(Person, Person.id == Invoice.person_id)
        .where(sa.or_(Invoice.payer_id == actor.person_id,
                      Invoice.person_id == actor.person_id),
               Invoice.kind == "invoice")
        .order_by(col(Invoice.issue_date).desc(), col(Invoice.id).desc())
    ).all()
    return [
        MyInvoice(i.id, org, f"{first} {last}", i.reference, i.description, i.due_date,  # type: ignore[arg-type]
                  i.total_cents, max(0, i.total_cents - i.credited_cents - i.paid_cents),
                  i.status, issue_token(i.id, i.reference))  # type: ignore[arg-type]
        for i, org, first, last in rows
    ]
