"""Deletion requests: a member asks for their data to be removed; admins resolve it.

A member has at most one open request. Admins (org.manage) see the open
requests of people with a membership in their subtree. Resolving:

* `done` pseudonymises the person now (the same operation as the retention
  rule: invoices and payments are kept for bookkeeping). It needs every
  membership of the person ended and the actor to manage every
  organisation the person belongs to — a person shared with another
  customer cannot be erased by one of them;
* `rejected` closes the request with a reason (e.g. bookkeeping law, an
  active membership), which the member sees in the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.privacy.retention import pseudonymise
from membook_app.register.organizations import get_organization
from models import DeletionRequest, Membership, Organization, Person, utcnow

OUTCOMES = ("done", "rejected")


def request_deletion(session: Session, actor: Actor, message: str = "") -> DeletionRequest:
    """The signed-in member asks for their own data to be removed (one open request at a time)."""
    if actor.person_id is None:
        raise PermissionDenied()
    open_one = session.exec(select(DeletionRequest).where(
        DeletionRequest.person_id == actor.person_id, DeletionRequest.status == "open")).first()
    if open_one is not None:
        raise ValidationError("Sinulla on jo avoin poistopyyntö",
                              "You already have an open deletion request")
    text = (message or "").strip()[:1000] or None
    request = DeletionRequest(person_id=actor.person_id, message=text)
    session.add(request)
    session.flush()
    audit.record(session, actor, "deletion_request.created", "deletionrequest", request.id,
                 after={"person_id": actor.person_id})
    return request


def my_requests(session: Session, actor: Actor) -> list[DeletionRequest]:
    if actor.person_id is None:
        raise PermissionDenied()
    return list(session.exec(select(DeletionRequest).where(
        DeletionRequest.person_id == actor.person_id).order_by(
        col(DeletionRequest.requested_at).desc())))


@dataclass(frozen=True)
class RequestRow:
    id: int
    person_id: int
    name: str
    organizations: str
    active_memberships: int
    requested_at: datetime
    message: str
    status: str
    resolution: str


def list_requests(session: Session, actor: Actor, organization_id: int,
                  status: str | None = "open") -> list[RequestRow]:
    """Requests of people with a membership in the organisation's subtree (admins only)."""
    org = get_organization(session, organization_id)
    actor.require("org.manage", org)
    people = sa.select(Membership.person_id).join(
        Organization, Organization.id == Membership.organization_id).where(
        col(Organization.path).startswith(org.path))
    query = (select(DeletionRequest, Person).join(Person, Person.id == DeletionRequest.person_id)
             .where(col(DeletionRequest.person_id).in_(people))
             .order_by(DeletionRequest.requested_at))
    if status:
        query = query.where(DeletionRequest.status == status)
    rows = session.exec(query.limit(500)).all()
    out = []
    for request, person in rows:
        memberships = session.exec(select(Membership, Organization).join(
            Organization, Organization.id == Membership.organization_id).where(
            Membership.person_id == person.id)).all()
        out.append(RequestRow(
            request.id, person.id, f"{person.last_name} {person.first_name}",  # type: ignore[arg-type]
            ", ".join(sorted({o.name for _m, o in memberships})),
            sum(1 for m, _o in memberships if m.status == "active"),
            request.requested_at, request.message or "", request.status,
            request.resolution or ""))
    return out


def resolve_request(session: Session, actor: Actor, request_id: int, outcome: str,
                    resolution: str) -> DeletionRequest:
    """Close a request: `done` pseudonymises the person, `rejected` gives the reason."""
    request = session.get(DeletionRequest, request_id)
    if request is None:
        raise NotFound("Pyyntöä ei löydy", "Request not found")
    memberships = session.exec(select(Membership, Organization).join(
        Organization, Organization.id == Membership.organization_id).where(
        Membership.person_id == request.person_id)).all()
    if not actor.is_operator and not any(actor.can("org.manage", o.path)
                                         for _m, o in memberships):
        raise NotFound("Pyyntöä ei löydy", "Request not found")
    if request.status != "open":
        raise ValidationError("Pyyntö on jo käsitelty", "The request is already resolved")
    if outcome not in OUTCOMES:
        raise ValidationError("Valitse tehty tai hylätty", "Choose done or rejected",
                              field="outcome")
    text = " ".join((resolution or "").split())[:1000]
    if outcome == "rejected" and len(text) < 5:
        raise ValidationError("Kirjoita hylkäyksen peruste", "Give the reason for rejecting",
                              field="resolution")
    if outcome == "done":
        if any(m.status == "active" for m, _o in memberships):
            raise ValidationError("Päätä ensin henkilön jäsenyydet",
                                  "End the person's memberships first", field="outcome")
        if not all(actor.can("org.manage", o.path) for _m, o in memberships):
            raise PermissionDenied(
                "Henkilö kuuluu myös yhdistykseen, jota et hallinnoi; sen pääkäyttäjän on "
                "päätettävä poisto", "The person also belongs to an organisation you do not "
                "manage; its admin must decide", field="outcome")
        pseudonymise(session, actor, [request.person_id], "deletion request")
    request.status = outcome
    request.resolution = text or None
    request.resolved_at = utcnow()
    request.resolved_by_user_id = actor.user_id
    session.add(request)
    session.flush()
    audit.record(session, actor, "deletion_request.resolved", "deletionrequest", request.id,
                 after={"outcome": outcome, "resolution": text})
    return request
