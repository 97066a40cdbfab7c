"""Benchmark of the admin register table on a realistic federation (100,000 people).

The issue's goal is a p95 under 50 ms per request on both SQLite and PostgreSQL,
so this measures the real service function `register_page` (the handler's
whole data path: permission check, subtree lookup, count and page) with a new
session per request, exactly as a handler opens one. Each database is created
fresh, migrated with Alembic like production and dropped afterwards, so runs
never depend on, or leave behind, local state.

    .venv/bin/python bench/register.py [--people 100000] [--db sqlite|postgresql|both]
                                       [--repeat 30]

Progress goes to stderr; stdout is a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from common import analyze, bulk_insert, log, postgresql_database, sqlite_database
from faker import Faker

from membook_app.accounts.permissions import Actor, load_actor
from membook_app.accounts.users import get_or_create_user, grant_role
from membook_app.cli.admin import upgrade_database
from membook_app.db import session_scope
from membook_app.demo.seed import TYPE_WEIGHTS, TYPES
from membook_app.register.organizations import create_organization
from membook_app.register.search import RegisterQuery, register_page
from models import Membership, MembershipType, Person, User, utcnow

GOAL_P95_MS = 50.0
WARMUP = 2
DISTRICTS = 4
CLUBS_PER_DISTRICT = 5
RESIGNED_SHARE = 0.08
NAME_POOL = 2_000  # Faker draws per pool; fi_FI yields ~360 distinct first and ~380 surnames
FIRST_NAME_PART = "matt"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
ASCII = str.maketrans({"ä": "a", "ö": "o", "å": "a", "é": "e", "ü": "u", " ": "", "-": ""})


@dataclass(frozen=True)
class Seeded:
    """What the cases need to know about the seeded data."""

    federation_id: int
    club_id: int
    club_type_id: int
    common_surname: str
    email_fragment: str
    admin_email: str


@dataclass(frozen=True)
class Result:
    db: str
    case: str
    median_ms: float
    p95_ms: float
    rows: int
    total: int


def name_pools(rng: random.Random) -> tuple[list[str], list[str], list[str]]:
    """Pools of Finnish first names, surnames and cities; per-row Faker calls would
    dominate the seeding time, and combining pools still gives realistic collisions."""
    fake = Faker("fi_FI")
    fake.seed_instance(rng.randrange(2**32))
    firsts = sorted({fake.first_name() for _ in range(NAME_POOL)})
    lasts = sorted({fake.last_name() for _ in range(NAME_POOL)})
    cities = sorted({fake.city() for _ in range(200)})
    return firsts, lasts, cities


def seed(url: str, people: int, rng: random.Random) -> Seeded:
    """Organisation tree, admin, people and memberships, written with bulk inserts."""
    with session_scope(url) as session:
        federation = create_organization(session, None, name="Suomen Benchmarkliitto ry",
                                         plan_code="premium")
        clubs: list[int] = []
        for d in range(1, DISTRICTS + 1):
            district = create_organization(session, None, name=f"Piiri {d} ry",
                                           parent_id=federation.id, plan_code="premium")
            for c in range(1, CLUBS_PER_DISTRICT + 1):
                club = create_organization(session, None, name=f"Seura {d}.{c} ry",
                                           parent_id=district.id, plan_code="premium")
                clubs.append(club.id)  # type: ignore[arg-type]
        session.execute(sa.insert(MembershipType), [
            {"organization_id": club, "name": name, "category": category,
             "household_priced": household, "active": True}
            for club in clubs for name, category, household in TYPES])
        type_rows = session.execute(
            sa.select(MembershipType.organization_id, MembershipType.id)
            .order_by(MembershipType.id)).all()
        types: dict[int, list[int]] = {}
        for org_id, type_id in type_rows:
            types.setdefault(org_id, []).append(type_id)
        admin_email = "bench.admin@membook.example"
        admin = get_or_create_user(session, None, admin_email, display_name="Bench Admin")
        grant_role(session, None, admin, federation.id, "admin")  # type: ignore[arg-type]
        federation_id: int = federation.id  # type: ignore[assignment]

    firsts, lasts, cities = name_pools(rng)
    now = utcnow()
    emails: set[str] = set()
    surnames: Counter[str] = Counter()
    person_rows = []
    for _ in range(people):
        first, last = rng.choice(firsts), rng.choice(lasts)
        surnames[last] += 1
        base = f"{first}.{last}".lower().translate(ASCII)
        email = f"{base}{rng.randint(1, 999)}@example.fi"
        while email in emails:
            email = f"{base}{rng.randint(1, 99_999)}@example.fi"
        emails.add(email)
        person_rows.append({
            "email": email, "first_name": first, "last_name": last,
            "street_address": f"{rng.choice(lasts)}ntie {rng.randint(1, 120)}",
            "postal_code": f"{rng.randint(0, 99_999):05d}", "city": rng.choice(cities),
            "country": "FI", "phone": f"+35840{rng.randint(1_000_000, 9_999_999)}",
            "birth_date": date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 80)),
            "language": "sv" if rng.random() < 0.05 else "fi",
            "created_at": now, "updated_at": now,
        })

    with session_scope(url) as session:
        bulk_insert(session, Person.__table__, person_rows)  # type: ignore[attr-defined]
        person_ids = list(session.execute(sa.select(Person.id).order_by(Person.id)).scalars())
        numbers = dict.fromkeys(clubs, 0)
        membership_rows = []
        for person_id in person_ids:
            club = rng.choice(clubs)
            numbers[club] += 1
            started = date(2000, 1, 1) + timedelta(days=rng.randint(0, 365 * 26))
            resigned = rng.random() < RESIGNED_SHARE
            membership_rows.append({
                "person_id": person_id, "organization_id": club, "member_number": numbers[club],
                "type_id": rng.choices(types[club], weights=TYPE_WEIGHTS)[0],
                "start_date": started, "status": "resigned" if resigned else "active",
                "end_date": started + timedelta(days=rng.randint(30, 3000)) if resigned else None,
                "created_at": now,
            })
        bulk_insert(session, Membership.__table__, membership_rows)  # type: ignore[attr-defined]

    analyze(url)
    sample = person_rows[people // 2]["email"]
    return Seeded(
        federation_id=federation_id, club_id=clubs[0], club_type_id=types[clubs[0]][0],
        common_surname=surnames.most_common(1)[0][0],
        email_fragment=sample.split("@")[0][:12], admin_email=admin_email,
    )


def build_actor(url: str, email: str) -> Actor:
    """The admin's Actor, loaded the way a request loads it."""
    with session_scope(url) as session:
        user = session.execute(sa.select(User).where(User.email == email)).scalar_one()
        return load_actor(session, user)


def cases(seeded: Seeded, people: int) -> dict[str, RegisterQuery]:
    """The requests the issue names; the last page's number is an upper bound
    that `register_page` clamps, so it is always the real last page."""
    fed = seeded.federation_id
    return {
        "federation_first_page": RegisterQuery(organization_id=fed),
        "surname_search": RegisterQuery(organization_id=fed, search=seeded.common_surname),
        "first_name_part": RegisterQuery(organization_id=fed, search=FIRST_NAME_PART),
        "club_type_filter": RegisterQuery(organization_id=seeded.club_id,
                                          include_suborganizations=False,
                                          type_id=seeded.club_type_id, status="active"),
        "email_search": RegisterQuery(organization_id=fed, search=seeded.email_fragment),
        "federation_last_page": RegisterQuery(organization_id=fed, page=people),
    }


def p95(samples: list[float]) -> float:
    """Nearest-rank 95th percentile: a sample that was really observed."""
    ordered = sorted(samples)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def measure(db: str, url: str, actor: Actor, name: str, query: RegisterQuery,
            repeat: int) -> Result:
    """Time `register_page` with a new session per call, after warm-up calls."""
    samples: list[float] = []
    rows = total = 0
    for i in range(WARMUP + repeat):
        started = time.perf_counter()
        with session_scope(url) as session:
            page = register_page(session, actor, query)
        elapsed = (time.perf_counter() - started) * 1000
        if i >= WARMUP:
            samples.append(elapsed)
        rows, total = len(page.rows), page.total
    return Result(db, name, statistics.median(samples), p95(samples), rows, total)


def run(db: str, url: str, people: int, repeat: int, rng: random.Random) -> list[Result]:
    """Migrate, seed and measure one database."""
    log(f"[{db}] migrating")
    upgrade_database(url)
    log(f"[{db}] seeding {people} people")
    started = time.perf_counter()
    seeded = seed(url, people, rng)
    log(f"[{db}] seeded in {time.perf_counter() - started:.1f} s; measuring")
    actor = build_actor(url, seeded.admin_email)
    results = []
    for name, query in cases(seeded, people).items():
        result = measure(db, url, actor, name, query, repeat)
        log(f"[{db}] {name}: median {result.median_ms:.1f} ms, p95 {result.p95_ms:.1f} ms")
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2026, help="Random seed for the data.")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL,
                        help="PostgreSQL database to connect to for CREATE/DROP DATABASE.")
    args = parser.parse_args()

    results: list[Result] = []
    for db in ("sqlite", "postgresql"):
        if args.db not in (db, "both"):
            continue
        rng = random.Random(args.seed)
        database = sqlite_database() if db == "sqlite" else postgresql_database(args.pg_admin_url)
        with database as url:
            results += run(db, url, args.people, args.repeat, rng)

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs (timings are wall-clock)")
    print(f"{'db':<11} {'case':<22} {'median ms':>10} {'p95 ms':>8} {'rows':>5} {'total':>7}")
    for r in results:
        flag = "" if r.p95_ms < GOAL_P95_MS else "  > goal"
        print(f"{r.db:<11} {r.case:<22} {r.median_ms:>10.1f} {r.p95_ms:>8.1f} {r.rows:>5} "
              f"{r.total:>7}{flag}")
    print(json.dumps({
        "benchmark": "register",
        "people": args.people,
        "results": [{"db": r.db, "case": r.case, "median_ms": round(r.median_ms, 2),
                     "p95_ms": round(r.p95_ms, 2), "rows": r.rows, "total": r.total}
                    for r in results],
        "goal_p95_ms": GOAL_P95_MS,
        "all_under_goal": all(r.p95_ms < GOAL_P95_MS for r in results),
    }))


if __name__ == "__main__":
    main()
