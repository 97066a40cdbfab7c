"""Benchmark of a settlement run over 300,000 member payments.

A federation with 10 districts and 100 clubs (three plans, three fees); every invoice has
a club, a district and a federation line (of a run price, as an invoice run writes them);
the payments are a mix of exact, partial (split with rounding) and reversed ones. The
seed writes the rows in bulk (the matching code has its own benchmark, bank_import.py);
what is measured is the settlement code exactly as the CLI runs it:

* `compute_shares` (the dry run / dashboard estimate),
* `create_run` (split, fees, settlements, every line: one transaction),
* `approve_run` (pain.001 for 111 transfers, XSD-validated),
* the next week's `compute_shares` and `create_run` with 1,000 new payments, where the
  300,000 settled allocations must be skipped by the anti-join.

    .venv/bin/python bench/settlements.py [--payments 300000] [--db sqlite|postgresql|both]

Progress goes to stderr; stdout is a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from bank_import import PG_ADMIN_URL
from common import (
    RunPrices,
    analyze,
    bulk_insert,
    log,
    measured,
    postgresql_database,
    sqlite_database,
)

from membook_app.cli.admin import upgrade_database
from membook_app.db import session_scope
from membook_app.register.organizations import create_organization
from membook_app.register.plans import ensure_plans
from membook_app.settlements.runs import approve_run, compute_shares, create_run
from models import Allocation, Invoice, Payment, Person, SettlementLine, utcnow

IBANS = ("FI5542345670000081", "FI4950009420028730", "FI7944052020036082")
TODAY = date(2026, 11, 27)


def seed(url: str, payments: int, rng: random.Random, first_id: int = 1,
         orgs: dict[str, Any] | None = None) -> dict[str, Any]:
    """`payments` invoices, each paid once (10 % partly, 1 % reversed afterwards)."""
    if orgs is None:
        upgrade_database(url)
        with session_scope(url) as session:
            ensure_plans(session)
            fed = create_organization(session, None, name="Liitto ry", plan_code="premium",
                                      iban=IBANS[0])
            districts = [create_organization(session, None, name=f"Piiri {d} ry",
                                             parent_id=fed.id, plan_code="basic",
                                             iban=IBANS[1]) for d in range(10)]
            clubs = [(create_organization(session, None, name=f"Seura {d}-{c} ry",
                                          parent_id=dist.id, plan_code="basic_mini",
                                          iban=IBANS[2]).id, dist.id)
                     for d, dist in enumerate(districts) for c in range(10)]
            now = utcnow()
            session.add(Person(first_name="Maksaja", last_name="Bench", country="FI",
                               language="fi", created_at=now, updated_at=now))
            session.flush()
            person = session.exec(sa.select(Person.id)).first()[0]  # type: ignore[call-overload,index]
        orgs = {"federation": fed.id, "clubs": clubs, "person": person}
    now = utcnow()
    invoices, pays, allocations = [], [], []
    allocation_id = first_id * 2
    with session_scope(url) as session:
        prices = RunPrices(session, orgs["federation"], "2027", TODAY - timedelta(30), TODAY)
        for n in range(first_id, first_id + payments):
            club, district = rng.choice(orgs["clubs"])
            parts = (rng.choice((2000, 2500, 3000)), rng.choice((700, 1000)), 500)
            total = sum(parts)
            price = prices.price(club, tuple(zip(
                (club, district, orgs["federation"]), ("Seura", "Piiri", "Liitto"), parts,
                strict=True)))
            invoices.append({"id": n, "organization_id": club, "person_id": orgs["person"],
                             "payer_id": orgs["person"], "kind": "invoice",
                             "reference": str(n), "description": "Jäsenmaksu",
                             "run_id": prices.run_id, "run_price_id": price,
                             "issue_date": TODAY - timedelta(30), "due_date": TODAY,
                             "total_cents": total, "paid_cents": total, "credited_cents": 0,
                             "status": "paid", "created_at": now})
            cents = total if rng.random() > 0.1 else rng.randint(1, total)
            pays.append({"id": n, "source": "bench", "source_id": f"P{n}",
                         "booking_date": TODAY, "amount_cents": cents, "currency": "EUR",
                         "status": "matched", "created_at": now})
            allocations.append({"id": allocation_id, "payment_id": n, "invoice_id": n,
                                "amount_cents": cents, "kind": "invoice", "created_at": now})
            if rng.random() < 0.01:
                allocations.append({"id": allocation_id + 1, "payment_id": n, "invoice_id": n,
                                    "amount_cents": -cents, "kind": "reversal",
                                    "reverses_allocation_id": allocation_id,
                                    "created_at": now})
            allocation_id += 2
    with session_scope(url) as session:
        connection = session.connection()
        bulk_insert(connection, Invoice.__table__, invoices)  # type: ignore[arg-type]
        bulk_insert(connection, Payment.__table__, pays)  # type: ignore[arg-type]
        plain = [a for a in allocations if "reverses_allocation_id" not in a]
        bulk_insert(connection, Allocation.__table__, plain)  # type: ignore[arg-type]
        reversals = [a for a in allocations if "reverses_allocation_id" in a]
        if reversals:
            bulk_insert(connection, Allocation.__table__, reversals)  # type: ignore[arg-type]
    analyze(url)
    return orgs


def run(db: str, url: str, payments: int) -> dict[str, Any]:
    rng = random.Random(2026)
    log(f"{db}: seeding {payments:,} paid invoices …")
    orgs = seed(url, payments, rng)
    figures: dict[str, Any] = {"db": db, "payments": payments}
    with measured(url, "compute_shares") as m, session_scope(url) as session:
        shares = compute_shares(session, utcnow())
    figures.update(m)
    log(f"{db}: compute_shares {m['compute_shares_s']} s for {len(shares)} organisations")
    with measured(url, "create_run") as m, session_scope(url) as session:
        run_id = create_run(session, None).id
    figures.update(m)
    with session_scope(url) as session:
        figures["lines"] = session.exec(sa.select(sa.func.count()).select_from(
            SettlementLine)).one()[0]  # type: ignore[call-overload,index]
    log(f"{db}: create_run {m['create_run_s']} s, {figures['lines']:,} lines")
    with measured(url, "approve_run") as m, session_scope(url) as session:
        xml = approve_run(session, None, run_id)  # type: ignore[arg-type]
    figures.update(m)
    figures["payout_file_bytes"] = len(xml)
    log(f"{db}: approve_run {m['approve_run_s']} s ({len(xml):,} bytes)")
    seed(url, 1000, rng, first_id=payments + 1, orgs=orgs)
    with measured(url, "next_week_compute") as m, session_scope(url) as session:
        compute_shares(session, utcnow())
    figures.update(m)
    with measured(url, "next_week_create") as m, session_scope(url) as session:
        create_run(session, None)
    figures.update(m)
    log(f"{db}: next week (1,000 new payments): compute {figures['next_week_compute_s']} s, "
        f"create {m['next_week_create_s']} s")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args()
    results = []
    for db in ("sqlite", "postgresql"):
        if args.db not in (db, "both"):
            continue
        database = sqlite_database() if db == "sqlite" else postgresql_database(args.pg_admin_url)
        with database as url:
            results.append(run(db, url, args.payments))
    keys = ("compute_shares_s", "create_run_s", "approve_run_s", "next_week_compute_s",
            "next_week_create_s")
    print(f"{'db':<11} {'payments':>9} {'lines':>9} " + " ".join(f"{k[:-2]:>18}" for k in keys))
    for r in results:
        print(f"{r['db']:<11} {r['payments']:>9} {r['lines']:>9} "
              + " ".join(f"{r[k]:>18.2f}" for k in keys))
    print(json.dumps({"benchmark": "settlements", "results": results}))


if __name__ == "__main__":
    main()
