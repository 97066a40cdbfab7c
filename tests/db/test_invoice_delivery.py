"""Invoice email through the outbox and a real SMTP server (aiosmtpd on loopback).

Checks the received messages (headers, text, HTML), that each message's link opens
that invoice on the public page, the job's progress, idempotent queueing, and that a
crashed send resumes without mailing anyone the same invoice twice.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from html import escape
from string import Template

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select
from starlette.testclient import TestClient

from membook_app.accounts.permissions import Actor, load_actor
from membook_app.accounts.users import get_or_create_user, grant_role
from membook_app.api import api
from membook_app.billing import delivery
from membook_app.billing.invoice_view import printed_reference
from membook_app.db import get_engine, session_scope
from membook_app.errors import PermissionDenied, ValidationError
from membook_app.formatting import fi_date, money
from membook_app.mail.outbox import MAX_ATTEMPTS, deliver_pending
from membook_app.mail.smtp import SmtpConfig, send_one
from membook_app.mail.templates import TEMPLATE_DIR, render
from membook_app.settings import get_settings
from models import Invoice, Job, OutboxMessage, utcnow
from tests.db.test_invoice_page import make_invoice
from tests.factories import make_member, make_tree

MAIL_FROM = "Membook <noreply@membook.invalid>"


@dataclass
class Inbox:
    """The SMTP server's side: every accepted message; `refuse` gets a 550."""

    refuse: set[str] = field(default_factory=set)
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001,ANN201,N802
        if address.lower() in self.refuse:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001,ANN201,N802
        parsed = email.message_from_bytes(envelope.original_content or envelope.content,
                                          policy=email.policy.default)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        return sorted(r for rcpts, _ in self.received for r in rcpts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Inbox, SmtpConfig]]:
    """A real SMTP server on a free port, and the settings pointing at it."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(port))
    monkeypatch.setenv("MAIL_FROM", MAIL_FROM)
    get_settings.cache_clear()
    yield inbox, SmtpConfig(host="127.0.0.1", port=port, mail_from=MAIL_FROM, timeout=10)
    controller.stop()
    get_settings.cache_clear()


def actor_for(url: str, email_: str, org_id: int, role: str) -> Actor:
    with session_scope(url) as s:
        user = get_or_create_user(s, None, email_)
        grant_role(s, None, user, org_id, role)
        s.flush()
        return load_actor(s, user)


@dataclass
class World:
    url: str
    org: int
    treasurer: Actor
    invoices: dict[str, int]  # payer email (or name) → invoice id


def _world(url: str, payers: int, *, no_email: bool = True, english: bool = True) -> World:
    tree = make_tree(url)
    invoices = {}
    for i in range(payers):
        address = f"maksaja{i}@example.fi"
        language = "en" if english and i == 1 else "fi"
        person = make_member(url, tree.club_a, tree.type_a, f"Maksaja{i}", "Äijälä", address,
                             language=language)
        invoices[address] = make_invoice(url, tree.club_a, person, [
            (tree.club_a, "Jäsenmaksu", 2000 + i), (tree.district, "Piirin osuus", 500)])
    if no_email:
        paper = make_member(url, tree.club_a, tree.type_a, "Paperi", "Posti", None)
        invoices["paper"] = make_invoice(url, tree.club_a, paper, [(tree.club_a, "Maksu", 900)])
    treasurer = actor_for(url, "rahastonhoitaja@example.fi", tree.club_a, "treasurer")
    return World(url, tree.club_a, treasurer, invoices)


def _start(world: World) -> int:
    with session_scope(world.url) as s:
        return delivery.start_mail_job(s, world.treasurer, world.org).id  # type: ignore[return-value]


def _job(url: str, job_id: int) -> Job:
    with session_scope(url) as s:
        return s.get(Job, job_id)  # type: ignore[return-value]


def _outbox(url: str) -> dict[str, OutboxMessage]:
    with session_scope(url) as s:
        return {m.dedupe_key: m for m in s.exec(select(OutboxMessage))}  # type: ignore[misc]


def test_each_payer_gets_one_message_whose_link_opens_their_invoice(
        db_url: str, smtp: tuple[Inbox, SmtpConfig]) -> None:
    inbox, config = smtp
    world = _world(db_url, 3)
    with session_scope(db_url) as s:
        preview = delivery.preview_mail(s, world.treasurer, world.org)
    assert (preview.to_send, preview.without_email, preview.already_sent) == (3, 1, 0)

    job_id = _start(world)
    chunks: list[list[int]] = []
    totals = delivery.queue_job_messages(job_id, chunks.append)
    assert totals == {"queued": 3, "existing": 0, "without_email": 1}
    assert _job(db_url, job_id).progress == 10
    for chunk in chunks:
        delivery.deliver_chunk(job_id, chunk, config)

    assert inbox.recipients() == ["maksaja0@example.fi", "maksaja1@example.fi",
                                  "maksaja2@example.fi"]
    job = _job(db_url, job_id)
    assert (job.status, job.progress) == ("done", 100)
    assert job.result == {"sent": 3, "failed": 0, "queued": 0, "sending": 0}

    client = TestClient(api)
    for rcpts, msg in inbox.received:
        [address] = rcpts
        with session_scope(db_url) as s:
            invoice = s.get(Invoice, world.invoices[address])
            reference, total = printed_reference(invoice.reference), invoice.total_cents
        assert msg["To"] == address and msg["From"] == MAIL_FROM
        assert msg["Message-ID"]
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        english = address == "maksaja1@example.fi"
        assert msg["Subject"] == ("Invoice: " if english else "Lasku: ") + \
            "Jäsenmaksu 2027 – Seura A ry"
        assert ("Hello" if english else "Hei") + f" Maksaja{address[7]} Äijälä" in text
        euros = f"{total // 100},{total % 100:02d}\xa0€"
        assert euros in text and reference in text and "FI21 1234 5600 0007 85" in text
        [link] = re.findall(r"http://127\.0\.0\.1:3999/i/[A-Za-z0-9_.-]+(?<!\.pdf)$", text, re.M)
        assert f'href="{link}"' in html and f'href="{link}.pdf"' in html
        assert not any(p.get_content_disposition() == "attachment" for p in msg.walk())
        page = client.get(link.removeprefix("http://127.0.0.1:3999"))
        assert page.status_code == 200
        assert f'id="reference">{reference}<' in page.text
        assert f'id="total">{euros}<' in page.text

    rows = _outbox(db_url)
    assert set(rows) == {f"invoice:{world.invoices[a]}:initial" for a in inbox.recipients()}
    assert {(m.status, m.attempts, m.kind) for m in rows.values()} == {("sent", 1, "invoice")}

    # Sending again: nothing left to send, and re-running the old job queues nothing.
    with session_scope(db_url) as s, pytest.raises(ValidationError):
        delivery.start_mail_job(s, world.treasurer, world.org)
    again: list[list[int]] = []
    assert delivery.queue_job_messages(job_id, again.append)["queued"] == 0
    assert again == []
    assert len(inbox.received) == 3


def test_crash_resume_sends_nobody_the_same_invoice_twice(
        db_url: str, smtp: tuple[Inbox, SmtpConfig]) -> None:
    inbox, config = smtp
    world = _world(db_url, 12, no_email=False, english=False)
    job_id = _start(world)
    chunks: list[list[int]] = []
    delivery.queue_job_messages(job_id, chunks.append)
    [ids] = chunks
    # The worker sent five, then crashed while sending the sixth: the SMTP server had
    # accepted it, but "sent" was never committed (claim committed, row left 'sending').
    delivery.deliver_messages(ids[:5], config)
    with session_scope(db_url) as s:
        assert delivery._claim(s, ids[5])
        send_one(config, s.get(OutboxMessage, ids[5]))
    assert len(inbox.received) == 6

    # Resume: the treasurer sends again (a new job over what is left) ...
    resumed = _start(world)
    rechunks: list[list[int]] = []
    totals = delivery.queue_job_messages(resumed, rechunks.append)
    assert totals["queued"] == 0 and totals["existing"] == 6
    # ... while the old job's lost chunk task also comes back: both deliver.
    for chunk in [*rechunks, ids]:
        delivery.deliver_chunk(resumed, chunk, config)
    deliver_pending(lambda: Session(get_engine(db_url), expire_on_commit=False), config)  # sweep

    assert inbox.recipients() == sorted(world.invoices)  # each payer exactly once
    rows = _outbox(db_url)
    crashed = next(m for m in rows.values() if m.id == ids[5])
    assert (crashed.status, crashed.attempts) == ("sending", 1)  # left for the operator
    assert delivery.mail_counts(resumed)["sent"] == 6
    assert _job(db_url, resumed).status == "done"


def test_progress_follows_the_messages_sent(db_url: str,
                                           smtp: tuple[Inbox, SmtpConfig]) -> None:
    """The bar moves with every chunk: 10 % once queued, then by the share tried."""
    inbox, config = smtp
    world = _world(db_url, 12, no_email=False, english=False)
    job_id = _start(world)
    chunks: list[list[int]] = []
    delivery.queue_job_messages(job_id, chunks.append)
    [ids] = chunks
    assert _job(db_url, job_id).progress == 10
    delivery.deliver_chunk(job_id, ids[:3], config)
    assert _job(db_url, job_id).progress == 10 + 90 * 3 // 12
    delivery.deliver_chunk(job_id, ids[3:9], config)
    assert _job(db_url, job_id).progress == 10 + 90 * 9 // 12
    delivery.deliver_chunk(job_id, ids[9:], config)
    job = _job(db_url, job_id)
    assert (job.status, job.progress, len(inbox.received)) == ("done", 100, 12)


def test_refused_recipient_is_retried_and_then_failed_with_the_reason(
        db_url: str, smtp: tuple[Inbox, SmtpConfig]) -> None:
    inbox, config = smtp
    inbox.refuse = {"maksaja0@example.fi"}
    world = _world(db_url, 2, no_email=False)
    job_id = _start(world)
    chunks: list[list[int]] = []
    delivery.queue_job_messages(job_id, chunks.append)
    for chunk in chunks:
        assert delivery.deliver_chunk(job_id, chunk, config) == {"sent": 1, "failed": 0,
                                                                  "retry": 1}
    job = _job(db_url, job_id)
    assert job.status == "done"  # every message was tried; the refused one waits to retry
    assert job.result == {"sent": 1, "failed": 0, "queued": 1, "sending": 0}
    key = f"invoice:{world.invoices['maksaja0@example.fi']}:initial"
    row = _outbox(db_url)[key]
    assert (row.status, row.attempts) == ("queued", 1) and "550" in row.last_error
    for _ in range(MAX_ATTEMPTS - 1):
        delivery.deliver_messages([row.id], config)  # type: ignore[list-item]
    row = _outbox(db_url)[key]
    assert (row.status, row.attempts) == ("failed", MAX_ATTEMPTS) and "550" in row.last_error
    assert inbox.recipients() == ["maksaja1@example.fi"]


def test_without_smtp_the_job_ends_with_mail_in_the_outbox(sqlite_url: str) -> None:
    world = _world(sqlite_url, 2, no_email=False)
    job_id = _start(world)
    chunks: list[list[int]] = []
    delivery.queue_job_messages(job_id, chunks.append)
    assert chunks == []
    job = _job(sqlite_url, job_id)
    assert job.status == "done" and job.result["queued"] == 2
    assert {m.status for m in _outbox(sqlite_url).values()} == {"queued"}


def test_the_huey_tasks_run_the_whole_job(sqlite_url: str,
                                          smtp: tuple[Inbox, SmtpConfig]) -> None:
    """Through the task wrappers (Huey in immediate mode runs them in this process)."""
    from tasks import huey
    from tasks.invoice_mail import send_invoice_mail

    inbox, _config = smtp
    world = _world(sqlite_url, 3, no_email=False)
    job_id = _start(world)
    huey.immediate = True
    try:
        send_invoice_mail(job_id)
    finally:
        huey.immediate = False
    assert len(inbox.received) == 3
    assert _job(sqlite_url, job_id).status == "done"


@pytest.mark.parametrize("role", ["viewer", None])
def test_only_billing_writers_start_a_send(sqlite_url: str, role: str | None) -> None:
    world = _world(sqlite_url, 1, no_email=False)
    with session_scope(sqlite_url) as s:
        tree_b = world.org + 1  # the sibling club
        actor = (actor_for(sqlite_url, "v@example.fi", world.org, "viewer") if role
                 else actor_for(sqlite_url, "b@example.fi", tree_b, "admin"))
        with pytest.raises(PermissionDenied):
            delivery.start_mail_job(s, actor, world.org)
        assert s.exec(select(Job)).all() == []


def test_queued_message_is_exactly_the_rendered_template(db_url: str) -> None:
    """The run's fast rendering (escapes and formats repeated values once) gives the very
    message the template files give through string.Template, HTML escaping of a payer's
    name included."""
    tree = make_tree(db_url)
    person = make_member(db_url, tree.club_a, tree.type_a, "Anna-Liisa", "Äijälä & O'Neil",
                         "anna@example.fi", language="en")
    invoice_id = make_invoice(db_url, tree.club_a, person, [(tree.club_a, "Maksu", 4250)])
    treasurer = actor_for(db_url, "rahastonhoitaja@example.fi", tree.club_a, "treasurer")
    world = World(db_url, tree.club_a, treasurer, {"anna@example.fi": invoice_id})
    delivery.queue_job_messages(_start(world), lambda ids: None)

    [message] = _outbox(db_url).values()
    [link] = re.findall(r"http://\S+/i/[A-Za-z0-9_.-]+(?<!\.pdf)$", message.text_body, re.M)
    settings = get_settings()
    name = "Anna-Liisa Äijälä & O'Neil"
    with session_scope(db_url) as s:
        invoice = s.get(Invoice, invoice_id)
        assert invoice is not None
        item = {"member_name": name, "description": invoice.description,
                "amount": money(4250), "due_date": fi_date(invoice.due_date),
                "reference": printed_reference(invoice.reference), "link": link,
                "pdf_link": link + ".pdf"}
    fields = {"title": f"Invoice: {invoice.description}", "payer_name": name,
              "organization": "Seura A ry", "what": "laskun", "what_en": "an invoice",
              "total": money(4250), "beneficiary": settings.escrow_name,
              "iban": delivery.formatted_iban(settings.escrow_iban), "bic": settings.escrow_bic}

    def template(name: str) -> Template:
        return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))

    subject, text, _html = render("invoice", "en", **fields,
                                  items=template("invoice_item.en.txt").substitute(item))
    escaped = {k: escape(v) for k, v in fields.items()}
    html = template("invoice.en.html").substitute(
        escaped, items=template("invoice_item.en.html").substitute(
            {k: escape(v) for k, v in item.items()}))
    assert (message.subject, message.text_body, message.html_body) == (subject, text, html)
    assert "Äijälä &amp; O&#x27;Neil" in message.html_body


def test_outbox_insert_skips_existing_keys_and_returns_only_new_ids(db_url: str) -> None:
    """The conflict rule is the database's: a key written meanwhile by another job is
    left alone, and only the rows really written come back for delivery."""
    def row(key: str) -> dict[str, object]:
        return {"to_address": "a@example.fi", "subject": "S", "text_body": f"T {key}",
                "html_body": None, "kind": "invoice", "organization_id": None,
                "dedupe_key": key, "status": "queued", "attempts": 0, "last_error": None,
                "created_at": utcnow(), "sent_at": None}

    with session_scope(db_url) as s:
        [first] = delivery.insert_outbox_rows(s, [row("invoice:1:initial")])
    with session_scope(db_url) as s:
        written = delivery.insert_outbox_rows(
            s, [row("invoice:1:initial"), row("invoice:2:initial"), row("invoice:3:initial")])
    rows = _outbox(db_url)
    assert sorted(written) == sorted(rows[k].id for k in ("invoice:2:initial",
                                                          "invoice:3:initial"))
    assert rows["invoice:1:initial"].id == first and rows["invoice:1:initial"].text_body == \
        "T invoice:1:initial"
    assert len(rows) == 3
