"""Memberships: joining an organisation and ending a membership."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlmodel import Session, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, ValidationError
from membook_app.register.lifecycle import record_transition
from membook_app.register.limits import check_member_limit
from membook_app.register.organizations import get_organization
from models import Membership, MembershipType, Person

END_STATUSES = ("resigned", "ended")


def next_member_number(session: Session, organization_id: int) -> int:
    """The next free member number in the organisation (numbers are never reused)."""
    current = session.exec(
        select(func.max(Membership.member_number)).where(
            Membership.organization_id == organization_id)
    ).one()
    return (current or 0) + 1


def add_membership(
    session: Session,
    actor: Actor | None,
    *,
    person_id: int,
    organization_id: int,
    type_id: int | None,
    start_date: date,
    member_number: int | None = None,
    reason: str | None = None,
) -> Membership:
    """Make a person a member of an organisation, numbered within it."""
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("register.write", org)
    if session.get(Person, person_id) is None:
        raise NotFound("Henkilöä ei löydy", "Person not found", field="person")
    if type_id is not None:
        mtype = session.get(MembershipType, type_id)
        if mtype is None or mtype.organization_id != org.id:
            raise ValidationError("Jäsenlaji ei kuulu tähän yhdistykseen",
                                  "The membership type is not this organisation's", field="type_id")
    active = session.exec(select(Membership.id).where(
        Membership.person_id == person_id, Membership.organization_id == org.id,
        Membership.status == "active")).first()
    if active is not None:
        raise ValidationError("Henkilö on jo jäsen", "Already a member", field="organization_id")
    if member_number is not None:
        taken = session.exec(select(Membership.id).where(
            Membership.organization_id == org.id,
            Membership.member_number == member_number)).first()
        if taken is not None:
            raise ValidationError(f"Jäsennumero {member_number} on jo käytössä",
                                  f"Member number {member_number} is taken", field="member_number")
    check_member_limit(session, org, person_id)
    membership = Membership(
        person_id=person_id, organization_id=org.id, type_id=type_id, start_date=start_date,
        member_number=member_number or next_member_number(session, org.id),  # type: ignore[arg-type]
    )
    session.add(membership)
    session.flush()
    audit.record(session, actor, "membership.created", "membership", membership.id,
                 organization_id=org.id,
                 after={"person_id": person_id, "member_number": membership.member_number,
                        "type_id": type_id, "start_date": start_date, "status": "active"})
    record_transition(session, actor, membership.id, None, "active",  # type: ignore[arg-type]
                      reason=reason)
    return membership


def end_membership(session: Session, actor: Actor | None, membership_id: int, *,
                   end_date: date, status: str = "resigned",
                   reason: str | None = None) -> Membership:
    """End a membership (resigned by the member, or ended by the association)."""
    membership = session.get(Membership, membership_id)
    if membership is None:
        raise NotFound("Jäsenyyttä ei löydy", "Membership not found")
    org = get_organization(session, membership.organization_id)
    if actor is not None:
        actor.require("register.write", org)
    if status not in END_STATUSES:
        raise ValidationError("Tuntematon päättymisen syy", "Unknown end status", field="status")
    if membership.status != "active":
        raise ValidationError("Jäsenyys on jo päättynyt", "The membership has already ended")
    if end_date < membership.start_date:
        raise ValidationError("Päättymispäivä on ennen alkua", "The end is before the start",
                              field="end_date")
    before = {"status": membership.status, "end_date": membership.end_date}
    membership.status = status
    membership.end_date = end_date
    session.add(membership)
    audit.record(session, actor, "membership.ended", "membership", membership.id,
                 organization_id=org.id, before=before,
                 after={"status": status, "end_date": end_date})
    record_transition(session, actor, membership.id, before["status"], status,  # type: ignore[arg-type]
                      reason=reason)
    return membership


def membership_types(session: Session, organization_id: int) -> list[MembershipType]:
    """The organisation's own membership types, by name."""
    return list(session.exec(select(MembershipType).where(
        MembershipType.organization_id == organization_id).order_by(MembershipType.name)))
