"""Retention: personal data is removed N years after a person's memberships ended.

The rule of an organisation is `Organization.retention_years` with
`retention_enabled`; an organisation without its own rule
(`retention_years` is None) follows its nearest ancestor that has one, so a
federation can set the rule for every club below it.

A person is affected when all of these hold:

* they have at least one membership, and none is active;
* for EVERY membership, in every organisation: the effective rule of the
  membership's organisation is switched on, and the membership ended
  (`end_date`) more than that rule's N years before today — so one
  organisation without a rule, or with a longer one, keeps the person;
* they are not already pseudonymised;
* they have no unpaid invoice (as member or payer): an open debt still
  needs its contact details (these people are listed as held back);
* nobody who is kept pays through them (a household's payer stays while a
  dependant stays).

Pseudonymising keeps the person row (invoices, payments and allocations
point at it, and bookkeeping must keep them): names are replaced, contact
data, birth date and custom field values are removed, a linked sign-in
account is disabled and its email scrubbed, `pseudonymised_at` is set, and
one audit event `person.pseudonymised` per person is written (with no
personal data in it). Mail to the person's addresses (person and sign-in
account) loses its address and text, and a message still waiting is not
sent any more; sign-in attempts with those addresses lose the address.
Earlier audit events that carry the person's field values (person.created /
person.updated / person.custom_fields) keep their action, actor and time but
lose the values. Bulk work is set-based.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import ValidationError
from membook_app.register.organizations import get_organization
from models import (
    AuditEvent,
    AuthSession,
    CustomFieldValue,
    Invoice,
    LoginAttempt,
    Membership,
    Organization,
    OutboxMessage,
    Person,
    User,
    utcnow,
)

UNPAID = ("open", "partly_paid", "overdue")
PSEUDO_FIRST = "Poistettu"
MAX_YEARS = 100
CHUNK = 2000
SCRUBBED_ACTIONS = ("person.created", "person.updated", "person.custom_fields")


@dataclass(frozen=True)
class Rule:
    years: int
    enabled: bool


def years_before(today: date, years: int) -> date:
    """The date `years` years before today (29 February falls back to the 28th)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28)


def effective_rules(session: Session,
                    override: tuple[int, Rule] | None = None) -> dict[int, Rule | None]:
    """Each organisation's effective rule (its own, else its nearest ancestor's).

    `override` = (organisation id, rule) previews a rule as if it were saved.
    """
    rows = session.exec(select(Organization.id, Organization.path, Organization.retention_years,
                               Organization.retention_enabled)).all()
    own: dict[int, Rule | None] = {}
    paths: dict[int, str] = {}
    for org_id, path, years, enabled in rows:
        own[org_id] = Rule(years, bool(enabled)) if years is not None else None  # type: ignore[index]
        paths[org_id] = path  # type: ignore[index]
    if override is not None:
        own[override[0]] = override[1]
    result: dict[int, Rule | None] = {}
    for org_id, path in paths.items():
        chain = [int(p) for p in path.strip("/").split("/") if p]
        result[org_id] = next((own[i] for i in reversed(chain) if own.get(i) is not None), None)
    return result


@dataclass(frozen=True)
class Affected:
    person_id: int
    name: str
    last_end: date
    organizations: str


@dataclass(frozen=True)
class RetentionReport:
    affected: list[Affected]
    held_back_unpaid: int
    held_back_household: int


def find_affected(session: Session, today: date | None = None, *,
                  override: tuple[int, Rule] | None = None,
                  scope: Organization | None = None) -> RetentionReport:
    """Who the rules (with an optional previewed rule) would pseudonymise today.

    `scope` limits the answer to people with a membership in that
    organisation's subtree (what its admins may see).
    """
    today = today or date.today()
    rules = effective_rules(session, override)
    switched_on = [i for i, r in rules.items() if r is not None and r.enabled]
    if not switched_on:
        return RetentionReport([], 0, 0)
    candidates = sa.select(Membership.person_id).where(
        col(Membership.organization_id).in_(switched_on))
    if scope is not None:
        candidates = candidates.join(
            Organization, Organization.id == Membership.organization_id).where(
            col(Organization.path).startswith(scope.path))
    rows = session.execute(
        sa.select(Membership.person_id, Membership.organization_id, Membership.status,
                  Membership.end_date, Organization.name)
        .join(Organization, Organization.id == Membership.organization_id)
        .join(Person, Person.id == Membership.person_id)
        .where(col(Membership.person_id).in_(candidates.distinct()),
               col(Person.pseudonymised_at).is_(None))).all()
    by_person: dict[int, list[tuple[int, str, date | None, str]]] = {}
    for person_id, org_id, status, end_date, org_name in rows:
        by_person.setdefault(person_id, []).append((org_id, status, end_date, org_name))
    due: dict[int, tuple[date, str]] = {}
    for person_id, memberships in by_person.items():
        ok = True
        for org_id, status, end_date, _name in memberships:
            rule = rules.get(org_id)
            if (status == "active" or end_date is None or rule is None or not rule.enabled
                    or end_date >= years_before(today, rule.years)):
                ok = False
                break
        if ok:
            due[person_id] = (max(m[2] for m in memberships),  # type: ignore[type-var]
                              ", ".join(sorted({m[3] for m in memberships})))
    if not due:
        return RetentionReport([], 0, 0)
    ids = sorted(due)
    unpaid: set[int] = set()
    dependants: dict[int, set[int]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        for person_id, payer_id in session.execute(
                sa.select(Invoice.person_id, Invoice.payer_id).where(
                    col(Invoice.status).in_(UNPAID),
                    sa.or_(col(Invoice.person_id).in_(chunk), col(Invoice.payer_id).in_(chunk)))):
            unpaid.update({person_id, payer_id})
        for dep_id, payer_id in session.execute(
                sa.select(Person.id, Person.payer_id).where(
                    col(Person.payer_id).in_(chunk), col(Person.pseudonymised_at).is_(None))):
            dependants.setdefault(payer_id, set()).add(dep_id)
    held_unpaid = {p for p in ids if p in unpaid}
    keep = set(ids) - held_unpaid
    held_household: set[int] = set()
    changed = True
    while changed:
        changed = False
        for payer_id in list(keep):
            if any(d not in keep for d in dependants.get(payer_id, ())):
                keep.discard(payer_id)
                held_household.add(payer_id)
                changed = True
    names = dict(session.execute(
        sa.select(Person.id, Person.last_name + " " + Person.first_name).where(
            col(Person.id).in_(sorted(keep)))).all()) if keep else {}
    affected = sorted((Affected(p, names.get(p, ""), due[p][0], due[p][1]) for p in keep),
                      key=lambda a: (a.last_end, a.name))
    return RetentionReport(affected, len(held_unpaid), len(held_household))


def dry_run(session: Session, actor: Actor, organization_id: int, years: int | None,
            today: date | None = None) -> RetentionReport:
    """Who would be pseudonymised if the organisation's rule were `years` and switched on
    (other organisations' rules as saved); people outside its subtree are not shown."""
    org = get_organization(session, organization_id)
    actor.require("org.manage", org)
    years = _clean_years(years)
    return find_affected(session, today, override=(org.id, Rule(years, True)),  # type: ignore[arg-type]
                         scope=org)


def _clean_years(years: int | str | None) -> int:
    try:
        value = int(years)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationError("Säilytysaika vuosina on numero", "Years must be a number",
                              field="retention_years") from None
    if not 1 <= value <= MAX_YEARS:
        raise ValidationError(f"Säilytysaika on 1–{MAX_YEARS} vuotta",
                              f"Retention is 1–{MAX_YEARS} years", field="retention_years")
    return value


def set_rule(session: Session, actor: Actor | None, organization_id: int,
             years: int | str | None, enabled: bool) -> Organization:
    """Save the organisation's rule (None years: follow the parent's rule); audited."""
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("org.manage", org)
    clean = None if years in (None, "") else _clean_years(years)
    if enabled and clean is None:
        raise ValidationError("Anna säilytysaika ennen kuin otat säännön käyttöön",
                              "Give the number of years before switching the rule on",
                              field="retention_years")
    before = {"retention_years": org.retention_years, "retention_enabled": org.retention_enabled}
    org.retention_years, org.retention_enabled = clean, bool(enabled)
    after = {"retention_years": org.retention_years, "retention_enabled": org.retention_enabled}
    if before != after:
        session.add(org)
        audit.record(session, actor, "organization.retention_rule", "organization", org.id,
                     organization_id=org.id, before=before, after=after)
    return org


def _scrub_addresses(session: Session, person_ids: list[int]) -> None:
    """Remove the people's email addresses from mail and sign-in history.

    Outbox rows and login attempts are keyed by address, not by person, so the
    addresses are collected from the person and their sign-in account before
    those are scrubbed: call it before the person and user rows are updated.
    """
    emails = {e.strip().lower() for e in session.exec(select(Person.email).where(
        col(Person.id).in_(person_ids), col(Person.email).is_not(None))) if e}
    emails |= {e.strip().lower() for e in session.exec(select(User.email).where(
        col(User.person_id).in_(person_ids))) if e}
    if not emails:
        return
    address = sa.func.lower(OutboxMessage.to_address)
    # A message not yet delivered must not go out to a pseudonymised person.
    session.execute(sa.update(OutboxMessage).where(
        address.in_(emails), col(OutboxMessage.status).in_(("queued", "sending")))
        .values(status="failed", last_error="vastaanottaja poistettu / recipient removed"))
    session.execute(sa.update(OutboxMessage).where(address.in_(emails)).values(
        to_address="pseudonymised@invalid", subject="(poistettu / removed)",
        text_body="", html_body=None))
    session.execute(sa.update(LoginAttempt).where(
        sa.func.lower(LoginAttempt.email).in_(emails)).values(email="pseudonymised@invalid"))


def pseudonymise(session: Session, actor: Actor | None, person_ids: Iterable[int],
                 reason: str) -> int:
    """Replace names, remove contact data and custom values of these people; set-based.

    Invoices, invoice lines, payments and allocations are not touched.
    Returns how many people were pseudonymised (already done ones are skipped).
    """
    ids = sorted(set(session.exec(select(Person.id).where(
        col(Person.id).in_(sorted(set(person_ids))), col(Person.pseudonymised_at).is_(None)))))
    now = utcnow()
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        _scrub_addresses(session, chunk)
        session.execute(
            sa.update(Person).where(col(Person.id).in_(chunk)).values(
                first_name=PSEUDO_FIRST,
                last_name=sa.literal("#") + sa.cast(Person.id, sa.String),
                email=None, street_address=None, postal_code=None, city=None, phone=None,
                birth_date=None, pseudonymised_at=now, updated_at=now))
        session.execute(sa.delete(CustomFieldValue).where(
            col(CustomFieldValue.person_id).in_(chunk)))
        users = list(session.exec(select(User.id).where(col(User.person_id).in_(chunk))))
        if users:
            session.execute(sa.update(AuthSession).where(
                col(AuthSession.user_id).in_(users), col(AuthSession.revoked_at).is_(None))
                .values(revoked_at=now))
            session.execute(sa.update(User).where(col(User.id).in_(users)).values(
                active=False, password_hash=None, display_name="",
                email=sa.literal("pseudonymised-") + sa.cast(User.id, sa.String)
                + sa.literal("@invalid")))
        # The audit trail keeps that the person changed, not the personal data changed.
        session.execute(sa.update(AuditEvent).where(
            AuditEvent.object_type == "person", col(AuditEvent.object_id).in_(chunk),
            col(AuditEvent.action).in_(SCRUBBED_ACTIONS)).values(
            before=None, after={"scrubbed": True}))
        session.execute(sa.insert(AuditEvent), [
            {"at": now, "actor_user_id": actor.user_id if actor else None,
             "actor_label": actor.email if actor else "system",
             "action": "person.pseudonymised", "object_type": "person", "object_id": pid,
             "organization_id": None, "before": None, "after": {"reason": reason[:300]}}
            for pid in chunk])
    session.flush()
    return len(ids)


def run_retention(session: Session, today: date | None = None) -> dict[str, int]:
    """The daily job: pseudonymise everyone the switched-on rules cover today."""
    report = find_affected(session, today)
    count = pseudonymise(session, None, [a.person_id for a in report.affected],
                         "retention rule")
    return {"pseudonymised": count, "held_back_unpaid": report.held_back_unpaid,
            "held_back_household": report.held_back_household}
