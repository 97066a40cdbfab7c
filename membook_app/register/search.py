"""The register table: one page of memberships with search, filters, sort and a count.

Everything is done in SQL (LIMIT/OFFSET and COUNT), so a page costs the same
whether the organisation has 50 members or 100,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.errors import ValidationError
from membook_app.register import custom_fields
from membook_app.register.organizations import get_organization
from models import Membership, MembershipType, Organization, Person

SORTS = {
    "name": (Person.last_name, Person.first_name, Membership.id),
    "member_number": (Membership.member_number, Membership.id),
    "organization": (Organization.name, Membership.member_number),
    "start_date": (Membership.start_date, Membership.id),
    "city": (Person.city, Person.last_name, Membership.id),
}
MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class RegisterQuery:
    organization_id: int
    include_suborganizations: bool = True
    search: str = ""
    type_id: int | None = None
    status: str | None = "active"
    sort: str = "name"
    descending: bool = False
    page: int = 1
    page_size: int = 50
    custom_field_id: int | None = None
    custom_value: str = ""


@dataclass(frozen=True)
class RegisterRow:
    membership_id: int
    person_id: int
    member_number: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    city: str | None
    organization: str
    type_name: str
    status: str
    start_date: date


@dataclass(frozen=True)
class RegisterPage:
    rows: list[RegisterRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _filters(session: Session, actor: Actor, query: RegisterQuery) -> list[sa.ColumnElement[bool]]:
    org = get_organization(session, query.organization_id)
    actor.require("register.read", org)
    conditions: list[sa.ColumnElement[bool]] = []
    if query.include_suborganizations:
        ids = list(session.exec(
            select(Organization.id).where(col(Organization.path).startswith(org.path))))
        conditions.append(col(Membership.organization_id).in_(ids))
    else:
        conditions.append(Membership.organization_id == org.id)
    if query.type_id is not None:
        conditions.append(Membership.type_id == query.type_id)
    if query.status:
        conditions.append(Membership.status == query.status)
    if query.custom_field_id is not None:
        conditions.append(custom_fields.filter_condition(
            session, query.custom_field_id, query.custom_value[:100], org))
    for word in query.search.lower().split()[:5]:
        if word.isdigit():
            conditions.append(Membership.member_number == int(word))
            continue
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        conditions.append(sa.or_(
            sa.func.lower(Person.last_name).like(pattern),
            sa.func.lower(Person.first_name).like(pattern),
            sa.func.lower(Person.email).like(pattern),
        ))
    return conditions


def register_page(session: Session, actor: Actor, query: RegisterQuery) -> RegisterPage:
    """One page of the register for an organisation the actor may read."""
    if query.sort not in SORTS:
        raise ValidationError("Tuntematon lajittelu", "Unknown sort", field="sort")
    page_size = max(1, min(query.page_size, MAX_PAGE_SIZE))
    conditions = _filters(session, actor, query)
    joined = (
        sa.select(
            Membership.id, Person.id, Membership.member_number, Person.first_name,
            Person.last_name, Person.email, Person.phone, Person.city, Organization.name,
            MembershipType.name, Membership.status, Membership.start_date,
        )
        .select_from(Membership)
        .join(Person, Person.id == Membership.person_id)
        .join(Organization, Organization.id == Membership.organization_id)
        .join(MembershipType, MembershipType.id == Membership.type_id, isouter=True)
        .where(*conditions)
    )
    total = session.execute(
        sa.select(sa.func.count()).select_from(Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(*conditions)
    ).scalar_one()
    pages = max(1, -(-total // page_size))
    page = max(1, min(query.page, pages))
    order = [c.desc() if query.descending else c.asc() for c in SORTS[query.sort]]
    result = session.execute(
        joined.order_by(*order).limit(page_size).offset((page - 1) * page_size)
    ).all()
    rows = [RegisterRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9] or "",
                        r[10], r[11]) for r in result]
    return RegisterPage(rows=rows, total=total, page=page, page_size=page_size)
