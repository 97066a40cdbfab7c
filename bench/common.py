"""What every benchmark shares: throw-away databases, bulk seeding, and what is measured
besides wall-clock time on a shared machine.

Wall-clock seconds on a box where other work runs say little on their own, so every
measured step also reports this process's CPU time, on PostgreSQL the CPU time of the
database's server processes (read from /proc: the server runs on this machine), and
the load average when the step ended.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.orm import Session

from membook_app.db import get_engine
from models import InvoiceRun, MembershipType, RunPrice, RunPriceLine

CHUNK = 10_000


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the table plus the final JSON line."""
    print(message, file=sys.stderr, flush=True)


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A SQLite file in a temporary folder that disappears with it."""
    with tempfile.TemporaryDirectory(prefix="membook-bench-") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        try:
            yield url
        finally:
            get_engine(url).dispose()


@contextmanager
def postgresql_database(admin_url: str) -> Iterator[str]:
    """A new PostgreSQL database, dropped WITH (FORCE) even when the run fails."""
    name = f"membook_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {name}")
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def bulk_insert(target: Session | sa.Connection, table: sa.Table,
                rows: list[dict[str, Any]]) -> None:
    """COPY on PostgreSQL (an INSERT per row batch is several times slower there),
    chunked multi-row INSERTs on SQLite; the ORM one object at a time would take minutes."""
    connection = target.connection() if isinstance(target, Session) else target
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), CHUNK):
            connection.execute(sa.insert(table), rows[start:start + CHUNK])
        return
    columns = list(rows[0])
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


class RunPrices:
    """Seeded invoices' lines as an invoice run writes them: each distinct set of a
    club's lines once, as a run price (`models.RunPrice`) that the invoices name.

    `price(club, lines)` returns the price id of these (organisation, description,
    cents) lines, writing the price (and a membership type of its own, which the
    price's key needs) the first time."""

    def __init__(self, session: Session, organization_id: int, period: str,
                 issue_date: date, due_date: date) -> None:
        self.session = session
        run = InvoiceRun(organization_id=organization_id, period=period,
                         issue_date=issue_date, due_date=due_date)
        session.add(run)
        session.flush()
        self.run_id: int = run.id  # type: ignore[assignment]
        self.ids: dict[tuple[int, tuple[tuple[int, str, int], ...]], int] = {}

    def price(self, club: int, lines: tuple[tuple[int, str, int], ...]) -> int:
        key = (club, lines)
        if key not in self.ids:
            kind = MembershipType(organization_id=club, name=f"Bench {self.run_id}-{len(self.ids)}")
            self.session.add(kind)
            self.session.flush()
            price = RunPrice(run_id=self.run_id, organization_id=club, membership_type_id=kind.id,
                             total_cents=sum(cents for _, _, cents in lines))
            self.session.add(price)
            self.session.flush()
            self.session.add_all([
                RunPriceLine(run_price_id=price.id, organization_id=org, description=text,
                             amount_cents=cents, position=position)
                for position, (org, text, cents) in enumerate(lines)])
            self.ids[key] = price.id  # type: ignore[assignment]
        return self.ids[key]


def analyze(url: str) -> None:
    """Fresh planner statistics, as a production database has them.

    On PostgreSQL this is VACUUM ANALYZE: autovacuum would soon do the same, and
    without it the visibility map is empty and index-only scans look worse than
    they will be in production. VACUUM cannot run in a transaction, hence autocommit.
    """
    engine = get_engine(url)
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")


def _backend_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 when it is gone or unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu(url: str) -> dict[int, float]:
    """CPU seconds so far of each server process connected to the database of `url`."""
    if not url.startswith("postgresql"):
        return {}
    plain = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain, autocommit=True) as connection:
        pids = [r[0] for r in connection.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    return {pid: _backend_cpu(pid) for pid in pids}


@contextmanager
def measured(url: str, prefix: str) -> Iterator[dict[str, Any]]:
    """Fill the yielded dict, when the block ends, with `<prefix>_s` (wall), `<prefix>_cpu_s`
    (this process), on PostgreSQL `<prefix>_server_cpu_s`, and `<prefix>_load`.

    Server processes that connect during the block count from zero, so a pool that
    opens a connection mid-way is measured whole.
    """
    figures: dict[str, Any] = {}
    before = server_cpu(url)
    wall, cpu = time.perf_counter(), time.process_time()
    yield figures
    figures[f"{prefix}_s"] = round(time.perf_counter() - wall, 3)
    figures[f"{prefix}_cpu_s"] = round(time.process_time() - cpu, 3)
    if url.startswith("postgresql"):
        after = server_cpu(url)
        figures[f"{prefix}_server_cpu_s"] = round(
            sum(after[p] - before.get(p, 0.0) for p in after), 2)
    figures[f"{prefix}_load"] = round(os.getloadavg()[0], 2)
