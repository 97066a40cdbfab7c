"""The register table: one page of memberships with search, filters, sort and a count.

Everything is done in SQL (LIMIT/OFFSET and COUNT), and shaped so that a page
stays fast at 100,000 members (bench/register.py measures it):

* name and email search use trigram indexes — pg_trgm GIN indexes on
  PostgreSQL, an FTS5 trigram table (`person_search`) on SQLite — created by
  the migration `register search indexes`;
* the count joins `person` only when a person condition needs it;
* pages past the middle are read with the sort reversed, so the database never
  skips more than half of the rows;
* how the name sort is driven depends on how many rows match (the count is
  known first): a large result walks the name index, a small one is sorted.
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
    "organization": (Organization.name, Membership.member_number, Membership.id),
    "start_date": (Membership.start_date, Membership.id),
    "city": (Person.city, Person.last_name, Membership.id),
}
MAX_PAGE_SIZE = 200
# Below this many matching rows sorting them is cheaper than walking the name index.
SMALL_RESULT = 5000


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


def _word_condition(session: Session, word: str) -> sa.ColumnElement[bool]:
    """Name or email contains the word (case-insensitive), served by a trigram index."""
    if len(word) >= 3 and session.get_bind().dialect.name == "sqlite":
        phrase = '"' + word.replace('"', '""') + '"'
        return Person.id.in_(  # type: ignore[union-attr]
            sa.select(sa.column("rowid")).select_from(sa.table("person_search"))
            .where(sa.text("person_search MATCH :phrase").bindparams(
                sa.bindparam("phrase", phrase, unique=True))))
    pattern = f"%{word.replace('%', '').replace('_', '')}%"
    return sa.or_(
        sa.func.lower(Person.last_name).like(pattern),
        sa.func.lower(Person.first_name).like(pattern),
        sa.func.lower(Person.email).like(pattern),
    )


def register_filters(session: Session, actor: Actor, query: RegisterQuery
                     ) -> tuple[list[sa.ColumnElement[bool]], list[sa.ColumnElement[bool]]]:
    """(conditions on memberships only, conditions that need the person row).

    Public because the register export applies exactly the table's filters.
    """
    org = get_organization(session, query.organization_id)
    actor.require("register.read", org)
    conditions: list[sa.ColumnElement[bool]] = []
    person_conditions: list[sa.ColumnElement[bool]] = []
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
        person_conditions.append(custom_fields.filter_condition(
            session, query.custom_field_id, query.custom_value[:100], org))
    for word in query.search.lower().split()[:5]:
        if word.isdigit():
            conditions.append(Membership.member_number == int(word))
        else:
            person_conditions.append(_word_condition(session, word))
    return conditions, person_conditions


def register_page(session: Session, actor: Actor, query: RegisterQuery) -> RegisterPage:
    """One page of the register for an organisation the actor may read."""
    if query.sort not in SORTS:
        raise ValidationError("Tuntematon lajittelu", "Unknown sort", field="sort")
    page_size = max(1, min(query.page_size, MAX_PAGE_SIZE))
    conditions, person_conditions = register_filters(session, actor, query)
    counted = sa.select(sa.func.count()).select_from(Membership)
    if person_conditions:
        counted = counted.join(Person, Person.id == Membership.person_id)
    total = session.execute(counted.where(*conditions, *person_conditions)).scalar_one()
    pages = max(1, -(-total // page_size))
    page = max(1, min(query.page, pages))
    offset = (page - 1) * page_size
    limit = min(page_size, max(total - offset, 0)) or page_size

    sqlite = session.get_bind().dialect.name == "sqlite"
    keys = list(SORTS[query.sort])
    person_join: sa.ColumnElement[bool] = Person.id == Membership.person_id
    if query.sort == "name":
        if total > SMALL_RESULT and sqlite:
            # SQLite otherwise sorts every membership; "+ 0" keeps it off the person
            # primary key so it walks ix_person_name instead (its documented hint).
            person_join = Person.id + 0 == Membership.person_id
        elif total <= SMALL_RESULT:
            # Few rows: sort them rather than walk the whole name index looking for them.
            keys[0] = Person.last_name.concat("")
    descending = query.descending
    reverse = offset > total // 2 and total > page_size
    if reverse:  # read from the other end: the keys end in a unique id, so this is exact
        descending = not descending
        offset = max(total - offset - limit, 0)
    order = [k.desc() if descending else k.asc() for k in keys]
    result = session.execute(
        sa.select(
            Membership.id, Person.id, Membership.member_number, Person.first_name,
            Person.last_name, Person.email, Person.phone, Person.city, Organization.name,
            MembershipType.name, Membership.status, Membership.start_date,
        )
        .select_from(Membership)
        .join(Person, person_join)
        .join(Organization, Organization.id == Membership.organization_id)
        .join(MembershipType, MembershipType.id == Membership.type_id, isouter=True)
        .where(*conditions, *person_conditions)
        .order_by(*order).limit(limit).offset(offset)
    ).all()
    if reverse:
        result = list(reversed(result))
    rows = [RegisterRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9] or "",
                        r[10], r[11]) for r in result]
    return RegisterPage(rows=rows, total=total, page=page, page_size=page_size)
