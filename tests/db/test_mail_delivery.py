"""Outbox delivery over real SMTP (aiosmtpd on 127.0.0.1), and through the real worker.

The worker test runs `membook worker` as a subprocess on the real Redis with
a queue name of its own (HUEY_NAME), enqueues `tasks.mail.deliver_outbox`
from this process into that queue and waits for the SMTP server to get it.
"""

from __future__ import annotations

import email
import email.policy
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from huey import RedisHuey
from huey.exceptions import ResultTimeout
from sqlmodel import Session, select

from membook_app.db import get_engine, session_scope
from membook_app.mail.outbox import MAX_ATTEMPTS, deliver_pending, queue_message
from membook_app.mail.smtp import SmtpConfig
from models import OutboxMessage

REDIS_URL = "redis://127.0.0.1:6379/0"
REPO_ROOT = Path(__file__).resolve().parents[2]
MAIL_FROM = "Membook <noreply@membook.invalid>"
SUBJECT = "Jäsenmaksu 2027 – Äänekosken Öljyäijät ry"
TEXT = "Hei Åsa,\n\njäsenmaksusi on 25,00 €. Kiitos!\n"
HTML = "<p>Hei Åsa,</p><p>jäsenmaksusi on <b>25,00 €</b>. Kiitos!</p>"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """Collects every accepted message; refuses recipients listed in `refuse`."""

    refuse: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001,ANN201,N802
        if address.lower() in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001,ANN201,N802
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed))
        self.arrived.set()
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    """A real SMTP server on a free local port."""
    handler = Handler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


def _config(port: int) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, mail_from=MAIL_FROM, timeout=10)


def _factory(url: str):  # noqa: ANN202
    engine = get_engine(url)
    return lambda: Session(engine, expire_on_commit=False)


def _queue(url: str, to: str, subject: str = SUBJECT, html: str | None = HTML) -> int:
    with session_scope(url) as s:
        return queue_message(s, to=to, subject=subject, text=TEXT, html=html,  # type: ignore[return-value]
                             kind="test").id


def _rows(url: str) -> dict[int, OutboxMessage]:
    with session_scope(url) as s:
        return {m.id: m for m in s.exec(select(OutboxMessage))}  # type: ignore[misc]


def test_queued_message_is_delivered_with_its_headers_and_parts(
        db_url: str, smtp: tuple[Handler, int]) -> None:
    handler, port = smtp
    message_id = _queue(db_url, "aino.aijala@example.fi")
    counts = deliver_pending(_factory(db_url), _config(port))
    assert counts == {"sent": 1, "failed": 0, "retry": 0}

    [got] = handler.received
    assert got.rcpt_tos == ["aino.aijala@example.fi"]
    assert got.mail_from == "noreply@membook.invalid"
    msg = got.message
    assert msg["To"] == "aino.aijala@example.fi"
    assert msg["From"] == MAIL_FROM
    assert msg["Subject"] == SUBJECT  # Finnish letters and the dash survive the encoding
    assert msg["X-Membook-Message-Id"] == str(message_id)
    # Text and HTML are alternatives of each other (inside emails' mixed/related wrapper).
    [alternative] = [p for p in msg.walk() if p.get_content_type() == "multipart/alternative"]
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Message-ID"].endswith("@membook.invalid>")  # big providers refuse mail without
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == TEXT  # type: ignore[union-attr]
    assert msg.get_body(("html",)).get_content().strip() == HTML  # type: ignore[union-attr]

    row = _rows(db_url)[message_id]
    assert row.status == "sent" and row.attempts == 1 and row.last_error is None
    assert row.sent_at is not None and row.sent_at >= row.created_at
    assert row.claimed_at is not None and row.created_at <= row.claimed_at <= row.sent_at

    # Sent mail is not sent again; a text-only message has no HTML part.
    _queue(db_url, "plain@example.fi", subject="Pelkkä teksti", html=None)
    assert deliver_pending(_factory(db_url), _config(port)) == {"sent": 1, "failed": 0, "retry": 0}
    assert [r.rcpt_tos for r in handler.received] == [["aino.aijala@example.fi"],
                                                      ["plain@example.fi"]]
    plain = handler.received[1].message
    assert plain["Subject"] == "Pelkkä teksti"
    assert plain.get_body(("html",)) is None
    assert "25,00 €" in plain.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_without_smtp_or_server_mail_stays_queued(db_url: str,
                                                  smtp: tuple[Handler, int]) -> None:
    handler, _port = smtp
    message_id = _queue(db_url, "jono@example.fi")
    assert deliver_pending(_factory(db_url), None) == {"sent": 0, "failed": 0, "retry": 0}
    row = _rows(db_url)[message_id]
    assert (row.status, row.attempts, row.sent_at, row.last_error) == ("queued", 0, None, None)
    assert handler.received == []

    # A configured server that does not answer: a retry later, not a lost message.
    counts = deliver_pending(_factory(db_url), _config(_free_port()))
    assert counts == {"sent": 0, "failed": 0, "retry": 1}
    row = _rows(db_url)[message_id]
    assert row.status == "queued" and row.attempts == 1 and row.last_error


def test_refused_recipient_is_retried_then_failed(db_url: str, smtp: tuple[Handler, int]) -> None:
    handler, port = smtp
    handler.refuse = {"nobody@example.fi"}
    bad = _queue(db_url, "nobody@example.fi")
    good = _queue(db_url, "somebody@example.fi")

    counts = deliver_pending(_factory(db_url), _config(port))
    assert counts == {"sent": 1, "failed": 0, "retry": 1}  # one refusal does not stop the rest
    rows = _rows(db_url)
    assert rows[good].status == "sent"
    assert rows[bad].status == "queued" and rows[bad].attempts == 1 and rows[bad].sent_at is None
    assert "550" in (rows[bad].last_error or "")
    assert [r.rcpt_tos for r in handler.received] == [["somebody@example.fi"]]

    for attempt in range(2, MAX_ATTEMPTS + 1):
        counts = deliver_pending(_factory(db_url), _config(port))
        expected = "failed" if attempt == MAX_ATTEMPTS else "retry"
        assert counts[expected] == 1, (attempt, counts)
    row = _rows(db_url)[bad]
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS)
    assert "550" in (row.last_error or "")
    # A failed message is left alone from then on.
    assert deliver_pending(_factory(db_url), _config(port)) == {"sent": 0, "failed": 0, "retry": 0}
    assert _rows(db_url)[bad].attempts == MAX_ATTEMPTS


def test_concurrent_deliveries_send_each_message_once(db_url: str,
                                                      smtp: tuple[Handler, int]) -> None:
    """Several workers draining the same outbox: every message goes out exactly once."""
    handler, port = smtp
    count = 40
    with session_scope(db_url) as s:
        for i in range(count):
            queue_message(s, to=f"m{i}@example.fi", subject=f"Viesti {i}", text="x")
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def drain() -> None:
        try:
            results.append(deliver_pending(_factory(db_url), _config(port)))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=drain) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    recipients = sorted(r.rcpt_tos[0] for r in handler.received)
    assert recipients == sorted(f"m{i}@example.fi" for i in range(count))  # no duplicates
    assert sum(r["sent"] for r in results) == count
    rows = _rows(db_url)
    assert {(m.status, m.attempts) for m in rows.values()} == {("sent", 1)}


# --- through the real worker --------------------------------------------------------------


@pytest.fixture
def huey_name() -> Iterator[str]:
    """A queue of our own on the shared Redis; its keys are removed afterwards."""
    name = f"membook_test_{uuid.uuid4().hex[:10]}"  # only [A-Za-z0-9_]: huey keeps it as is
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    leftovers = list(client.scan_iter(match=f"huey.*{name}*"))
    if leftovers:
        client.delete(*leftovers)


def test_worker_delivers_through_redis(db_url: str, smtp: tuple[Handler, int],
                                       huey_name: str, tmp_path: Path) -> None:
    from tasks import huey as local_huey
    from tasks.mail import deliver_outbox

    handler, port = smtp
    message_id = _queue(db_url, "worker@example.fi")
    # The same task message the web process enqueues after committing mail, put into the
    # worker's queue before it starts: with one worker thread it runs before the periodic
    # safety net (also queued at start-up), so this task is the one that sends.
    queue = RedisHuey(huey_name, url=REDIS_URL)
    task = deliver_outbox.s()
    queue.storage.enqueue(local_huey.serialize_task(task), None)
    assert queue.pending_count() == 1

    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": REDIS_URL, "HUEY_NAME": huey_name,
           "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "MAIL_FROM": MAIL_FROM}
    log_path = tmp_path / "worker.log"
    membook = Path(sys.executable).parent / "membook"
    with log_path.open("w") as log:
        worker = subprocess.Popen([str(membook), "worker", "--workers", "1"], cwd=REPO_ROOT,
                                  env=env, stdout=log, stderr=subprocess.STDOUT,
                                  start_new_session=True)
        try:
            try:
                result = queue.result(task.id, blocking=True, timeout=30)
            except ResultTimeout:
                pytest.fail(f"the worker did not run the task in 30 s:\n{log_path.read_text()}")
            assert handler.arrived.wait(5), log_path.read_text()
            assert worker.poll() is None, log_path.read_text()
        finally:
            os.killpg(worker.pid, signal.SIGINT)  # the consumer's graceful stop
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=5)
    assert result == {"sent": 1, "failed": 0, "retry": 0}, log_path.read_text()
    [got] = handler.received
    assert got.rcpt_tos == ["worker@example.fi"]
    assert got.message["Subject"] == SUBJECT
    row = _rows(db_url)[message_id]
    assert row.status == "sent" and row.sent_at is not None
    assert queue.pending_count() == 0
    assert "tasks.mail.deliver_outbox" in log_path.read_text()  # the worker says what it runs
