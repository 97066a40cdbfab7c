"""Sending a run of 10,000 invoices for real, with a crash in the middle and a resume.

The issue asks that a run of 10,000 invoices sends with a progress bar and, after a crash,
resumes without sending anyone the same invoice twice. The test suite proves the protocol
on a dozen messages (tests/db/test_invoice_delivery.py); this script does it at the
issue's size, with nothing simulated but the crash itself:

1. a fresh SQLite database with one club and 10,000 payers, each with one open invoice
   (bench/invoice_mail.py's `seed`), a send job, and its outbox rows
   (`delivery.queue_job_messages`, as the worker does);
2. a real SMTP server (aiosmtpd) on loopback that counts what each recipient receives;
3. a worker process sends the job's chunks (`delivery.deliver_chunk`, the Huey task's
   body) and is killed with SIGKILL once about half of the mail has arrived — wherever
   it is, possibly between the SMTP server's acceptance and the commit of "sent";
4. the resume: a new send job over what is left, and the old job's chunks delivered
   again too (a lost Huey task coming back), in this process.

It then checks that nobody received any message twice, that every message was received
except at most the one the kill interrupted (left "sending" for the operator, never
resent blindly), and that the job's progress (what the progress bar shows) reached 100 %.

    .venv/bin/python bench/invoice_send.py [--invoices 10000]

Progress goes to stderr; the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from threading import Lock
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from common import log, sqlite_database
from invoice_mail import seed  # sets the bench's VAR_DIR and SECRET_KEY first

from membook_app.billing import delivery
from membook_app.cli.admin import upgrade_database
from membook_app.db import session_scope
from membook_app.jobs import create_job
from membook_app.mail.smtp import SmtpConfig
from membook_app.settings import get_settings
from models import Job, OutboxMessage

MAIL_FROM = "laskut@membook.example"
REPO = Path(__file__).resolve().parent.parent

# The worker process: sends every chunk of the job, as the Huey tasks would, until killed.
_WORKER = """
import json, sys
from membook_app.billing import delivery
from membook_app.mail.smtp import SmtpConfig
job_id, port, chunks = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.stdin.read())
config = SmtpConfig(host="127.0.0.1", port=port, mail_from=sys.argv[3], timeout=10)
for chunk in chunks:
    delivery.deliver_chunk(job_id, chunk, config)
"""


class Counting:
    """aiosmtpd handler: how many messages each recipient has received."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self._lock = Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.received.update(envelope.rcpt_tos)
        return "250 OK"

    def total(self) -> int:
        with self._lock:
            return sum(self.received.values())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_job(url: str, org_id: int) -> int:
    with session_scope(url) as s:
        return int(create_job(s, None, delivery.JOB_KIND, organization_id=org_id,
                              params={"run_id": None}).id)  # type: ignore[arg-type]


def run(url: str, invoices: int) -> dict[str, Any]:
    port = free_port()
    os.environ.update({"DATABASE_URL": url, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                       "MAIL_FROM": MAIL_FROM})
    get_settings.cache_clear()
    upgrade_database(url)
    log(f"seeding {invoices:,} payers and invoices")
    org_id = seed(url, invoices)
    handler = Counting()
    server = Controller(handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        job_id = new_job(url, org_id)
        chunks: list[list[int]] = []
        delivery.queue_job_messages(job_id, chunks.append)
        messages = sum(len(c) for c in chunks)
        log(f"{messages:,} messages in {len(chunks)} chunks; the worker starts")
        started = time.perf_counter()
        worker = subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(job_id), str(port), MAIL_FROM],
            stdin=subprocess.PIPE, cwd=REPO, env=dict(os.environ), text=True)
        assert worker.stdin is not None
        worker.stdin.write(json.dumps(chunks))
        worker.stdin.close()
        while handler.total() < messages // 2 and worker.poll() is None:
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        at_crash = handler.total()
        with session_scope(url) as s:
            progress_at_crash = s.get(Job, job_id).progress  # type: ignore[union-attr]
        log(f"killed the worker after {at_crash:,} messages (progress {progress_at_crash} %)")

        resumed = new_job(url, org_id)
        again: list[list[int]] = []
        totals = delivery.queue_job_messages(resumed, again.append)
        for chunk in [*again, *chunks]:  # the new job, and the old job's chunks coming back
            delivery.deliver_chunk(resumed, chunk, SmtpConfig(
                host="127.0.0.1", port=port, mail_from=MAIL_FROM, timeout=10))
        seconds = time.perf_counter() - started
        with session_scope(url) as s:
            progress = s.get(Job, resumed).progress  # type: ignore[union-attr]
            counts = dict(s.execute(sa.select(OutboxMessage.status, sa.func.count())
                                    .group_by(OutboxMessage.status)).all())
    finally:
        server.stop()
    twice = sorted(r for r, n in handler.received.items() if n > 1)
    received = len(handler.received)
    result = {
        "invoices": invoices, "messages": messages, "received_at_crash": at_crash,
        "progress_at_crash": progress_at_crash, "resume_new_rows": totals["queued"],
        "received_distinct": received, "received_twice": len(twice),
        "left_sending": counts.get("sending", 0), "sent": counts.get("sent", 0),
        "progress_after_resume": progress, "seconds": round(seconds, 2),
    }
    result["ok"] = (not twice and totals["queued"] == 0 and progress == 100
                    and result["sent"] + result["left_sending"] == messages
                    and received >= result["sent"] and result["left_sending"] <= 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=10_000)
    args = parser.parse_args()
    with sqlite_database() as url:
        result = run(url, args.invoices)
    for key, value in result.items():
        print(f"{key:<24} {value}")
    print(json.dumps({"bench": "invoice_send", **result}))


if __name__ == "__main__":
    main()
