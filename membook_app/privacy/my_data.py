"""A member's own data ("download my data", GDPR art. 15 and 20), as JSON and .xlsx.

Only the signed-in member's own person is ever read: the id comes from the
Actor (the session), never from the request. Included: the person record,
the sign-in account, memberships with their status history, custom field
values of fields shown to members, invoices addressed to them or paid by
them with their lines, the payments allocated to those invoices (date,
amount, source — not the bank details of whoever paid), and their own
deletion requests. Other people's data is not included (a household payer
appears only as "someone else").
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, PermissionDenied
from membook_app.register.custom_fields import display_value, person_values
from membook_app.register.people import PERSON_FIELDS
from models import (
    Allocation,
    DeletionRequest,
    Invoice,
    Membership,
    MembershipStatusChange,
    MembershipType,
    Organization,
    Payment,
    Person,
    User,
    invoice_lines,
)

SECTIONS = {
    "person": ("Henkilötiedot", "Person"),
    "account": ("Käyttäjätili", "Account"),
    "memberships": ("Jäsenyydet", "Memberships"),
    "status_history": ("Jäsenyyden tilat", "Status history"),
    "custom_fields": ("Lisätiedot", "Custom fields"),
    "invoices": ("Laskut", "Invoices"),
    "invoice_lines": ("Laskurivit", "Invoice lines"),
    "payments": ("Maksut", "Payments"),
    "deletion_requests": ("Poistopyynnöt", "Deletion requests"),
}


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


def collect(session: Session, actor: Actor) -> dict[str, Any]:
    """Everything about the actor's own person, as JSON-ready sections."""
    if actor.person_id is None:
        raise PermissionDenied()
    person = session.get(Person, actor.person_id)
    if person is None:
        raise NotFound("Henkilöä ei löydy", "Person not found")
    pid = person.id
    data: dict[str, Any] = {"generated_at": datetime.now().astimezone().isoformat()}
    data["person"] = {f: _plain(getattr(person, f)) for f in PERSON_FIELDS}
    data["person"]["id"] = pid
    data["person"]["created_at"] = _plain(person.created_at)
    data["person"]["household_payer"] = ("itse / self" if person.payer_id is None
                                         else "toinen henkilö / someone else")
    user = session.get(User, actor.user_id)
    data["account"] = {"email": user.email if user else actor.email,
                       "language": user.language if user else None,
                       "created_at": _plain(user.created_at) if user else None,
                       "last_login_at": _plain(user.last_login_at) if user else None}
    memberships = session.exec(
        select(Membership, Organization, MembershipType)
        .join(Organization, Organization.id == Membership.organization_id)
        .join(MembershipType, MembershipType.id == Membership.type_id, isouter=True)
        .where(Membership.person_id == pid).order_by(Membership.start_date)).all()
    data["memberships"] = [
        {"organization": o.name, "member_number": m.member_number,
         "type": t.name if t else None, "start_date": _plain(m.start_date),
         "end_date": _plain(m.end_date), "status": m.status}
        for m, o, t in memberships]
    numbers = {m.id: (o.name, m.member_number) for m, o, _t in memberships}
    data["status_history"] = [
        {"organization": numbers[c.membership_id][0],
         "member_number": numbers[c.membership_id][1], "at": _plain(c.at),
         "from_status": c.from_status, "to_status": c.to_status, "reason": c.reason}
        for c in session.exec(select(MembershipStatusChange).where(
            col(MembershipStatusChange.membership_id).in_(list(numbers)))
            .order_by(MembershipStatusChange.at))] if numbers else []
    data["custom_fields"] = []
    for fv in person_values(session, pid, member_only=True):  # type: ignore[arg-type]
        probe = _FieldProbe(fv.kind)
        data["custom_fields"].append(
            {"field": fv.label, "value": display_value(probe, fv.value)})  # type: ignore[arg-type]
    invoices = list(session.exec(select(Invoice).where(
        sa.or_(Invoice.person_id == pid, Invoice.payer_id == pid)).order_by(Invoice.issue_date)))
    data["invoices"] = [
        {"reference": i.reference, "description": i.description, "kind": i.kind,
         "period": i.period, "issue_date": _plain(i.issue_date), "due_date": _plain(i.due_date),
         "total_cents": i.total_cents, "paid_cents": i.paid_cents,
         "credited_cents": i.credited_cents, "status": i.status,
         "for_me": i.person_id == pid, "paid_by_me": i.payer_id == pid}
        for i in invoices]
    refs = {i.id: i.reference for i in invoices}
    data["invoice_lines"] = [
        {"invoice": refs[line.invoice_id], "description": line.description,
         "amount_cents": line.amount_cents, "kind": line.kind}
        for line in session.execute(sa.select(invoice_lines).where(
            invoice_lines.c.invoice_id.in_(list(refs))).order_by(
            invoice_lines.c.invoice_id, invoice_lines.c.position))] if refs else []
    data["payments"] = [
        {"invoice": refs.get(a.invoice_id), "booking_date": _plain(p.booking_date),
         "amount_cents": a.amount_cents, "source": p.source}
        for a, p in session.exec(select(Allocation, Payment).join(
            Payment, Payment.id == Allocation.payment_id).where(
            col(Allocation.invoice_id).in_(list(refs))).order_by(Payment.booking_date))
    ] if refs else []
    data["deletion_requests"] = [
        {"requested_at": _plain(r.requested_at), "message": r.message, "status": r.status,
         "resolved_at": _plain(r.resolved_at), "resolution": r.resolution}
        for r in session.exec(select(DeletionRequest).where(DeletionRequest.person_id == pid)
                              .order_by(DeletionRequest.requested_at))]
    return data


class _FieldProbe:
    """display_value needs only the kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind


def to_json(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def to_xlsx(data: dict[str, Any]) -> bytes:
    """One sheet per section: key/value rows for single records, a table for lists."""
    wb = Workbook()
    wb.remove(wb.active)  # type: ignore[arg-type]
    for key, (fi, _en) in SECTIONS.items():
        value = data.get(key)
        ws = wb.create_sheet(fi[:31])
        if isinstance(value, dict):
            ws.append(["Tieto / field", "Arvo / value"])
            for k, v in value.items():
                ws.append([k, v])
        else:
            rows = value or []
            headers = list(rows[0]) if rows else ["(ei tietoja / no data)"]
            ws.append(headers)
            for row in rows:
                ws.append([row.get(h) for h in headers])
        ws.freeze_panes = "A2"
        for i in range(1, ws.max_column + 1):
            ws.column_dimensions[get_column_letter(i)].width = 22
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
