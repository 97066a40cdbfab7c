"""Plan limits and usage: checked where a change happens, shown on the settings page.

The rule: an organisation is limited by its own plan (`Organization.plan_id`),
and its usage is counted over its own subtree (the organisation and
everything below it), the same scope its admins work in:

* max_members — distinct people with an active membership in the subtree
  (checked in `add_membership`);
* max_suborganizations — organisations below it, all levels (`create_organization`);
* max_admins — distinct users with an admin grant inside the subtree (`grant_role`);
* invoicing_enabled — `require_invoicing`, for the billing services;
* max_payments_per_year — payments booked this calendar year to its invoices (usage only).

`None` in a Plan column means unlimited. Limits are read from the Plan rows,
never from constants, so the operator can change them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.errors import LimitReached, PermissionDenied
from membook_app.formatting import number
from models import Allocation, Invoice, Membership, Organization, Payment, Plan, RoleGrant


def plan_of(session: Session, org: Organization) -> Plan:
    plan = session.get(Plan, org.plan_id)
    assert plan is not None, "every organisation has a plan (foreign key)"
    return plan


def _subtree(org: Organization) -> sa.ColumnElement[bool]:
    return col(Organization.path).startswith(org.path)


def _upgrade_hint(plan: Plan) -> tuple[str, str]:
    return (f"Paketti {plan.name} ei salli enempää; vaihda suurempaan pakettiin.",
            f"The {plan.name} plan allows no more; switch to a bigger plan.")


# ---------------------------------------------------------------- usage

def members_count(session: Session, org: Organization) -> int:
    """Distinct people with an active membership in the organisation's subtree."""
    return int(session.execute(
        sa.select(sa.func.count(sa.distinct(Membership.person_id)))
        .select_from(Membership)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(_subtree(org), Membership.status == "active")).scalar_one())


def suborganizations_count(session: Session, org: Organization) -> int:
    """Organisations below this one, all levels."""
    return int(session.execute(
        sa.select(sa.func.count()).select_from(Organization)
        .where(_subtree(org), Organization.id != org.id)).scalar_one())


def admins_count(session: Session, org: Organization) -> int:
    """Distinct users holding an admin grant on the organisation or below it."""
    return int(session.execute(
        sa.select(sa.func.count(sa.distinct(RoleGrant.user_id)))
        .select_from(RoleGrant)
        .join(Organization, Organization.id == RoleGrant.organization_id)
        .where(_subtree(org), RoleGrant.role == "admin")).scalar_one())


def payments_this_year(session: Session, org: Organization, today: date | None = None) -> int:
    """Incoming payments booked this calendar year that were allocated to invoices of the
    organisation's subtree (each payment counted once, reversals not counted)."""
    today = today or date.today()
    start, end = date(today.year, 1, 1), date(today.year + 1, 1, 1)
    return int(session.execute(
        sa.select(sa.func.count(sa.distinct(Payment.id)))
        .select_from(Payment)
        .join(Allocation, Allocation.payment_id == Payment.id)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .join(Organization, Organization.id == Invoice.organization_id)
        .where(_subtree(org), Payment.booking_date >= start, Payment.booking_date < end,
               Payment.amount_cents > 0)).scalar_one())


@dataclass(frozen=True)
class UsageLine:
    key: str
    fi: str
    en: str
    used: int
    limit: int | None

    @property
    def over(self) -> bool:
        return self.limit is not None and self.used > self.limit

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    def text(self) -> str:
        limit = "∞" if self.limit is None else number(self.limit)
        return f"{number(self.used)} / {limit}"


@dataclass(frozen=True)
class PlanUsage:
    plan_code: str
    plan_name: str
    invoicing_enabled: bool
    transaction_fee_cents: int
    monthly_price_cents: int
    lines: list[UsageLine]


def usage(session: Session, org: Organization, today: date | None = None) -> PlanUsage:
    """The organisation's usage against its plan, for the settings page."""
    plan = plan_of(session, org)
    return PlanUsage(plan.code, plan.name, plan.invoicing_enabled, plan.transaction_fee_cents,
                     plan.monthly_price_cents, [
                         UsageLine("members", "Jäsenet", "Members",
                                   members_count(session, org), plan.max_members),
                         UsageLine("suborganizations", "Alayhdistykset", "Sub-organisations",
                                   suborganizations_count(session, org),
                                   plan.max_suborganizations),
                         UsageLine("admins", "Pääkäyttäjät", "Admins",
                                   admins_count(session, org), plan.max_admins),
                         UsageLine("payments", "Maksutapahtumat tänä vuonna",
                                   "Payments this year",
                                   payments_this_year(session, org, today),
                                   plan.max_payments_per_year),
                     ])


# ---------------------------------------------------------------- checks

def check_member_limit(session: Session, org: Organization, person_id: int | None = None,
                       adding: int = 1) -> None:
    """Refuse a new active member over the plan's max_members (a person already an active
    member elsewhere in the subtree does not add to the count)."""
    plan = plan_of(session, org)
    if plan.max_members is None:
        return
    if person_id is not None and adding == 1:
        already = session.exec(
            select(Membership.id).join(Organization, Organization.id == Membership.organization_id)
            .where(_subtree(org), Membership.person_id == person_id,
                   Membership.status == "active")).first()
        if already is not None:
            return
    used = members_count(session, org)
    if used + adding > plan.max_members:
        fi, en = _upgrade_hint(plan)
        raise LimitReached(
            f"Jäsenraja täynnä: {org.name} voi {plan.name}-paketissa pitää enintään "
            f"{number(plan.max_members)} jäsentä (nyt {number(used)}). {fi}",
            f"Member limit reached: on the {plan.name} plan {org.name} may have at most "
            f"{plan.max_members} members (now {used}). {en}", field="organization_id")


def check_suborganization_limit(session: Session, actor: Actor | None, parent: Organization,
                                plan_code: str | None = None) -> None:
    """Refuse a new sub-organisation over the parent's max_suborganizations; a non-operator
    may not give the new organisation a bigger plan than the parent's own."""
    plan = plan_of(session, parent)
    if plan.max_suborganizations is not None:
        used = suborganizations_count(session, parent)
        if used + 1 > plan.max_suborganizations:
            fi, en = _upgrade_hint(plan)
            raise LimitReached(
                f"Alayhdistysraja täynnä: {parent.name} voi {plan.name}-paketissa pitää "
                f"enintään {plan.max_suborganizations} alayhdistystä (nyt {used}). {fi}",
                f"Sub-organisation limit reached: on the {plan.name} plan {parent.name} may "
                f"have at most {plan.max_suborganizations} sub-organisations (now {used}). {en}",
                field="parent_id")
    if plan_code is not None and actor is not None and not actor.is_operator:
        child = session.exec(select(Plan).where(Plan.code == plan_code)).first()
        if child is not None and child.sort_order > plan.sort_order:
            raise PermissionDenied(
                "Alayhdistyksen paketti ei voi olla suurempi kuin oman yhdistyksen",
                "A sub-organisation's plan cannot be bigger than its parent's")


def check_admin_limit(session: Session, org: Organization, user_id: int) -> None:
    """Refuse a new admin over the organisation's max_admins (a user who already holds an
    admin grant inside the subtree does not add to the count)."""
    plan = plan_of(session, org)
    if plan.max_admins is None:
        return
    already = session.exec(
        select(RoleGrant.id).join(Organization, Organization.id == RoleGrant.organization_id)
        .where(_subtree(org), RoleGrant.user_id == user_id, RoleGrant.role == "admin")).first()
    if already is not None:
        return
    used = admins_count(session, org)
    if used + 1 > plan.max_admins:
        fi, en = _upgrade_hint(plan)
        raise LimitReached(
            f"Pääkäyttäjäraja täynnä: {org.name} voi {plan.name}-paketissa pitää "
            f"enintään {plan.max_admins} pääkäyttäjää (nyt {used}). {fi}",
            f"Admin limit reached: on the {plan.name} plan {org.name} may have at most "
            f"{plan.max_admins} admins (now {used}). {en}", field="role")


def require_invoicing(session: Session, org: Organization) -> None:
    """Refuse billing work for an organisation whose plan does not include invoicing
    (for the billing services: invoice runs, single invoices, reminders)."""
    plan = plan_of(session, org)
    if not plan.invoicing_enabled:
        raise LimitReached(
            f"Laskutus ei kuulu {plan.name}-pakettiin ({org.name}); vaihda pakettia "
            "laskuttaaksesi jäsenmaksuja.",
            f"Invoicing is not included in the {plan.name} plan ({org.name}); switch plans "
            "to invoice membership fees.", field="organization_id")
