"""Households: one person pays for others (a guardian for a child, one for a family).

`Person.payer_id` points at the payer. Households are flat: a payer pays
for themselves and their dependants, and has no payer of their own, so
"who pays for X" is always `X.payer_id or X.id` (what invoicing reads).
Rules checked when a payer is set:

* not the person themselves, and no cycle (A pays for B pays for A);
* the payer has no payer of their own, and a person who pays for others
  cannot be given a payer (move or clear the dependants first);
* the person and the payer belong to a common organisation (a membership of
  any status) that the actor may write.

Every change is an audit event `person.payer_set` with the ids before and after.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.register.people import get_person_for
from models import Membership, Organization, Person, utcnow

MAX_CHAIN = 50


def _org_paths(session: Session, person_id: int) -> dict[int, str]:
    return dict(session.execute(
        sa.select(Organization.id, Organization.path)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.person_id == person_id).distinct()).all())


def _name(person: Person) -> str:
    return f"{person.last_name} {person.first_name}"


def set_payer(session: Session, actor: Actor | None, person_id: int,
              payer_id: int | None) -> Person:
    """Make `payer_id` pay for the person (None: the person pays for themselves)."""
    if actor is not None:
        person = get_person_for(session, actor, person_id, "register.write")
    else:
        found = session.get(Person, person_id)
        if found is None:
            raise NotFound("Henkilöä ei löydy", "Person not found")
        person = found
    before = person.payer_id
    if payer_id == before:
        return person
    if payer_id is not None:
        payer = session.get(Person, payer_id)
        if payer is None:
            raise NotFound("Maksajaa ei löydy", "Payer not found", field="payer_id")
        if payer.id == person.id:
            raise ValidationError("Henkilö ei voi olla oma maksajansa",
                                  "A person cannot be their own payer", field="payer_id")
        cursor, steps = payer, 0
        while cursor.payer_id is not None and steps < MAX_CHAIN:
            if cursor.payer_id == person.id:
                raise ValidationError(
                    "Kehä: valittu maksaja kuuluu jo tämän henkilön maksettaviin",
                    "A cycle: the chosen payer is already paid for by this person",
                    field="payer_id")
            nxt = session.get(Person, cursor.payer_id)
            if nxt is None:
                break
            cursor, steps = nxt, steps + 1
        if payer.payer_id is not None:
            head = session.get(Person, payer.payer_id)
            raise ValidationError(
                f"Valitun maksajan maksut maksaa {_name(head) if head else '?'}; "
                "valitse hänet maksajaksi",
                f"The chosen payer's fees are paid by {_name(head) if head else '?'}; "
                "choose them as the payer", field="payer_id")
        dependants = session.execute(sa.select(sa.func.count()).select_from(Person).where(
            Person.payer_id == person.id)).scalar_one()
        if dependants:
            raise ValidationError(
                f"Henkilö maksaa {dependants} muun jäsenen maksut; siirrä heidät ensin",
                f"This person pays for {dependants} others; move them first",
                field="payer_id")
        mine, theirs = _org_paths(session, person.id), _org_paths(session, payer.id)  # type: ignore[arg-type]
        common = [path for org_id, path in mine.items() if org_id in theirs]
        if not common:
            raise ValidationError(
                "Maksajan on oltava saman yhdistyksen jäsen",
                "The payer must belong to the same organisation", field="payer_id")
        if actor is not None and not any(actor.can("register.write", p) for p in common):
            raise PermissionDenied("Et voi muokata yhteisen yhdistyksen jäsenrekisteriä",
                                   "You cannot write the register of a common organisation")
    person.payer_id = payer_id
    person.updated_at = utcnow()
    session.add(person)
    session.flush()
    audit.record(session, actor, "person.payer_set", "person", person.id,
                 before={"payer_id": before}, after={"payer_id": payer_id})
    return person


@dataclass(frozen=True)
class HouseholdMember:
    person_id: int
    name: str
    is_payer: bool
    visible: bool


def household_of(session: Session, actor: Actor, person_id: int) -> list[HouseholdMember]:
    """The person's household: the payer first, then the dependants by name.

    Empty when the person neither pays for others nor has a payer. People
    the actor cannot read are listed without their name.
    """
    person = get_person_for(session, actor, person_id, "register.read")
    head_id = person.payer_id or person.id
    rows = session.exec(select(Person).where(
        sa.or_(Person.id == head_id, Person.payer_id == head_id))).all()
    if len(rows) < 2:
        return []
    readable = _readable_people(session, actor, [p.id for p in rows])  # type: ignore[misc]
    out = [HouseholdMember(p.id, _name(p) if p.id in readable else "(toisen yhdistyksen jäsen)",  # type: ignore[arg-type]
                           p.id == head_id, p.id in readable) for p in rows]
    return sorted(out, key=lambda m: (not m.is_payer, m.name))


def _readable_people(session: Session, actor: Actor, person_ids: list[int]) -> set[int]:
    rows = session.execute(
        sa.select(Membership.person_id, Organization.path)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(col(Membership.person_id).in_(person_ids))).all()
    return {pid for pid, path in rows if actor.can("register.read", path)}


@dataclass(frozen=True)
class PayerOption:
    person_id: int
    label: str


def payer_candidates(session: Session, actor: Actor, person_id: int, search: str = "",
                     limit: int = 20) -> list[PayerOption]:
    """People who could pay for the person: members of a common organisation the actor
    may write, with no payer of their own, matching the search (name or email)."""
    get_person_for(session, actor, person_id, "register.write")
    allowed = [i for i, p in _org_paths(session, person_id).items()
               if actor.can("register.write", p)]
    if not allowed:
        return []
    query = (
        select(Person.id, Person.last_name, Person.first_name, Person.email)
        .join(Membership, Membership.person_id == Person.id)
        .where(col(Membership.organization_id).in_(allowed), Person.id != person_id,
               col(Person.payer_id).is_(None), col(Person.pseudonymised_at).is_(None))
        .distinct().order_by(Person.last_name, Person.first_name).limit(limit)
    )
    for word in (search or "").lower().split()[:3]:
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        query = query.where(sa.or_(sa.func.lower(Person.last_name).like(pattern),
                                   sa.func.lower(Person.first_name).like(pattern),
                                   sa.func.lower(Person.email).like(pattern)))
    return [PayerOption(pid, f"{last} {first}" + (f" <{email}>" if email else ""))
            for pid, last, first, email in session.exec(query)]
