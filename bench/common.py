"""What the billing benchmarks measure besides wall-clock time, on a shared machine.

Wall-clock seconds on a box where other work runs say little on their own, so every
measured step also reports this process's CPU time, on PostgreSQL the CPU time of the
database's server processes (read from /proc: the server runs on this machine), and
the load average when the step ended.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa


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
