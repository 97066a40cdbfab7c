"""A believable demo association tree with about 2,000 people (Faker fi_FI, fixed seed).

Rows are written with bulk inserts: the ORM one object at a time would make
`make run` wait for seconds on every fresh start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from faker import Faker
from sqlmodel import Session, col, select

from membook_app.accounts.passwords import hash_password
from membook_app.accounts.users import get_or_create_user, grant_role
from membook_app.billing.fees import set_fee
from membook_app.billing.runs import commit_run
from membook_app.demo.money import seed_money
from membook_app.register.organizations import create_organization
from membook_app.register.plans import ensure_plans
from models import (
    Membership,
    MembershipStatusChange,
    MembershipType,
    Organization,
    Person,
    User,
    utcnow,
)

DEMO_PASSWORD = "membook-demo"
# (type name, shared category, priced once per household)
TYPES = (("Varsinainen jäsen", "varsinainen", False), ("Nuorisojäsen", "nuoriso", False),
         ("Kannatusjäsen", "kannatus", False), ("Perhejäsen", "perhe", True),
         ("Kunniajäsen", "kunnia", False))
TYPE_WEIGHTS = (70, 15, 7, 7, 1)
DEMO_PERIOD = "2027"  # the membership year a treasurer bills in late 2026
# Fees in cents for the demo period: each club per type, the district and the
# federation per member category (their share on every club member's invoice).
CLUB_FEES = {"varsinainen": 3000, "nuoriso": 1500, "kannatus": 2000, "perhe": 4500,
             "kunnia": 0}
DISTRICT_FEES = {"varsinainen": 500, "nuoriso": 200, "perhe": 500}
FEDERATION_FEES = {"varsinainen": 1000, "nuoriso": 500, "perhe": 1000}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str


TREE = {
    "Suomen Liikuntaliitto ry": {
        "Etelä-Suomen piiri ry": ["Helsingin Reippaat ry", "Espoon Kuntoilijat ry"],
        "Pohjois-Suomen piiri ry": ["Oulun Liikkujat ry", "Rovaniemen Revontulet ry"],
    }
}
ADMINS = {
    "Suomen Liikuntaliitto ry": "liitto.admin@membook.example",
    "Etelä-Suomen piiri ry": "etela.admin@membook.example",
    "Pohjois-Suomen piiri ry": "pohjoinen.admin@membook.example",
    "Helsingin Reippaat ry": "helsinki.admin@membook.example",
    "Espoon Kuntoilijat ry": "espoo.admin@membook.example",
    "Oulun Liikkujat ry": "oulu.admin@membook.example",
    "Rovaniemen Revontulet ry": "rovaniemi.admin@membook.example",
}
# Each organisation's own account for its weekly settlement payout (valid Finnish IBANs).
IBANS = dict(zip(ADMINS, ("FI4950009420028730", "FI2350000100012342", "FI3540000200012351",
                          "FI7010000300012364", "FI5980000400012376", "FI8147000500012385",
                          "FI2157000600012399"), strict=True))
OPERATOR = "operaattori@membook.example"
TREASURER = ("rahastonhoitaja@membook.example", "Helsingin Reippaat ry")
VIEWER = ("tarkastaja@membook.example", "Suomen Liikuntaliitto ry")
MEMBERS = ("jasen@membook.example", "jasen2@membook.example")


def demo_logins() -> list[DemoLogin]:
    """Every demo account with what it can do, for `make run` to print."""
    logins = [DemoLogin(OPERATOR, "operaattori / operator")]
    logins += [DemoLogin(email, f"pääkäyttäjä / admin: {org}") for org, email in ADMINS.items()]
    logins.append(DemoLogin(TREASURER[0], f"rahastonhoitaja / treasurer: {TREASURER[1]}"))
    logins.append(DemoLogin(VIEWER[0], f"katselija / viewer: {VIEWER[1]}"))
    logins += [DemoLogin(email, "jäsen / member") for email in MEMBERS]
    return logins


def database_is_empty(session: Session) -> bool:
    """True when no organisation exists yet (a fresh installation)."""
    return session.exec(select(Organization.id).limit(1)).first() is None


def seed_demo(session: Session, people: int = 2000, seed: int = 2026) -> dict[str, int]:
    """Create the demo tree, people, memberships and accounts in the caller's transaction."""
    ensure_plans(session)
    rng = random.Random(seed)
    fake = Faker("fi_FI")
    fake.seed_instance(seed)

    orgs: dict[str, Organization] = {}
    for fed, districts in TREE.items():
        orgs[fed] = create_organization(session, None, name=fed, plan_code="premium",
                                        association_id="123456", iban=IBANS[fed])
        for district, clubs in districts.items():
            orgs[district] = create_organization(session, None, name=district,
                                                 parent_id=orgs[fed].id, plan_code="basic",
                                                 iban=IBANS[district])
            for club in clubs:
                orgs[club] = create_organization(session, None, name=club,
                                                 parent_id=orgs[district].id, plan_code="basic",
                                                 iban=IBANS[club])
    clubs = [c for d in TREE.values() for cs in d.values() for c in cs]

    type_ids: dict[str, list[int]] = {}
    for club in clubs:
        ids = []
        for name, category, household in TYPES:
            mt = MembershipType(organization_id=orgs[club].id,  # type: ignore[arg-type]
                                name=name, category=category, household_priced=household)
            session.add(mt)
            session.flush()
            ids.append(mt.id)  # type: ignore[arg-type]
            set_fee(session, None, organization_id=orgs[club].id,  # type: ignore[arg-type]
                    period=DEMO_PERIOD, membership_type_id=mt.id,
                    amount_cents=CLUB_FEES[category])
        type_ids[club] = ids
    for level, fees in ((districts_of(TREE), DISTRICT_FEES), (list(TREE), FEDERATION_FEES)):
        for org_name in level:
            for category, cents in fees.items():
                set_fee(session, None, organization_id=orgs[org_name].id,  # type: ignore[arg-type]
                        period=DEMO_PERIOD, category=category, amount_cents=cents)

    now = utcnow()
    person_rows = []
    used_emails: set[str] = set(MEMBERS)
    for i in range(people):
        first, last = fake.first_name(), fake.last_name()
        email = None
        if i < len(MEMBERS):
            email = MEMBERS[i]
        elif rng.random() < 0.92:
            base = f"{first}.{last}".lower().replace(" ", "")
            for a, b in (("ä", "a"), ("ö", "o"), ("å", "a"), ("é", "e"), ("ü", "u")):
                base = base.replace(a, b)
            email = f"{base}{rng.randint(1, 999)}@example.fi"
            if email in used_emails:
                email = None
            else:
                used_emails.add(email)
        birth = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 70))
        person_rows.append({
            "email": email, "first_name": first, "last_name": last,
            "street_address": fake.street_address(), "postal_code": fake.postcode(),
            "city": fake.city(), "country": "FI",
            "phone": f"+35840{rng.randint(1000000, 9999999)}" if rng.random() < 0.8 else None,
            "birth_date": birth, "language": "sv" if rng.random() < 0.05 else "fi",
            "created_at": now, "updated_at": now,
        })
    session.execute(sa.insert(Person), person_rows)
    person_ids = list(session.exec(select(Person.id).order_by(Person.id)))

    numbers = dict.fromkeys(clubs, 0)
    membership_rows = []
    for index, pid in enumerate(person_ids):
        homes = [clubs[0] if index < len(MEMBERS) else rng.choice(clubs)]
        if rng.random() < 0.05:
            homes.append(rng.choice([c for c in clubs if c != homes[0]]))
        for club in homes:
            numbers[club] += 1
            start = date(2005, 1, 1) + timedelta(days=rng.randint(0, 365 * 21))
            resigned = index >= len(MEMBERS) and rng.random() < 0.08
            membership_rows.append({
                "person_id": pid, "organization_id": orgs[club].id,
                "member_number": numbers[club],
                "type_id": rng.choices(type_ids[club], weights=TYPE_WEIGHTS)[0],
                "start_date": start, "status": "resigned" if resigned else "active",
                "end_date": min(start + timedelta(days=rng.randint(30, 3000)), date(2026, 10, 31))
                if resigned else None,
                "created_at": now,
            })
    session.execute(sa.insert(Membership), membership_rows)
    # Status history as add_membership/end_membership would have written it.
    history = []
    for mid, status, start, end in session.execute(sa.select(
            Membership.id, Membership.status, Membership.start_date, Membership.end_date)):
        history.append({"membership_id": mid, "from_status": None, "to_status": "active",
                        "reason": "demo", "at": datetime.combine(start, time(12), UTC)})
        if status != "active":
            history.append({"membership_id": mid, "from_status": "active", "to_status": status,
                            "reason": "demo", "at": datetime.combine(end, time(12), UTC)})
    session.execute(sa.insert(MembershipStatusChange), history)

    password = hash_password(DEMO_PASSWORD)
    op = get_or_create_user(session, None, OPERATOR, display_name="Olli Operaattori",
                            is_operator=True)
    op.password_hash = password
    for org_name, email in ADMINS.items():
        user = get_or_create_user(session, None, email, display_name=f"Pääkäyttäjä, {org_name}")
        user.password_hash = password
        grant_role(session, None, user, orgs[org_name].id, "admin")  # type: ignore[arg-type]
    for (email, org_name), role, name in ((TREASURER, "treasurer", "Riitta Rahastonhoitaja"),
                                          (VIEWER, "viewer", "Kalle Katselija")):
        user = get_or_create_user(session, None, email, display_name=name)
        user.password_hash = password
        grant_role(session, None, user, orgs[org_name].id, role)  # type: ignore[arg-type]
    for email in MEMBERS:
        user = get_or_create_user(session, None, email)
        user.password_hash = password
    session.flush()
    fed = orgs[next(iter(TREE))]
    run = commit_run(session, None, fed.id, True, DEMO_PERIOD,  # type: ignore[arg-type]
                     date(2026, 11, 2), date(2026, 12, 15), today=date(2026, 11, 28))
    members = set(session.exec(select(Person.id).where(col(Person.email).in_(MEMBERS))))
    money = seed_money(session, run.run_id, members, seed)
    return {
        "organizations": len(orgs),
        "people": len(person_ids),
        "memberships": len(membership_rows),
        "users": len(session.exec(select(User.id)).all()),
        "invoices": run.created,
        "bank_files": money.bank_files,
        "payments": money.payments,
    }


def districts_of(tree: dict[str, dict[str, list[str]]]) -> list[str]:
    """District names of the demo tree."""
    return [district for districts in tree.values() for district in districts]
