"""Benchmark of every report and the dashboard at 100,000 members and 300,000 payments.

The register comes from `register.py`'s seed (a federation, 4 districts, 20 clubs,
100,000 people with memberships, 8 % resigned); on top of it this writes, in bulk, three
years of invoices (a club line and a district line each, 1 % credited), 300,000 incoming
payments (most booked to an invoice, some partly, some to an invoice already paid — credit
on the payer —, 3 % waiting in the unmatched queue, 0.5 % marked for refund) with their
allocations, and one real settlement run (`settlements.runs.create_run`). Then each
report is run as the page runs it — `run_report` (the SQL aggregates and the pandas
shaping) plus the first page of its detail rows — for the federation's admin (the
escrow report for the operator), and `reports.dashboard.dashboard` for the federation.
Goal from the issue: each report under 1 s, the dashboard under 0.5 s, on each database.

    .venv/bin/python bench/reports.py [--people 100000] [--payments 300000]
                                      [--db sqlite|postgresql|both] [--repeat 3] [--keep]

Seeding takes minutes; with `--keep` the seeded databases are kept (SQLite in
`var/bench/`, PostgreSQL as `membook_bench_reports_<people>_<payments>_<seed>`) and the
next `--keep` run with the same sizes and seed reuses them after migrating them to the
current head, so a new index is measured on the same data. Delete them (or run
without `--keep`) after changing the seed code.

Each case is run once to warm up, then `--repeat` times; the median wall time is the
figure, with this process's CPU time and (PostgreSQL) the server's per run beside it,
since the machine may be shared. Progress goes to stderr; stdout is a table and, as its
last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from common import (
    RunPrices,
    analyze,
    bulk_insert,
    log,
    measured,
    postgresql_database,
    sqlite_database,
)
from register import PG_ADMIN_URL, build_actor, seed
from sqlmodel import col

from membook_app.billing.references import invoice_reference
from membook_app.cli.admin import upgrade_database
from membook_app.db import get_engine, session_scope
from membook_app.reports.registry import SYSTEM, Filters, all_reports, detail_page, run_report
from membook_app.settlements.runs import create_run
from models import Allocation, Invoice, InvoiceLine, Membership, Organization, Payment, utcnow

GOAL_REPORT_S = 1.0
GOAL_DASHBOARD_S = 0.5
TODAY = date(2026, 11, 27)
PERIODS = {"2025": date(2025, 3, 31), "2026": date(2026, 3, 31), "2027": date(2027, 1, 31)}
KEPT = Path(__file__).resolve().parent.parent / "var" / "bench"
ADMIN_EMAIL = "bench.admin@membook.example"   # register.py's seed


@contextmanager
def kept_database(db: str, admin_url: str, key: str) -> Iterator[tuple[str, bool]]:
    """A database that outlives the run, named by `key`, and whether it was there already
    (a seeded one is only kept when the seed finished: its money rows exist)."""
    if db == "sqlite":
        KEPT.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{KEPT / f'reports_{key}.db'}"
    else:
        name = f"membook_bench_reports_{key}"
        with psycopg.connect(admin_url, autocommit=True) as connection:
            if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                      (name,)).fetchone():
                connection.execute(f"CREATE DATABASE {name}")
        url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    seeded = False
    try:
        with get_engine(url).connect() as connection:
            seeded = bool(connection.execute(sa.text("SELECT 1 FROM allocation LIMIT 1")).first())
    except sa.exc.DBAPIError:
        pass
    try:
        yield url, seeded
    finally:
        get_engine(url).dispose()


def seed_money(url: str, payments: int, rng: random.Random) -> None:
    """Invoices for three periods per membership, payments and allocations, in bulk."""
    now = utcnow()
    with session_scope(url) as session:
        parents = dict(session.execute(sa.select(Organization.id, Organization.parent_id)).all())
        members = session.execute(sa.select(Membership.id, Membership.person_id,
                                            Membership.organization_id)).all()
    invoices, lines, open_ids = [], [], []
    line_sets: dict[int, tuple[tuple[int, str, int], ...]] = {}
    payer: dict[int, int] = {}
    invoice_id = 0
    with session_scope(url) as session:
        federation = next(o for o, parent in parents.items() if parent is None)
        for period, due in PERIODS.items():
            prices = RunPrices(session, federation, period, due - timedelta(days=30), due)
            for membership_id, person_id, club in members:
                invoice_id += 1
                line_sets[invoice_id] = ((club, "Seura", rng.choice((2000, 2500, 3000))),
                                         (parents[club], "Piiri", 1000))
                invoices.append({
                    "id": invoice_id, "organization_id": club, "person_id": person_id,
                    "payer_id": person_id, "membership_id": membership_id, "period": period,
                    "kind": "invoice", "reference": invoice_reference(invoice_id),
                    "run_id": prices.run_id,
                    "run_price_id": prices.price(club, line_sets[invoice_id]),
                    "description": f"Jäsenmaksu {period}",
                    "issue_date": due - timedelta(days=30), "due_date": due,
                    "total_cents": sum(c for _, _, c in line_sets[invoice_id]),
                    "paid_cents": 0, "credited_cents": 0, "status": "open", "created_at": now})
                payer[invoice_id] = person_id
                open_ids.append(invoice_id)
    rng.shuffle(open_ids)
    by_id = {row["id"]: row for row in invoices}
    credit_notes = []
    for original in open_ids[:len(open_ids) // 100]:          # 1 % credited in full
        row = by_id[original]
        invoice_id += 1
        credit_notes.append({**row, "id": invoice_id, "kind": "credit_note",
                             "credited_invoice_id": original, "membership_id": None,
                             "reference": invoice_reference(invoice_id),
                             "total_cents": -row["total_cents"], "status": "credited"})
        lines += [{"invoice_id": invoice_id, "organization_id": org,
                   "description": f"Hyvitys: {text}", "amount_cents": -cents, "kind": "credit",
                   "position": position}
                  for position, (org, text, cents) in enumerate(line_sets[original])]
        row["credited_cents"], row["status"] = row["total_cents"], "credited"
    payable = open_ids[len(open_ids) // 100:]
    pays, allocations = [], []
    allocation_id = 0
    day0 = date(2025, 1, 2)
    for n in range(1, payments + 1):
        roll = rng.random()
        booked = day0 + timedelta(days=rng.randrange((TODAY - day0).days))
        payment = {"id": n, "source": "bank", "source_id": f"A{n:015d}", "booking_date": booked,
                   "amount_cents": 0, "currency": "EUR", "reference": None,
                   "national_reference": None, "status": "matched", "match_rule": "reference",
                   "created_at": now}
        pays.append(payment)
        if roll < 0.035:
            payment.update(amount_cents=rng.choice((1500, 3000, 4000)),
                           status="unmatched" if roll < 0.03 else "refund",
                           match_rule="no_reference" if roll < 0.03 else "manual_refund")
            continue
        target = payable[(n - 1) % len(payable)]
        row = by_id[target]
        payment["national_reference"] = payment["reference"] = row["reference"]
        rest = row["total_cents"] - row["paid_cents"]
        cents = rest if rng.random() > 0.1 else max(1, rest // 2)
        if rest <= 0:                                          # paid already: payer credit
            cents = row["total_cents"]
            payment.update(amount_cents=cents, status="credit")
            allocation_id += 1
            allocations.append({"id": allocation_id, "payment_id": n, "invoice_id": None,
                                "person_id": payer[target], "amount_cents": cents,
                                "kind": "credit", "rule": "paid_invoice", "created_at": now})
            continue
        payment["amount_cents"] = cents
        allocation_id += 1
        allocations.append({"id": allocation_id, "payment_id": n, "invoice_id": target,
                            "person_id": None, "amount_cents": cents, "kind": "invoice",
                            "rule": "reference", "created_at": now})
        row["paid_cents"] += cents
        row["status"] = "paid" if row["paid_cents"] >= row["total_cents"] else "partly_paid"
    for row in invoices:
        if row["status"] in ("open", "partly_paid") and row["due_date"] < TODAY:
            row["status"] = "overdue"
    with session_scope(url) as session:
        for table, rows in ((Invoice.__table__, invoices), (Invoice.__table__, credit_notes),
                            (InvoiceLine.__table__, lines), (Payment.__table__, pays),
                            (Allocation.__table__, allocations)):
            bulk_insert(session, table, rows)  # type: ignore[arg-type]
        if session.get_bind().dialect.name == "postgresql":
            for table in ("invoice", "payment", "allocation"):
                session.execute(sa.text(
                    f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
    with session_scope(url) as session:
        create_run(session, None)
    analyze(url)


def timed(url: str, call: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """Median wall seconds of `repeat` calls after one warm-up, and CPU per call."""
    call()
    samples = []
    with measured(url, "all") as figures:
        for _ in range(repeat):
            started = time.perf_counter()
            call()
            samples.append(time.perf_counter() - started)
    out = {"median_s": round(statistics.median(samples), 3),
           "cpu_s": round(figures["all_cpu_s"] / repeat, 3)}
    if "all_server_cpu_s" in figures:
        out["server_cpu_s"] = round(figures["all_server_cpu_s"] / repeat, 3)
    out["load"] = figures["all_load"]
    return out


def run(db: str, url: str, people: int, payments: int, repeat: int,
        rng: random.Random, reuse: bool = False) -> list[dict[str, Any]]:
    """Migrate, seed (unless `reuse`: seeded by an earlier run) and time every report and
    the dashboard on one database."""
    upgrade_database(url)
    if reuse:
        log(f"[{db}] reusing the kept database; analysing")
        analyze(url)
    else:
        log(f"[{db}] seeding {people:,} people …")
        started = time.perf_counter()
        seed(url, people, rng)
        log(f"[{db}] seeding invoices and {payments:,} payments …")
        seed_money(url, payments, rng)
        log(f"[{db}] seeded in {time.perf_counter() - started:.0f} s; measuring")
    with session_scope(url) as session:
        federation = session.execute(sa.select(Organization.id).where(
            col(Organization.parent_id).is_(None))).scalar_one()
    admin = build_actor(url, ADMIN_EMAIL)
    results = []
    for report in all_reports():
        actor = SYSTEM if report.operator_only else admin
        filters = Filters(federation, date_from=date(2026, 1, 1)
                          if report.name == "membership-changes" else None, today=TODAY)

        def page(name: str = report.name, who: Any = actor, chosen: Filters = filters) -> None:
            with session_scope(url) as session:
                run_report(session, who, name, chosen)
                detail_page(session, who, name, chosen, limit=50)

        figures = timed(url, page, repeat)
        results.append({"db": db, "case": report.name, "goal_s": GOAL_REPORT_S, **figures})
        log(f"[{db}] {report.name}: {figures}")
    try:
        from membook_app.reports.dashboard import dashboard
    except ImportError:
        log(f"[{db}] no dashboard module; dashboard not measured")
        return results

    def board() -> None:
        with session_scope(url) as session:
            dashboard(session, admin, federation, TODAY)

    figures = timed(url, board, repeat)
    results.append({"db": db, "case": "dashboard", "goal_s": GOAL_DASHBOARD_S, **figures})
    log(f"[{db}] dashboard: {figures}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--payments", type=int, default=300_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    parser.add_argument("--keep", action="store_true",
                        help="keep the seeded databases and reuse them on the next run")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for db in ("sqlite", "postgresql"):
        if args.db not in (db, "both"):
            continue
        rng = random.Random(args.seed)
        if args.keep:
            key = f"{args.people}_{args.payments}_{args.seed}"
            with kept_database(db, args.pg_admin_url, key) as (url, seeded):
                results += run(db, url, args.people, args.payments, args.repeat, rng, seeded)
            continue
        database = sqlite_database() if db == "sqlite" else postgresql_database(args.pg_admin_url)
        with database as url:
            results += run(db, url, args.people, args.payments, args.repeat, rng)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"load average {load} on {os.cpu_count()} CPUs")
    print(f"{'db':<11} {'case':<20} {'median s':>9} {'cpu s':>7} {'server cpu s':>13} "
          f"{'goal s':>7}")
    for r in results:
        flag = "" if r["median_s"] < r["goal_s"] else "  > goal"
        print(f"{r['db']:<11} {r['case']:<20} {r['median_s']:>9.3f} {r['cpu_s']:>7.3f} "
              f"{r.get('server_cpu_s', ''):>13} {r['goal_s']:>7.1f}{flag}")
    print(json.dumps({"benchmark": "reports", "people": args.people, "payments": args.payments,
                      "results": results,
                      "all_under_goal": all(r["median_s"] < r["goal_s"] for r in results)}))


if __name__ == "__main__":
    main()
