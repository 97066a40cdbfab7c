"""People: reading and changing person records, by staff and by members themselves."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import DomainError, FormErrors, NotFound, PermissionDenied, ValidationError
from membook_app.register import validation as v
from models import Membership, MembershipType, Organization, Person, utcnow

PERSON_FIELDS = ("email", "first_name", "last_name", "street_address", "postal_code", "city",
                 "country", "phone", "birth_date", "language")
# What a member may change about themselves; names, email (the login) and
# birth date go through the association so the register stays trustworthy.
MEMBER_EDITABLE = ("street_address", "postal_code", "city", "country", "phone", "language")


def clean_person_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate the given fields together; every bad field is reported at once."""
    country = v.clean_country(data.get("country")) if "country" in data else "FI"
    cleaners: dict[str, Callable[[Any], Any]] = {
        "email": v.clean_email,
        "first_name": lambda x: v.clean_name(x, "first_name"),
        "last_name": lambda x: v.clean_name(x, "last_name"),
        "street_address": lambda x: v.clean_text(x, "street_address", 200),
        "postal_code": lambda x: v.clean_postal_code(x, country),
        "city": lambda x: v.clean_text(x, "city", 100),
        "country": v.clean_country,
        "phone": lambda x: v.clean_phone(x, country),
        "birth_date": lambda x: v.clean_birth_date(v.parse_date(x, "birth_date")),
        "language": v.clean_language,
    }
    cleaned: dict[str, Any] = {}
    errors: dict[str, DomainError] = {}
    for key, value in data.items():
        if key not in cleaners:
            raise ValidationError(f"Tuntematon kenttä {key}", f"Unknown field {key}", field=key)
        try:
            cleaned[key] = cleaners[key](value)
        except ValidationError as exc:
            errors[key] = exc
    if errors:
        raise FormErrors(errors)
    return cleaned


def _snapshot(person: Person) -> dict[str, Any]:
    return {f: getattr(person, f) for f in PERSON_FIELDS}


def _check_email_free(session: Session, email: str | None, person_id: int | None) -> None:
    if not email:
        return
    other = session.exec(select(Person.id).where(Person.email == email)).first()
    if other is not None and other != person_id:
        raise FormErrors({"email": ValidationError(
            "Sähköposti on jo toisen henkilön käytössä",
            "The email belongs to another person", field="email")})


def person_organizations(session: Session, person_id: int) -> list[Organization]:
    """Organisations where the person has (or had) a membership."""
    return list(session.exec(
        select(Organization).join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.person_id == person_id).distinct()
    ))


def get_person_for(session: Session, actor: Actor, person_id: int, action: str) -> Person:
    """The person, if the actor holds `action` on an organisation the person belongs to.

    A person outside the actor's subtrees looks exactly like a missing one,
    so ids cannot be probed.
    """
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("Henkilöä ei löydy", "Person not found")
    if actor.is_operator:
        return person
    orgs = person_organizations(session, person_id)
    if not any(actor.can(action, o.path) for o in orgs):
        if any(actor.can("register.read", o.path) for o in orgs):
            raise PermissionDenied()
        raise NotFound("Henkilöä ei löydy", "Person not found")
    return person


@dataclass(frozen=True)
class MembershipRow:
    id: int
    organization_id: int
    organization: str
    member_number: int
    type_id: int | None
    type_name: str
    start_date: date
    end_date: date | None
    status: str


def memberships_of(session: Session, person_id: int,
                   visible: Callable[[str], bool] | None = None) -> list[MembershipRow]:
    """The person's memberships (optionally only those in organisations `visible` allows)."""
    rows = session.exec(
        select(Membership, Organization, MembershipType)
        .join(Organization, Organization.id == Membership.organization_id)
        .join(MembershipType, MembershipType.id == Membership.type_id, isouter=True)
        .where(Membership.person_id == person_id)
        .order_by(Membership.start_date)
    ).all()
    return [
        MembershipRow(m.id, o.id, o.name, m.member_number, m.type_id, t.name if t else "",
                      m.start_date, m.end_date, m.status)
        for m, o, t in rows
        if visible is None or visible(o.path)
    ]


def open_person_record(session: Session, actor: Actor, person_id: int) -> Person:
    """Staff open a full record; the read itself is logged (who, when), as data protection asks."""
    person = get_person_for(session, actor, person_id, "register.read")
    audit.record(session, actor, "person.viewed", "person", person.id)
    return person


def update_person(session: Session, actor: Actor, person_id: int,
                  changes: Mapping[str, Any]) -> Person:
    """Staff edit a person record; audited with the fields before and after."""
    person = get_person_for(session, actor, person_id, "register.write")
    return _apply(session, actor, person, clean_person_fields(changes))


def update_own_person(session: Session, actor: Actor, changes: Mapping[str, Any]) -> Person:
    """A member edits their own record, limited to the fields members may change."""
    if actor.person_id is None:
        raise PermissionDenied()
    forbidden = set(changes) - set(MEMBER_EDITABLE)
    if forbidden:
        raise PermissionDenied(f"Et voi muuttaa kenttää {sorted(forbidden)[0]}",
                               f"You cannot change {sorted(forbidden)[0]}")
    person = session.get(Person, actor.person_id)
    if person is None:
        raise NotFound("Henkilöä ei löydy", "Person not found")
    return _apply(session, actor, person, clean_person_fields(changes))


def _apply(session: Session, actor: Actor | None, person: Person,
           cleaned: dict[str, Any]) -> Person:
    if "email" in cleaned:
        _check_email_free(session, cleaned["email"], person.id)
    before = _snapshot(person)
    for key, value in cleaned.items():
        setattr(person, key, value)
    old, new = audit.diff(before, _snapshot(person))
    if new:
        person.updated_at = utcnow()
        session.add(person)
        audit.record(session, actor, "person.updated", "person", person.id, before=old, after=new)
    return person


def create_person(session: Session, actor: Actor | None, data: Mapping[str, Any]) -> Person:
    """A new person record (memberships are added separately, with their own permission)."""
    cleaned = clean_person_fields(data)
    missing = {f: ValidationError("Pakollinen tieto", "Required", field=f)
               for f in ("first_name", "last_name") if f not in cleaned}
    if missing:
        raise FormErrors(missing)
    _check_email_free(session, cleaned.get("email"), None)
    person = Person(**cleaned)
    session.add(person)
    session.flush()
    audit.record(session, actor, "person.created", "person", person.id,
                 after={k: v for k, v in _snapshot(person).items() if v is not None})
    return person
