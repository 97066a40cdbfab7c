"""Benchmark of an invoice run for 100,000 members: preview and commit, SQLite and PostgreSQL.

The issue's goals: the commit under 5 s and the preview under 3 s on each
database. A federation of 1 + 4 districts + 20 clubs with 5 membership types
each; clubs price their types, districts and the federation charge per
category, so an invoice carries about three lines. A few percent of people
are paid for by a household payer, a few have no email. Each database is
created fresh, migrated with Alembic and dropped afterwards.

    .venv/bin/python bench/invoicing.py [--people N] [--db sqlite|postgresql|both] [--no-emails]

Phases run in order per database (`PHASES`, then queueing the run's email,
bench/invoice_mail.py's `phase_emails`, unless `--no-emails`): the issue asks for the
run and its 100,000 emails. Each figure comes with this
process's CPU time, on PostgreSQL the server processes' CPU time, and the load
average (`bench/common.py`). Progress goes to stderr; stdout is a table and, as
its LAST line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from common import (
    analyze,
    bulk_insert,
    log,
    measured,
    postgresql_database,
    sqlite_database,
)

from membook_app.accounts.permissions import Actor, load_actor
from membook_app.accounts.users import get_or_create_user, grant_role
from membook_app.billing.runs import commit_run, preview_run
from membook_app.cli.admin import upgrade_database
from membook_app.db import session_scope
from membook_app.register.organizations import create_organization
from membook_app.register.plans import ensure_plans
from models import Fee, Membership, MembershipType, Person, User, utcnow

GOAL_COMMIT_S = 5.0
GOAL_PREVIEW_S = 3.0
DISTRICTS = 4
CLUBS_PER_DISTRICT = 5
TYPES = (("Varsinainen jäsen", "varsinainen", False, 3500, 70),
         ("Nuorisojäsen", "nuoriso", False, 1500, 15),
         ("Kannatusjäsen", "kannatus", False, 2000, 7),
         ("Perhejäsen", "perhe", True, 5000, 7),
         ("Kunniajäsen", "kunnia", False, 0, 1))
DISTRICT_FEES = {"varsinainen": 1000, "nuoriso": 500, "kannatus": 500, "perhe": 1500}
FEDERATION_FEES = {"varsinainen": 800, "nuoriso": 400, "kannatus": 300, "perhe": 1200}
HOUSEHOLD_SHARE = 0.03
NO_EMAIL_SHARE = 0.03
PERIOD = "2027"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


@dataclass
class Context:
    """What the phases share for one database."""

    db: str
    url: str
    people: int
    federation_id: int
    actor: Actor
    figures: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None


def seed(db: str, url: str, people: int, rng: random.Random) -> Context:
    """Tree, types, fees, admin, then people and memberships with bulk inserts."""
    with session_scope(url) as session:
        ensure_plans(session)
        fed = create_organization(session, None, name="Suomen Benchmarkliitto ry",
                                  plan_code="premium")
        clubs: list[int] = []
        fees: list[dict[str, Any]] = [
            {"organization_id": fed.id, "period": PERIOD, "category": c, "amount_cents": a}
            for c, a in FEDERATION_FEES.items()]
        for d in range(1, DISTRICTS + 1):
            district = create_organization(session, None, name=f"Piiri {d} ry",
                                           parent_id=fed.id, plan_code="premium")
            fees += [{"organization_id": district.id, "period": PERIOD, "category": c,
                      "amount_cents": a} for c, a in DISTRICT_FEES.items()]
            for c in range(1, CLUBS_PER_DISTRICT + 1):
                club = create_organization(session, None, name=f"Seura {d}.{c} ry",
                                           parent_id=district.id, plan_code="premium")
                clubs.append(club.id)  # type: ignore[arg-type]
        session.execute(sa.insert(MembershipType), [
            {"organization_id": club, "name": name, "category": category,
             "household_priced": household, "active": True}
            for club in clubs for name, category, household, _, _ in TYPES])
        types: dict[int, list[tuple[int, str]]] = {}
        for org_id, type_id, name in session.execute(
                sa.select(MembershipType.organization_id, MembershipType.id,
                          MembershipType.name).order_by(MembershipType.id)).all():
            types.setdefault(org_id, []).append((type_id, name))
        price = {name: cents for name, _, _, cents, _ in TYPES}
        fees += [{"organization_id": club, "period": PERIOD, "membership_type_id": tid,
                  "amount_cents": price[name] + 100 * (club % 5)}
                 for club in clubs for tid, name in types[club]]
        session.execute(sa.insert(Fee), [{"category": None, "membership_type_id": None,
                                          "created_at": utcnow(), **f} for f in fees])
        admin = get_or_create_user(session, None, "bench.treasurer@membook.example")
        grant_role(session, None, admin, fed.id, "treasurer")  # type: ignore[arg-type]
        federation_id: int = fed.id  # type: ignore[assignment]

    now = utcnow()
    weights = [w for *_, w in TYPES]
    with session_scope(url) as session:
        bulk_insert(session, Person.__table__, [  # type: ignore[attr-defined]
            {"email": None if rng.random() < NO_EMAIL_SHARE else f"p{i}@example.fi",
             "first_name": f"Etu{i % 997}", "last_name": f"Suku{i % 1999}", "country": "FI",
             "language": "fi", "created_at": now, "updated_at": now}
            for i in range(people)])
        person_ids = list(session.execute(sa.select(Person.id).order_by(Person.id)).scalars())
        # Households: some people are paid for by the person just before them.
        payers = [{"b_id": pid, "b_payer": person_ids[i - 1]}
                  for i, pid in enumerate(person_ids)
                  if i and rng.random() < HOUSEHOLD_SHARE]
        if payers:
            session.execute(sa.update(Person.__table__)  # type: ignore[arg-type]
                            .where(Person.__table__.c.id == sa.bindparam("b_id"))  # type: ignore[attr-defined]
                            .values(payer_id=sa.bindparam("b_payer")), payers)
        numbers = dict.fromkeys(clubs, 0)
        rows = []
        for pid in person_ids:
            club = rng.choice(clubs)
            numbers[club] += 1
            rows.append({"person_id": pid, "organization_id": club,
                         "member_number": numbers[club],
                         "type_id": rng.choices(types[club], weights=weights)[0][0],
                         "start_date": date(2000, 1, 1) + timedelta(days=rng.randint(0, 9000)),
                         "status": "active", "created_at": now})
        bulk_insert(session, Membership.__table__, rows)  # type: ignore[attr-defined]
    analyze(url)
    with session_scope(url) as session:
        user = session.execute(sa.select(User).where(
            User.email == "bench.treasurer@membook.example")).scalar_one()
        actor = load_actor(session, user)
    return Context(db, url, people, federation_id, actor)


ISSUE, DUE = date(2027, 1, 2), date(2027, 1, 31)


def phase_preview(ctx: Context) -> dict[str, Any]:
    with measured(ctx.url, "preview") as figures, session_scope(ctx.url) as session:
        pv = preview_run(session, ctx.actor, ctx.federation_id, True, PERIOD, ISSUE, DUE)
    return {**figures, "invoices": pv.invoice_count, "lines": pv.line_count,
            "total_cents": pv.total_cents,
            "skipped": {g.reason: g.count for g in pv.skipped}, "paper": pv.paper.count}


def phase_commit(ctx: Context) -> dict[str, Any]:
    """The commit (its transaction's COMMIT included), then the same run again."""
    with measured(ctx.url, "commit") as figures, session_scope(ctx.url) as session:
        result = commit_run(session, ctx.actor, ctx.federation_id, True, PERIOD, ISSUE, DUE)
    ctx.run_id = result.run_id
    with measured(ctx.url, "repeat_commit") as again_figures, \
            session_scope(ctx.url) as session:
        again = commit_run(session, ctx.actor, ctx.federation_id, True, PERIOD, ISSUE, DUE)
    return {**figures, "created": result.created, "repeat_commit_s": again_figures[
        "repeat_commit_s"], "repeat_created": again.created}


# Add a phase here as `name: function(ctx) -> figures` (the email phase is added in main).
PHASES: dict[str, Callable[[Context], dict[str, Any]]] = {
    "preview": phase_preview,
    "commit": phase_commit,
}


def run(db: str, url: str, people: int, rng: random.Random,
        phases: list[str]) -> dict[str, Any]:
    log(f"[{db}] migrating")
    upgrade_database(url)
    log(f"[{db}] seeding {people} people")
    started = time.perf_counter()
    ctx = seed(db, url, people, rng)
    log(f"[{db}] seeded in {time.perf_counter() - started:.1f} s")
    figures: dict[str, Any] = {"db": db}
    for name in phases:
        figures.update(PHASES[name](ctx))
        log(f"[{db}] {name}: {json.dumps(figures)}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--seed", type=int, default=2027)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--no-emails", action="store_true",
                        help="skip queueing the run's email (bench/invoice_mail.py's phase)")
    args = parser.parse_args()
    phases = list(PHASES)
    if not args.no_emails:
        # Imported only here: that module points the mail settings at a dummy server.
        from invoice_mail import phase_emails

        PHASES["emails"] = phase_emails
        phases.append("emails")

    results = []
    for db in ("sqlite", "postgresql"):
        if args.db not in (db, "both"):
            continue
        database = sqlite_database() if db == "sqlite" else postgresql_database(args.pg_admin_url)
        with database as url:
            results.append(run(db, url, args.people, random.Random(args.seed), phases))

    print(f"{'db':<11} {'invoices':>9} {'lines':>8} {'preview s':>10} {'cpu':>6} {'server':>7} "
          f"{'commit s':>9} {'cpu':>6} {'server':>7} {'repeat s':>9} {'load':>5}")
    for r in results:
        print(f"{r['db']:<11} {r['invoices']:>9} {r['lines']:>8} {r['preview_s']:>10.2f} "
              f"{r['preview_cpu_s']:>6.2f} {r.get('preview_server_cpu_s', 0):>7.2f} "
              f"{r['commit_s']:>9.2f} {r['commit_cpu_s']:>6.2f} "
              f"{r.get('commit_server_cpu_s', 0):>7.2f} {r['repeat_commit_s']:>9.2f} "
              f"{r['commit_load']:>5.2f}")
    ok = all(r["preview_s"] < GOAL_PREVIEW_S and r["commit_s"] < GOAL_COMMIT_S
             and r["repeat_created"] == 0 for r in results)
    print(json.dumps({"benchmark": "invoicing", "people": args.people, "results": results,
                      "cpus": os.cpu_count(),
                      "load_average": [round(x, 2) for x in os.getloadavg()],
                      "goal_preview_s": GOAL_PREVIEW_S, "goal_commit_s": GOAL_COMMIT_S,
                      "all_under_goal": ok}))


if __name__ == "__main__":
    main()
