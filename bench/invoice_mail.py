"""Benchmark: queueing the emails of an invoice run of 100,000 invoices.

Measures the worker side of a send job (`billing.delivery.queue_job_messages`):
rendering every message with its signed link, writing the outbox rows in bulk
(chunks of 2,000, idempotent on `dedupe_key`) and enqueueing one Huey task per
500 messages — on SQLite with Huey on SQLite, and on PostgreSQL with Huey on
Redis (the at-scale set-up). Then the same job again (a resume after a crash:
nothing new is written, the still-queued messages are handed out again).

Each database is created fresh, migrated with Alembic and dropped afterwards; the
Huey queue is a private one (temporary SQLite file, or a Redis name of its own
whose keys are deleted), so no running worker picks the tasks up. No mail is sent.
`phase_emails` is the same measurement as a phase for bench/invoicing.py (after its
commit phase, on the run it wrote).

    .venv/bin/python bench/invoice_mail.py [--invoices 100000] [--db sqlite|postgresql|both]

Progress goes to stderr; stdout is a table and, as its last line, one JSON object.
`queue_cpu_s` is this process's CPU time for the queueing (all of it on SQLite),
`queue_server_cpu_s` the PostgreSQL server processes' share, and `queue_load` the
machine's load when it ended (`bench/common.py`): wall-clock figures from a busy
machine say little on their own.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa
from common import log, measured, postgresql_database, sqlite_database

GOAL_S = 10.0
CHUNK = 5_000
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"

_VAR = Path(tempfile.mkdtemp(prefix="membook-bench-mail-"))
os.environ.setdefault("VAR_DIR", str(_VAR))
os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-long-enough-for-hs256-0123")
# An SMTP server must be configured for a job to hand out delivery tasks; nothing
# consumes them here, so nothing connects to it.
os.environ["SMTP_HOST"] = "127.0.0.1"
os.environ["SMTP_PORT"] = "2"
os.environ.pop("REDIS_URL", None)

from huey import Huey, RedisHuey, SqliteHuey  # noqa: E402

from membook_app.banking.references import make_national  # noqa: E402
from membook_app.billing import delivery  # noqa: E402
from membook_app.cli.admin import upgrade_database  # noqa: E402
from membook_app.db import get_engine, session_scope  # noqa: E402
from membook_app.jobs import create_job  # noqa: E402
from membook_app.register.organizations import create_organization  # noqa: E402
from membook_app.settings import get_settings  # noqa: E402
from models import Invoice, Job, OutboxMessage, Person, utcnow  # noqa: E402
from tasks import huey as app_huey  # noqa: E402
from tasks.invoice_mail import deliver_invoice_mail_chunk  # noqa: E402


@contextmanager
def huey_queue(kind: str) -> Iterator[Huey]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="membook-bench-huey-") as folder:
            yield SqliteHuey("bench", filename=str(Path(folder) / "huey.db"))
        return
    name = f"membook_bench_{uuid.uuid4().hex[:10]}"
    queue = RedisHuey(name, url=REDIS_URL)
    try:
        yield queue
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"huey.*{name}*"))
        if keys:
            client.delete(*keys)


def seed(url: str, invoices: int) -> int:
    """One club with `invoices` payers, each with an email and one open invoice."""
    with session_scope(url) as s:
        org = create_organization(s, None, name="Benchmark Seura ry", plan_code="premium")
        org_id = org.id
    engine = get_engine(url)
    now = utcnow()
    with engine.begin() as connection:
        for start in range(0, invoices, CHUNK):
            stop = min(start + CHUNK, invoices)
            connection.execute(sa.insert(Person.__table__), [  # type: ignore[arg-type]
                {"id": i + 1, "email": f"maksaja{i}@example.fi", "first_name": "Maija",
                 "last_name": f"Meikäläinen{i}", "country": "FI",
                 "language": "en" if i % 10 == 0 else "fi", "created_at": now,
                 "updated_at": now} for i in range(start, stop)])
            connection.execute(sa.insert(Invoice.__table__), [  # type: ignore[arg-type]
                {"id": i + 1, "organization_id": org_id, "person_id": i + 1, "payer_id": i + 1,
                 "period": "2027", "kind": "invoice", "reference": make_national(10_000 + i),
                 "description": "Jäsenmaksu 2027", "issue_date": date(2026, 12, 1),
                 "due_date": date(2027, 1, 31), "total_cents": 4500, "paid_cents": 0,
                 "credited_cents": 0, "status": "open", "created_at": now}
                for i in range(start, stop)])
        if engine.dialect.name == "postgresql":
            for table in ("person", "invoice"):
                connection.execute(sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {invoices})"))
            connection.execute(sa.text("ANALYZE"))
    return org_id  # type: ignore[return-value]


def measure_queueing(db: str, url: str, job_id: int) -> dict[str, object]:
    """Queue a recorded send job's mail (then the same job again) into a private queue."""
    huey_kind = "sqlite" if db == "sqlite" else "redis"
    with huey_queue(huey_kind) as queue:
        enqueue_seconds = 0.0
        tasks = 0

        def enqueue(ids: list[int]) -> None:
            nonlocal enqueue_seconds, tasks
            t = time.perf_counter()
            # Serialised by the app's queue (which knows the task), stored in ours.
            queue.storage.enqueue(app_huey.serialize_task(
                deliver_invoice_mail_chunk.s(job_id, ids)), None)
            enqueue_seconds += time.perf_counter() - t
            tasks += 1

        log(f"[{db}] queueing (Huey on {huey_kind})")
        with measured(url, "queue") as figures:
            totals = delivery.queue_job_messages(job_id, enqueue)
        queue_seconds = figures["queue_s"]
        pending = queue.pending_count()

        log(f"[{db}] the same job again (resume)")
        first_tasks, tasks, enqueue_again = tasks, 0, enqueue_seconds
        started = time.perf_counter()
        again = delivery.queue_job_messages(job_id, enqueue)
        rerun_seconds = time.perf_counter() - started
    with session_scope(url) as s:
        rows = s.execute(sa.select(sa.func.count()).select_from(OutboxMessage)).scalar_one()
    assert rows == totals["queued"] and again["queued"] == 0, (rows, totals, again)
    return {
        "db": db, "huey": huey_kind, "outbox_rows": rows,
        "without_email": totals["without_email"],
        **figures, "outbox_s": round(queue_seconds - enqueue_again, 2),
        "enqueue_s": round(enqueue_again, 2), "tasks": first_tasks, "tasks_pending": pending,
        "rerun_s": round(rerun_seconds, 2), "rerun_new_rows": again["queued"],
        "under_goal": queue_seconds < GOAL_S,
    }


def phase_emails(ctx: Any) -> dict[str, object]:
    """For bench/invoicing.py's PHASES: queue the email of the run its commit phase made.

    `ctx` is that script's Context (db, url, federation_id, actor, run_id). The worker
    side opens its own sessions from the settings, so they are pointed at `ctx.url`.
    """
    os.environ["DATABASE_URL"] = ctx.url
    get_settings.cache_clear()
    with session_scope(ctx.url) as s:
        job_id = delivery.start_mail_job(s, ctx.actor, ctx.federation_id, ctx.run_id).id
    figures = measure_queueing(ctx.db, ctx.url, job_id)
    return {f"mail_{k}": v for k, v in figures.items() if k != "db"}


def run_case(db: str, url: str, invoices: int) -> dict[str, object]:
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    log(f"[{db}] migrating")
    upgrade_database(url)
    log(f"[{db}] seeding {invoices:,} invoices")
    org_id = seed(url, invoices)
    with session_scope(url) as s:
        job_id = create_job(s, None, delivery.JOB_KIND, organization_id=org_id,
                            params={"run_id": None}).id
    figures = measure_queueing(db, url, job_id)
    with session_scope(url) as s:
        job = s.get(Job, job_id)
        figures["job_progress"] = job.progress if job else None
    return {"invoices": invoices, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN_URL)
    args = parser.parse_args()
    results = []
    if args.db in ("sqlite", "both"):
        with sqlite_database() as url:
            results.append(run_case("sqlite", url, args.invoices))
    if args.db in ("postgresql", "both"):
        with postgresql_database(args.pg_admin_url) as url:
            results.append(run_case("postgresql", url, args.invoices))
    print(f"{'db':<11}{'huey':<8}{'rows':>9}{'queue s':>9}{'cpu s':>7}{'server':>8}"
          f"{'outbox s':>10}{'enqueue s':>11}{'tasks':>7}{'rerun s':>9}{'load':>6}")
    for r in results:
        print(f"{r['db']:<11}{r['huey']:<8}{r['outbox_rows']:>9}{r['queue_s']:>9}"
              f"{r['queue_cpu_s']:>7}{r.get('queue_server_cpu_s', 0):>8}{r['outbox_s']:>10}"
              f"{r['enqueue_s']:>11}{r['tasks']:>7}{r['rerun_s']:>9}{r['queue_load']:>6}")
    print(json.dumps({"bench": "invoice_mail", "goal_queue_s": GOAL_S,
                      "all_under_goal": all(r["under_goal"] for r in results),
                      "results": results}))


if __name__ == "__main__":
    main()
