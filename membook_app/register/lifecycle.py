"""Membership lifecycle: joining, resigning (eronnut), ending (päättynyt), the status
history, and "deemed resigned" (katsottu eronneeksi) for unpaid fees.

Every transition writes a MembershipStatusChange row (creation too, from
None to "active"), so the history of a membership is complete. "Deemed
resigned" is never automatic: staff list the candidates (active memberships
with an unpaid invoice of a period whose due date has passed), pick them,
give a reason, and apply; each membership gets its status change and an
audit event. The Finnish Associations Act (yhdistyslaki 14 §) lets the
rules deem a member who has not paid resigned; it is still a decision a
person takes and owns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.register.organizations import get_organization
from membook_app.register.people import get_person_for
from models import (
    AuditEvent,
    Invoice,
    Membership,
    MembershipStatusChange,
    Organization,
    Person,
    User,
    utcnow,
)

UNPAID_STATUSES = ("open", "partly_paid", "overdue")
MAX_BULK = 5000


def record_transition(session: Session, actor: Actor | None, membership_id: int,
                      from_status: str | None, to_status: str,
                      reason: str | None = None) -> MembershipStatusChange:
    """One row of a membership's status history (called by every service that changes it)."""
    change = MembershipStatusChange(
        membership_id=membership_id, from_status=from_status, to_status=to_status,
        reason=(reason or None) and reason[:500], actor_user_id=actor.user_id if actor else None)
    session.add(change)
    return change


@dataclass(frozen=True)
class HistoryRow:
    membership_id: int
    organization: str
    member_number: int
    at: datetime
    from_status: str | None
    to_status: str
    reason: str
    actor: str


def status_history(session: Session, actor: Actor, person_id: int) -> list[HistoryRow]:
    """The person's status history, newest first, in organisations the actor may read."""
    get_person_for(session, actor, person_id, "register.read")
    rows = session.exec(
        select(MembershipStatusChange, Membership, Organization, User)
        .join(Membership, Membership.id == MembershipStatusChange.membership_id)
        .join(Organization, Organization.id == Membership.organization_id)
        .join(User, User.id == MembershipStatusChange.actor_user_id, isouter=True)
        .where(Membership.person_id == person_id)
        .order_by(col(MembershipStatusChange.at).desc(), col(MembershipStatusChange.id).desc())
    ).all()
    return [
        HistoryRow(m.id, o.name, m.member_number, c.at, c.from_status,  # type: ignore[arg-type]
                   c.to_status, c.reason or "", u.email if u else "system")
        for c, m, o, u in rows if actor.can("register.read", o.path)
    ]


# ---------------------------------------------------------------- deemed resigned

@dataclass(frozen=True)
class Candidate:
    membership_id: int
    person_id: int
    name: str
    member_number: int
    organization: str
    invoice_reference: str
    due_date: date
    open_cents: int


def _candidate_query(org: Organization, period: str, today: date) -> sa.Select:
    return (
        sa.select(Membership.id, Person.id, Person.last_name, Person.first_name,
                  Membership.member_number, Organization.name, Invoice.reference,
                  Invoice.due_date,
                  Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents)
        .select_from(Membership)
        .join(Person, Person.id == Membership.person_id)
        .join(Organization, Organization.id == Membership.organization_id)
        .join(Invoice, Invoice.membership_id == Membership.id)
        .where(col(Organization.path).startswith(org.path),
               Membership.status == "active",
               Invoice.kind == "invoice",
               Invoice.period == period,
               col(Invoice.status).in_(UNPAID_STATUSES),
               Invoice.due_date < today,
               Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents > 0)
        .order_by(Person.last_name, Person.first_name, Membership.id)
    )


def deemed_resigned_candidates(session: Session, actor: Actor, organization_id: int,
                               period: str, today: date | None = None,
                               limit: int = MAX_BULK) -> list[Candidate]:
    """Active memberships in the subtree with an unpaid, overdue invoice of the period.

    Without invoices the list is empty. Only organisations the actor may
    write are included (the action will be refused elsewhere anyway).
    """
    org = get_organization(session, organization_id)
    actor.require("register.write", org)
    period = (period or "").strip()
    if not period:
        raise ValidationError("Valitse kausi", "Choose a period", field="period")
    rows = session.execute(_candidate_query(org, period, today or date.today()).limit(limit))
    seen: set[int] = set()
    out: list[Candidate] = []
    for mid, pid, last, first, number, org_name, ref, due, open_cents in rows:
        if mid in seen:
            continue
        seen.add(mid)
        out.append(Candidate(mid, pid, f"{last} {first}", number, org_name, ref, due,
                             int(open_cents)))
    return out


def unpaid_periods(session: Session, actor: Actor, organization_id: int) -> list[str]:
    """Periods that have invoices in the subtree (for the period picker), newest first."""
    org = get_organization(session, organization_id)
    actor.require("register.read", org)
    rows = session.exec(
        select(Invoice.period).join(Organization, Organization.id == Invoice.organization_id)
        .where(col(Organization.path).startswith(org.path), col(Invoice.period).is_not(None))
        .distinct()).all()
    return sorted((p for p in rows if p), reverse=True)


def apply_deemed_resigned(session: Session, actor: Actor, organization_id: int, period: str,
                          membership_ids: Iterable[int], reason: str,
                          today: date | None = None) -> int:
    """Mark the chosen candidates "deemed resigned" (katsottu eronneeksi), ending today.

    Every id must still be a candidate (active, an unpaid overdue invoice of
    the period, inside the organisation's subtree, writable by the actor);
    otherwise nothing is changed. Writes set-based: one UPDATE, bulk
    status-history rows and bulk audit events. Returns the count.
    """
    today = today or date.today()
    reason = " ".join((reason or "").split())
    if len(reason) < 5:
        raise ValidationError("Kirjoita perustelu (esim. hallituksen päätös ja päivämäärä)",
                              "Give a reason (e.g. the board's decision and its date)",
                              field="reason")
    ids = sorted({int(i) for i in membership_ids})
    if not ids:
        raise ValidationError("Valitse vähintään yksi jäsenyys", "Choose at least one membership")
    if len(ids) > MAX_BULK:
        raise ValidationError(f"Enintään {MAX_BULK} kerralla", f"At most {MAX_BULK} at a time")
    candidates = {c.membership_id: c for c in deemed_resigned_candidates(
        session, actor, organization_id, period, today)}
    missing = [i for i in ids if i not in candidates]
    if missing:
        raise NotFound("Jäsenyys ei ole (enää) maksamattomien listalla",
                       "A membership is not (or no longer) among the unpaid ones")
    memberships = session.exec(select(Membership, Organization).join(
        Organization, Organization.id == Membership.organization_id).where(
        col(Membership.id).in_(ids))).all()
    for _m, o in memberships:
        if not actor.can("register.write", o.path):
            raise PermissionDenied()
    session.execute(
        sa.update(Membership).where(col(Membership.id).in_(ids), Membership.status == "active")
        .values(status="deemed_resigned", end_date=today))
    now = utcnow()
    session.execute(sa.insert(MembershipStatusChange), [
        {"membership_id": i, "at": now, "from_status": "active", "to_status": "deemed_resigned",
         "reason": f"{reason} ({period})"[:500], "actor_user_id": actor.user_id} for i in ids])
    session.execute(sa.insert(AuditEvent), [
        {"at": now, "actor_user_id": actor.user_id, "actor_label": actor.email,
         "action": "membership.deemed_resigned", "object_type": "membership", "object_id": m.id,
         "organization_id": m.organization_id,
         "before": {"status": "active", "end_date": None},
         "after": {"status": "deemed_resigned", "end_date": today.isoformat(),
                   "reason": reason[:300], "period": period,
                   "invoice": candidates[m.id].invoice_reference}}
        for m, _o in memberships])
    audit.record(session, actor, "membership.deemed_resigned_run", "organization",
                 organization_id, organization_id=organization_id,
                 after={"period": period, "count": len(ids), "reason": reason[:300]})
    session.flush()
    return len(ids)
