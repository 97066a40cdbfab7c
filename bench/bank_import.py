"""Benchmark of the bank import: 100,000 payments against 100,000 open invoices.

For KTL and camt.054, on a fresh SQLite file and a fresh PostgreSQL database each
(migrated with Alembic, dropped afterwards, also on failure), it measures the bare parse
time and the whole `import_bank_file` — parse, de-duplication, bulk insert, set-based
matching, allocations, invoice status refresh and the commit — exactly as the upload
page, the CLI and the daily inbox task run it. Goal from the issue: parse + import +
match under 5 s for KTL and under 8 s for camt.054, on each database.

The generated payments are a realistic mix: most pay exactly, some pay part or too much
(credit on the payer), some pay an invoice twice, some carry an RF reference, some a
reference nobody issued or one with a wrong check digit (the unmatched queue).

    .venv/bin/python bench/bank_import.py [--payments 100000] [--db sqlite|postgresql|both]
                                          [--format ktl|camt054|both]

Each figure carries its wall time, the CPU time of this process, on PostgreSQL the CPU time
of the server processes and the 1-minute load average before and after (`bench/common.py`):
on a shared machine wall time alone misleads.
Progress goes to stderr; stdout is a table and, as its last line, one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from common import analyze, bulk_insert, log, measured, postgresql_database, sqlite_database

from membook_app.banking.references import make_national, national_to_rf
from membook_app.banking.statement import parse_bank_file
from membook_app.billing.references import invoice_reference
from membook_app.cli.admin import upgrade_database
from membook_app.db import session_scope
from membook_app.demo.bank_files import BankLine, ktl_file
from membook_app.payments.bank_import import import_bank_file
from membook_app.register.organizations import create_organization
from membook_app.register.plans import ensure_plans
from models import Invoice, Person, utcnow

GOALS_S = {"ktl": 5.0, "camt054": 8.0}
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
PEOPLE = 2_000
BOOKED = date(2026, 11, 26)
TODAY = date(2026, 11, 27)
CREATED = datetime(2026, 11, 27, 6, 15)
ESCROW_ACCOUNT = "12345600000785"  # FI2112345600000785 without FI21


@dataclass(frozen=True)
class Result:
    db: str
    format: str
    payments: int
    parse_s: float
    parse_cpu_s: float
    import_s: float
    import_cpu_s: float
    server_cpu_s: float | None
    refresh_s: float
    matched: int
    unmatched: int
    load: str

    @property
    def goal_s(self) -> float:
        return GOALS_S[self.format]


def seed(url: str, invoices: int, rng: random.Random) -> list[tuple[str, int]]:
    """Clubs, payers and `invoices` open invoices; returns (reference, total) per invoice."""
    upgrade_database(url)
    with session_scope(url) as session:
        ensure_plans(session)
        federation = create_organization(session, None, name="Benchmarkliitto ry",
                                         plan_code="premium")
        clubs = [create_organization(session, None, name=f"Seura {i} ry",
                                     parent_id=federation.id, plan_code="premium").id
                 for i in range(10)]
        now = utcnow()
        connection = session.connection()
        bulk_insert(connection, Person.__table__, [  # type: ignore[arg-type]
            {"first_name": f"Etu{i}", "last_name": f"Suku{i}", "country": "FI",
             "language": "fi", "created_at": now, "updated_at": now} for i in range(PEOPLE)])
        people = list(connection.execute(sa.select(Person.id)).scalars())
        refs: list[tuple[str, int]] = []
        rows = []
        for invoice_id in range(1, invoices + 1):
            total = rng.choice((2500, 3500, 4000, 5000, 12050))
            person = rng.choice(people)
            reference = invoice_reference(invoice_id)
            refs.append((reference, total))
            rows.append({"id": invoice_id, "organization_id": rng.choice(clubs),
                         "person_id": person, "payer_id": person, "kind": "invoice",
                         "reference": reference, "description": "Jäsenmaksu 2027",
                         "issue_date": TODAY - timedelta(days=30),
                         "due_date": TODAY + timedelta(days=30), "total_cents": total,
                         "paid_cents": 0, "credited_cents": 0, "status": "open",
                         "created_at": now})
        bulk_insert(connection, Invoice.__table__, rows)  # type: ignore[arg-type]
        if connection.dialect.name == "postgresql":
            connection.exec_driver_sql(
                "SELECT setval('invoice_id_seq', (SELECT max(id) FROM invoice))")
    analyze(url)
    return refs


def generate_payments(refs: list[tuple[str, int]], count: int,
                      rng: random.Random) -> list[BankLine]:
    """The payment mix described in the module docstring."""
    out = []
    for i in range(count):
        reference, total = refs[i % len(refs)]
        roll = rng.random()
        cents = total
        if roll < 0.05:
            cents = total // 2                           # partly paid
        elif roll < 0.08:
            cents = total + 1000                         # over-payment → credit
        elif roll < 0.10:
            reference = make_national(str(900_000_000 + i))  # nobody issued it
        elif roll < 0.11:
            reference = reference[:-1] + str((int(reference[-1]) + 1) % 10)  # check digit off
        elif roll < 0.16:
            reference = national_to_rf(reference)        # RF form
        if i >= len(refs):
            cents = total                                # second round: paid twice → credit
        out.append(BankLine(f"{2611260000000000 + i:016d}"[:16], reference, cents,
                            f"SUKU{i % PEOPLE} ETU", BOOKED))
    return out


def camt054_file(payments: list[BankLine]) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>'
             '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">'
             "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>BENCH-1</MsgId>"
             "<CreDtTm>2026-11-27T06:15:00</CreDtTm></GrpHdr><Ntfctn><Id>BENCH-N1</Id>"
             "<CreDtTm>2026-11-27T06:15:00</CreDtTm><Acct><Id><IBAN>FI2112345600000785</IBAN>"
             "</Id><Ccy>EUR</Ccy></Acct>"]
    for p in payments:
        amount = f"{p.cents // 100}.{p.cents % 100:02d}"
        archive = "2026" + p.archive_id
        parts.append(
            f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            "<BookgDt><Dt>2026-11-26</Dt></BookgDt><ValDt><Dt>2026-11-26</Dt></ValDt>"
            f"<AcctSvcrRef>{archive}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly>"
            "<Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn><Prtry><Cd>705</Cd>"
            "<Issr>FFFS</Issr></Prtry></BkTxCd><NtryDtls><TxDtls><Refs>"
            f"<AcctSvcrRef>{archive}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
            f'<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
            f"<RltdPties><Dbtr><Nm>{p.payer.title()}</Nm></Dbtr></RltdPties><RmtInf><Strd>"
            "<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
            f"<Ref>{p.reference}</Ref></CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls></Ntry>")
    parts.append("</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>")
    return "".join(parts).encode()


@contextmanager
def timed_refresh() -> Iterator[list[float]]:
    """Time `billing.status.refresh_invoices` inside the import (it belongs to billing and
    is reported apart so the import's own share is visible); the real function runs."""
    import membook_app.payments.matching as matching

    original = matching.refresh_invoices
    spent: list[float] = []

    def timed(*args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        try:
            original(*args, **kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    matching.refresh_invoices = timed  # type: ignore[assignment]
    try:
        yield spent
    finally:
        matching.refresh_invoices = original


def run(db: str, fmt: str, url: str, count: int, seed_value: int) -> Result:
    rng = random.Random(seed_value)
    log(f"{db}/{fmt}: seeding {count:,} open invoices …")
    refs = seed(url, count, rng)
    payments = generate_payments(refs, count, rng)
    data = (ktl_file(payments, account=ESCROW_ACCOUNT, created=CREATED) if fmt == "ktl"
            else camt054_file(payments))
    log(f"{db}/{fmt}: file {len(data) / 1e6:.1f} MB; parsing …")
    with measured(url, "parse") as parse:
        parsed = parse_bank_file(data, f"bench.{fmt}")
    assert len(parsed.payments) == count
    del parsed
    log(f"{db}/{fmt}: parse {parse['parse_s']:.2f} s (CPU {parse['parse_cpu_s']:.2f} s); "
        "importing …")
    load_before = round(os.getloadavg()[0], 2)
    with timed_refresh() as refresh:
        with measured(url, "import") as figures:
            with session_scope(url) as session:
                result = import_bank_file(session, None, data, f"bench.{fmt}", source="bench",
                                          today=TODAY)
    load = f"{load_before} -> {figures['import_load']}"
    server_cpu_s = figures.get("import_server_cpu_s")
    log(f"{db}/{fmt}: parse + import + match {figures['import_s']:.2f} s, CPU "
        f"{figures['import_cpu_s']:.2f} s + server {server_cpu_s or 0:.2f} s (refresh_invoices "
        f"{sum(refresh):.2f} s), load {load} — {result.summary()}")
    return Result(db, fmt, count, parse["parse_s"], parse["parse_cpu_s"], figures["import_s"],
                  figures["import_cpu_s"], server_cpu_s, sum(refresh), result.matched_count,
                  result.unmatched_count, load)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--format", choices=("ktl", "camt054", "both"), default="both")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args()

    results: list[Result] = []
    for db in ("sqlite", "postgresql"):
        if args.db not in (db, "both"):
            continue
        for fmt in ("ktl", "camt054"):
            if args.format not in (fmt, "both"):
                continue
            database = (sqlite_database() if db == "sqlite"
                        else postgresql_database(args.pg_admin_url))
            with database as url:
                results.append(run(db, fmt, url, args.payments, args.seed))

    print(f"{'db':<11} {'format':<8} {'payments':>9} {'parse s':>8} {'import s':>9} "
          f"{'CPU s':>6} {'srv CPU':>7} {'refresh s':>9} {'goal s':>7} {'matched':>8} "
          f"{'unmatched':>9}  load")
    for r in results:
        flag = "" if r.import_s < r.goal_s else "  > goal"
        server = "" if r.server_cpu_s is None else f"{r.server_cpu_s:.2f}"
        print(f"{r.db:<11} {r.format:<8} {r.payments:>9} {r.parse_s:>8.2f} {r.import_s:>9.2f} "
              f"{r.import_cpu_s:>6.2f} {server:>7} {r.refresh_s:>9.2f} {r.goal_s:>7.1f} "
              f"{r.matched:>8} {r.unmatched:>9}  {r.load}{flag}")
    print(json.dumps({
        "benchmark": "bank_import",
        "payments": args.payments,
        "results": [{"db": r.db, "format": r.format, "payments": r.payments,
                     "parse_s": round(r.parse_s, 3), "parse_cpu_s": round(r.parse_cpu_s, 3),
                     "parse_import_match_s": round(r.import_s, 3),
                     "parse_import_match_cpu_s": round(r.import_cpu_s, 3),
                     "server_cpu_s": (None if r.server_cpu_s is None
                                      else round(r.server_cpu_s, 3)),
                     "of_which_refresh_invoices_s": round(r.refresh_s, 3),
                     "loadavg": r.load,
                     "goal_s": r.goal_s, "matched": r.matched, "unmatched": r.unmatched}
                    for r in results],
        "all_under_goal": all(r.import_s < r.goal_s for r in results),
    }))


if __name__ == "__main__":
    main()
