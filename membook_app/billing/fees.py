"""Fee setup across the hierarchy, membership types, and the pricing of memberships.

Rules (also in docs/billing.md):

* A membership is priced for a period by every organisation on its chain
  (its own organisation, then each ancestor up to the root).
* The membership's own organisation charges its fee for the membership's
  type (`Fee.membership_type_id`); when it has no type fee for the period it
  may charge by category like an ancestor does.
* Every ancestor (district, federation) charges its fee for the type's
  category (`Fee.category`). A fee of 0 or a missing fee gives no line.
* Households: an invoice goes to the household payer (`Person.payer_id`)
  when set. A `household_priced` type (perhejäsen) prices the household once
  per organisation and type: the payer's own membership on that type carries
  the lines, or, when the payer is not on that type, the household member
  with the lowest membership id does; the other household members on that
  type get no lines ("paid by household payer").

`fee_lines` is the one pricing function; invoice runs, manual invoice
suggestions and the fee preview use it (or its core `price_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, ValidationError
from membook_app.register.organizations import get_organization
from models import Fee, Membership, MembershipType, Organization, Person

CATEGORIES: dict[str, tuple[str, str]] = {
    "varsinainen": ("Varsinainen jäsen", "Full member"),
    "nuoriso": ("Nuorisojäsen", "Youth member"),
    "kannatus": ("Kannatusjäsen", "Supporting member"),
    "perhe": ("Perhejäsen", "Family member"),
    "kunnia": ("Kunniajäsen", "Honorary member"),
    # A member of several clubs is a full member of one and a secondary member of the
    # others; districts and the federation charge no fee for this category, so their
    # shares are billed once, through the main club (docs/billing.md).
    "sivu": ("Sivujäsen", "Secondary member"),
}
CHUNK = 5000
MAX_FEE_CENTS = 10_000_000  # 100 000 € — a typo guard, not a business limit

# Why a membership gets no lines (keys are stable; texts are for people).
REASON_HOUSEHOLD = "household"
REASON_FEE_ZERO = "fee_zero"
REASON_NO_TYPE = "no_type"


@dataclass(frozen=True)
class LineSpec:
    """One organisation's share for one membership."""

    organization_id: int
    description: str
    amount_cents: int


# ---------------------------------------------------------------- membership types


def _clean_category(category: str) -> str:
    category = (category or "").strip().lower()
    if category not in CATEGORIES:
        raise ValidationError("Tuntematon jäsenluokka", "Unknown member category",
                              field="category")
    return category


def _clean_type_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise ValidationError("Anna jäsenlajin nimi (enintään 100 merkkiä)",
                              "Give the type a name (at most 100 characters)", field="name")
    return name


def _type_snapshot(mt: MembershipType) -> dict[str, object]:
    return {"name": mt.name, "category": mt.category, "household_priced": mt.household_priced,
            "active": mt.active, "description": mt.description}


def list_membership_types(session: Session, actor: Actor,
                          organization_id: int) -> list[MembershipType]:
    """The organisation's membership types (active first, then by name)."""
    org = get_organization(session, organization_id)
    actor.require("billing.read", org)
    return list(session.exec(
        select(MembershipType).where(MembershipType.organization_id == org.id)
        .order_by(col(MembershipType.active).desc(), MembershipType.name)))


def create_membership_type(session: Session, actor: Actor | None, *, organization_id: int,
                           name: str, category: str = "varsinainen",
                           household_priced: bool = False,
                           description: str | None = None) -> MembershipType:
    """A new membership type for the organisation (audited)."""
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("billing.write", org)
    name = _clean_type_name(name)
    taken = session.exec(select(MembershipType.id).where(
        MembershipType.organization_id == org.id, MembershipType.name == name)).first()
    if taken is not None:
        raise ValidationError("Samanniminen jäsenlaji on jo olemassa",
                              "A type with this name exists", field="name")
    mt = MembershipType(organization_id=org.id, name=name, category=_clean_category(category),  # type: ignore[arg-type]
                        household_priced=bool(household_priced),
                        description=(description or "").strip()[:500] or None)
    session.add(mt)
    session.flush()
    audit.record(session, actor, "membership_type.created", "membershiptype", mt.id,
                 organization_id=org.id, after=_type_snapshot(mt))
    return mt


def update_membership_type(session: Session, actor: Actor | None, type_id: int, *,
                           name: str | None = None, category: str | None = None,
                           household_priced: bool | None = None, active: bool | None = None,
                           description: str | None = None) -> MembershipType:
    """Change a membership type; only the fields given change (audited with a diff)."""
    mt = session.get(MembershipType, type_id)
    if mt is None:
        raise NotFound("Jäsenlajia ei löydy", "Membership type not found")
    org = get_organization(session, mt.organization_id)
    if actor is not None:
        actor.require("billing.write", org)
    before = _type_snapshot(mt)
    if name is not None and _clean_type_name(name) != mt.name:
        new_name = _clean_type_name(name)
        taken = session.exec(select(MembershipType.id).where(
            MembershipType.organization_id == org.id, MembershipType.name == new_name)).first()
        if taken is not None:
            raise ValidationError("Samanniminen jäsenlaji on jo olemassa",
                                  "A type with this name exists", field="name")
        mt.name = new_name
    if category is not None:
        mt.category = _clean_category(category)
    if household_priced is not None:
        mt.household_priced = bool(household_priced)
    if active is not None:
        mt.active = bool(active)
    if description is not None:
        mt.description = description.strip()[:500] or None
    session.add(mt)
    old, new = audit.diff(before, _type_snapshot(mt))
    if new:
        audit.record(session, actor, "membership_type.updated", "membershiptype", mt.id,
                     organization_id=org.id, before=old, after=new)
    return mt


# ---------------------------------------------------------------- fees


def _clean_period(period: str) -> str:
    period = (period or "").strip()
    if not period or len(period) > 20:
        raise ValidationError("Anna kausi (esim. 2027)", "Give a period (e.g. 2027)",
                              field="period")
    return period


def _fee_snapshot(fee: Fee) -> dict[str, object]:
    return {"period": fee.period, "membership_type_id": fee.membership_type_id,
            "category": fee.category, "amount_cents": fee.amount_cents}


def set_fee(session: Session, actor: Actor | None, *, organization_id: int, period: str,
            amount_cents: int, membership_type_id: int | None = None,
            category: str | None = None) -> Fee:
    """Create or change the organisation's fee for a type (own members) or a category.

    Exactly one of `membership_type_id` (one of this organisation's own types)
    and `category` is given. Audited as fee.created / fee.updated.
    """
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("billing.write", org)
    period = _clean_period(period)
    if (membership_type_id is None) == (category is None):
        raise ValidationError("Valitse joko jäsenlaji tai jäsenluokka",
                              "Choose either a membership type or a category", field="target")
    if not isinstance(amount_cents, int) or not 0 <= amount_cents <= MAX_FEE_CENTS:
        raise ValidationError("Maksun on oltava 0–100 000 €", "The fee must be 0–100,000 €",
                              field="amount")
    query = select(Fee).where(Fee.organization_id == org.id, Fee.period == period)
    if membership_type_id is not None:
        mt = session.get(MembershipType, membership_type_id)
        if mt is None or mt.organization_id != org.id:
            raise ValidationError("Jäsenlaji ei kuulu tähän yhdistykseen",
                                  "The membership type is not this organisation's",
                                  field="membership_type_id")
        query = query.where(Fee.membership_type_id == membership_type_id)
    else:
        category = _clean_category(category or "")
        query = query.where(Fee.category == category)
    fee = session.exec(query).first()
    if fee is None:
        fee = Fee(organization_id=org.id, period=period,  # type: ignore[arg-type]
                  membership_type_id=membership_type_id, category=category,
                  amount_cents=amount_cents)
        session.add(fee)
        session.flush()
        audit.record(session, actor, "fee.created", "fee", fee.id, organization_id=org.id,
                     after=_fee_snapshot(fee))
        return fee
    before = _fee_snapshot(fee)
    fee.amount_cents = amount_cents
    session.add(fee)
    old, new = audit.diff(before, _fee_snapshot(fee))
    if new:
        audit.record(session, actor, "fee.updated", "fee", fee.id, organization_id=org.id,
                     before=old, after=new)
    return fee


def delete_fee(session: Session, actor: Actor | None, fee_id: int) -> None:
    """Remove a fee row (invoices already written keep their lines). Audited."""
    fee = session.get(Fee, fee_id)
    if fee is None:
        raise NotFound("Maksua ei löydy", "Fee not found")
    org = get_organization(session, fee.organization_id)
    if actor is not None:
        actor.require("billing.write", org)
    audit.record(session, actor, "fee.deleted", "fee", fee.id, organization_id=org.id,
                 before=_fee_snapshot(fee))
    session.delete(fee)
    session.flush()


def list_fees(session: Session, actor: Actor, organization_id: int,
              period: str | None = None) -> list[Fee]:
    """The organisation's own fee rows (of one period, or all), newest period first."""
    org = get_organization(session, organization_id)
    actor.require("billing.read", org)
    query = select(Fee).where(Fee.organization_id == org.id)
    if period:
        query = query.where(Fee.period == period)
    return list(session.exec(query.order_by(col(Fee.period).desc(), Fee.id)))


def fee_periods(session: Session, organization_id: int) -> list[str]:
    """Periods for which the organisation or its ancestors have fees (newest first)."""
    org = get_organization(session, organization_id)
    chain = [int(p) for p in org.path.strip("/").split("/") if p]
    sub = list(session.exec(select(Organization.id).where(
        col(Organization.path).startswith(org.path))))
    rows = session.exec(select(Fee.period).where(
        col(Fee.organization_id).in_(set(chain) | set(sub))).distinct())
    return sorted(set(rows), reverse=True)


# ---------------------------------------------------------------- pricing

# (membership_id, person_id, payer_id, organization_id, type_id): one membership to price.
PricingRow = tuple[int, int, "int | None", int, "int | None"]


@dataclass(frozen=True)
class TypeInfo:
    id: int
    organization_id: int
    name: str
    category: str
    household_priced: bool


@dataclass
class Priced:
    """The outcome of pricing many memberships.

    Lines depend only on (organisation, type), so they are computed once per
    combination (`combos`) and shared; `skipped` holds the memberships that get
    no lines, with the reason.
    """

    rows: dict[int, tuple[int, int | None]]  # membership → (organisation, type)
    combos: dict[tuple[int, int], tuple[LineSpec, ...]]
    skipped: dict[int, str]

    def lines(self, membership_id: int) -> tuple[LineSpec, ...]:
        if membership_id in self.skipped:
            return ()
        org_id, type_id = self.rows[membership_id]
        return self.combos.get((org_id, type_id), ())  # type: ignore[arg-type]


def _chain(path: str) -> list[int]:
    """Organisation ids from the root down to the organisation itself."""
    return [int(p) for p in path.strip("/").split("/") if p]


def _in_chunks(session: Session, query: sa.Select, column: sa.ColumnElement,
               ids: Iterable[int]) -> list[sa.Row]:
    """Run `query` with `column IN (...)` over the ids in chunks, as core rows."""
    ids = sorted(set(ids))
    connection = session.connection()
    rows: list[sa.Row] = []
    for start in range(0, len(ids), CHUNK):
        rows += connection.execute(query.where(column.in_(ids[start:start + CHUNK]))).all()
    return rows


def load_types(session: Session, type_ids: Iterable[int]) -> dict[int, TypeInfo]:
    return {r[0]: TypeInfo(r[0], r[1], r[2], r[3], bool(r[4])) for r in _in_chunks(
        session, sa.select(MembershipType.id, MembershipType.organization_id,
                           MembershipType.name, MembershipType.category,
                           MembershipType.household_priced),
        col(MembershipType.id), type_ids)}


def _load_fees(session: Session, org_ids: Iterable[int], period: str
               ) -> tuple[dict[int, int], dict[tuple[int, str], int]]:
    """Type fees {type_id: cents} and category fees {(org_id, category): cents}."""
    by_type: dict[int, int] = {}
    by_category: dict[tuple[int, str], int] = {}
    for org_id, type_id, category, cents in _in_chunks(
            session, sa.select(Fee.organization_id, Fee.membership_type_id, Fee.category,
                               Fee.amount_cents).where(Fee.period == period),
            col(Fee.organization_id), org_ids):
        if type_id is not None:
            by_type[type_id] = cents
        elif category is not None:
            by_category[(org_id, category)] = cents
    return by_type, by_category


def combo_lines(session: Session, combos: Iterable[tuple[int, int]], period: str,
                org_names: dict[int, str] | None = None, types: dict[int, TypeInfo] | None = None
                ) -> dict[tuple[int, int], tuple[LineSpec, ...]]:
    """Lines for each (organisation, type): own organisation by type fee (or its
    category fee), then every ancestor by category fee; only amounts > 0."""
    combos = set(combos)
    paths = dict(_in_chunks(session, sa.select(Organization.id, Organization.path),
                            col(Organization.id), {c[0] for c in combos}))
    chains = {org_id: _chain(path) for org_id, path in paths.items()}
    all_orgs = {o for chain in chains.values() for o in chain}
    by_type, by_category = _load_fees(session, all_orgs, period)
    if types is None:
        types = load_types(session, {c[1] for c in combos})
    if org_names is None:
        org_names = org_name_map(session, all_orgs)
    result: dict[tuple[int, int], tuple[LineSpec, ...]] = {}
    for org_id, type_id in combos:
        mt = types.get(type_id)
        lines: list[LineSpec] = []
        for charger in reversed(chains.get(org_id, [])):  # own organisation first
            own = charger == org_id
            cents = by_type.get(type_id) if own else None
            if cents is None and mt is not None:
                cents = by_category.get((charger, mt.category))
            if cents and mt is not None:
                what = mt.name if own else CATEGORIES.get(mt.category, (mt.category,))[0]
                name = org_names.get(charger, str(charger))
                lines.append(LineSpec(charger, f"{name}: jäsenmaksu {period} ({what})"[:200],
                                      cents))
        result[(org_id, type_id)] = tuple(lines)
    return result


def _household_carriers(session: Session, rows: list[PricingRow], types: dict[int, TypeInfo]
                        ) -> dict[tuple[int, int, int], int]:
    """{(household head, organisation, type): membership id carrying the household price}.

    Looks at every active membership of the household on that type, not only
    the ones being priced, so pricing a subset gives the same answer.
    """
    keys = {((payer or person), org_id, type_id)
            for _, person, payer, org_id, type_id in rows
            if type_id is not None and type_id in types and types[type_id].household_priced}
    if not keys:
        return {}
    connection = session.connection()
    # Only households with dependants can share a price; most heads have none, which
    # one index-only lookup tells (the head then carries their own price as usual).
    candidates = sorted({k[0] for k in keys})
    heads_set: set[int] = set()
    for start in range(0, len(candidates), CHUNK):
        heads_set.update(connection.execute(
            sa.select(Person.payer_id).where(
                col(Person.payer_id).in_(candidates[start:start + CHUNK])).distinct()
        ).scalars())
    heads = sorted(heads_set)
    type_ids = sorted({k[2] for k in keys})
    best: dict[tuple[int, int, int], tuple[int, int]] = {}
    for start in range(0, len(heads), CHUNK):
        chunk = heads[start:start + CHUNK]
        base = (sa.select(Membership.id, Membership.person_id, Person.payer_id,
                          Membership.organization_id, Membership.type_id)
                .join(Person, Person.id == Membership.person_id)
                .where(col(Membership.type_id).in_(type_ids), Membership.status == "active"))
        # Two indexed lookups (the heads themselves, their dependants) rather than an OR.
        found = (connection.execute(base.where(col(Person.id).in_(chunk))).all()
                 + connection.execute(base.where(col(Person.payer_id).in_(chunk))).all())
        for membership_id, person_id, payer_id, org_id, type_id in found:
            head = payer_id or person_id
            key = (head, org_id, type_id)
            if key not in keys:
                continue
            # The payer's own membership wins; otherwise the lowest membership id.
            rank = (0 if person_id == head else 1, membership_id)
            if key not in best or rank < best[key]:
                best[key] = rank
    return {k: v[1] for k, v in best.items()}


def price_memberships(session: Session, rows: list[PricingRow], period: str,
                      org_names: dict[int, str] | None = None) -> Priced:
    """Price many memberships for a period with a fixed number of queries."""
    combos = {(r[3], r[4]) for r in rows if r[4] is not None}
    types = load_types(session, {c[1] for c in combos})
    lines = combo_lines(session, combos, period, org_names, types)  # type: ignore[arg-type]
    carriers = _household_carriers(session, rows, types)
    skipped: dict[int, str] = {}
    for membership_id, person_id, payer_id, org_id, type_id in rows:
        if type_id is None:
            skipped[membership_id] = REASON_NO_TYPE
            continue
        if carriers:
            carrier = carriers.get(((payer_id or person_id), org_id, type_id))
            if carrier is not None and carrier != membership_id:
                skipped[membership_id] = REASON_HOUSEHOLD
                continue
        if not lines.get((org_id, type_id)):
            skipped[membership_id] = REASON_FEE_ZERO
    return Priced({r[0]: (r[3], r[4]) for r in rows}, lines, skipped)  # type: ignore[arg-type]


def pricing_rows_query() -> sa.Select:
    """SELECT of PricingRow tuples (add WHERE clauses): membership joined to its person."""
    return (sa.select(Membership.id, Membership.person_id, Person.payer_id,
                      Membership.organization_id, Membership.type_id)
            .join(Person, Person.id == Membership.person_id))


def org_name_map(session: Session, org_ids: Iterable[int]) -> dict[int, str]:
    return dict(_in_chunks(session, sa.select(Organization.id, Organization.name),  # type: ignore[arg-type]
                           col(Organization.id), org_ids))


def fee_lines(session: Session, membership_ids: Iterable[int],
              period: str) -> dict[int, list[LineSpec]]:
    """{membership_id: lines} for the period; an empty list means nothing to bill.

    One line per organisation in the chain that charges more than 0 (own
    organisation by type, ancestors by category), own organisation first.
    Household members whose household price is carried by another membership
    get an empty list. Works in bulk (100,000 memberships: a few dozen queries).
    """
    rows = [tuple(r) for r in _in_chunks(session, pricing_rows_query(), col(Membership.id),
                                         membership_ids)]
    priced = price_memberships(session, rows, period)  # type: ignore[arg-type]
    return {r[0]: list(priced.lines(r[0])) for r in rows}


# ---------------------------------------------------------------- preview


@dataclass(frozen=True)
class PreviewShare:
    organization_id: int
    organization: str
    amount_cents: int


@dataclass(frozen=True)
class FeePreviewRow:
    """"A member of type X in club Y pays club a €, district b €, federation c €"."""

    organization_id: int
    organization: str
    type_id: int
    type_name: str
    category: str
    household_priced: bool
    shares: tuple[PreviewShare, ...]
    total_cents: int


def fee_preview(session: Session, actor: Actor | None, organization_id: int,
                period: str) -> list[FeePreviewRow]:
    """For every active type of the organisation and of every organisation below it."""
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("billing.read", org)
    period = _clean_period(period)
    orgs = {o.id: o for o in session.exec(select(Organization).where(
        col(Organization.path).startswith(org.path)))}
    types = session.exec(select(MembershipType).where(
        col(MembershipType.organization_id).in_(list(orgs)), MembershipType.active)
        .order_by(MembershipType.organization_id, MembershipType.name)).all()
    all_orgs = {o for t in types for o in _chain(orgs[t.organization_id].path)}
    names = org_name_map(session, all_orgs)
    lines = combo_lines(session, {(t.organization_id, t.id) for t in types}, period, names)  # type: ignore[misc]
    result = []
    for t in sorted(types, key=lambda t: (orgs[t.organization_id].path, t.name)):
        own = lines[(t.organization_id, t.id)]  # type: ignore[index]
        chain = list(reversed(_chain(orgs[t.organization_id].path)))
        amounts = {line.organization_id: line.amount_cents for line in own}
        shares = tuple(PreviewShare(o, names.get(o, ""), amounts.get(o, 0)) for o in chain)
        result.append(FeePreviewRow(t.organization_id, names.get(t.organization_id, ""),
                                    t.id, t.name, t.category, t.household_priced,  # type: ignore[arg-type]
                                    shares, sum(amounts.values())))
    return result
