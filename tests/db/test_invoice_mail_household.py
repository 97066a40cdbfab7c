"""One message per payer: a household payer's invoices of a run arrive in one email.

Real invoice run (billing_world: Matti pays for himself, his dependant Ville and, here,
Aino), real SMTP server (aiosmtpd), each link opened on the real public page.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
from starlette.testclient import TestClient

from membook_app.api import api
from membook_app.billing import delivery
from membook_app.billing.invoice_view import printed_reference
from membook_app.billing.invoices import LineInput, create_manual_invoice
from membook_app.billing.runs import commit_run
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.mail.smtp import SmtpConfig
from models import Invoice, OutboxMessage
from tests.db.test_billing_fees import World, billing_world, set_payer
from tests.db.test_invoice_delivery import Inbox, actor_for, smtp  # noqa: F401 (fixture)
from tests.pdf_text import pdf_text

ISSUE, DUE = date(2026, 12, 1), date(2027, 1, 31)
_ITEM = re.compile(r"Jäsen:\s+(?P<member>.+)\n(?:.*\n)*?\s+(?P<link>http://\S+/i/[\w.-]+)\n")


@pytest.fixture
def world(db_url: str) -> World:
    world = billing_world(db_url)
    set_payer(db_url, world.people["youth"], world.people["full"])  # Matti pays for Aino too
    with session_scope(db_url) as s:
        commit_run(s, None, world.tree.club_a, False, "2027", ISSUE, DUE)
    return world


def _send(world: World, config: SmtpConfig, run_id: int | None = None, *,
          attach_pdf: bool = False) -> dict[str, int]:
    treasurer = actor_for(world.url, "rahastonhoitaja@example.fi", world.tree.club_a,
                          "treasurer")
    with session_scope(world.url) as s:
        job_id = delivery.start_mail_job(s, treasurer, world.tree.club_a, run_id,
                                         attach_pdf=attach_pdf).id
    chunks: list[list[int]] = []
    totals = delivery.queue_job_messages(job_id, chunks.append)
    for chunk in chunks:
        delivery.deliver_chunk(job_id, chunk, config)
    return totals


def _invoices_of(url: str, payer: int) -> dict[int, Invoice]:
    """The payer's invoices by the person each is for."""
    with session_scope(url) as s:
        rows = s.query(Invoice).filter(Invoice.payer_id == payer).all()
        return {i.person_id: i for i in rows}


def test_household_payer_gets_one_message_listing_each_invoice(
        world: World, smtp: tuple[Inbox, SmtpConfig]) -> None:  # noqa: F811
    inbox, config = smtp
    url, people = world.url, world.people
    treasurer = actor_for(url, "rahastonhoitaja@example.fi", world.tree.club_a, "treasurer")
    with session_scope(url) as s:
        preview = delivery.preview_mail(s, treasurer, world.tree.club_a)
    # Matti: his own, Ville's and Aino's invoice; Pirjo: the family's one.
    assert (preview.to_send, preview.messages) == (4, 2)

    assert _send(world, config) == {"queued": 2, "existing": 0, "without_email": 0}
    assert inbox.recipients() == ["matti@example.fi", "pirjo@example.fi"]
    [(_, message)] = [(r, m) for r, m in inbox.received if r == ["matti@example.fi"]]
    assert message["Subject"] == "Laskut (3): Jäsenmaksu 2027 – Seura A ry"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.startswith("Hei Matti Virtanen,") and "3 laskua" in text
    assert list(message.iter_attachments()) == []  # the link, not an attachment, by default

    invoices = _invoices_of(url, people["full"])
    names = {people["full"]: "Matti Virtanen", people["dependant"]: "Ville Virtanen",
             people["youth"]: "Aino Nuori"}
    assert set(invoices) == set(names)
    items = {m["member"].strip(): m["link"] for m in _ITEM.finditer(text)}
    assert set(items) == set(names.values())
    client = TestClient(api)
    for person_id, name in names.items():
        invoice, link = invoices[person_id], items[name]
        assert f'href="{link}"' in html and f'href="{link}.pdf"' in html
        page = client.get(link.removeprefix("http://127.0.0.1:3999")).text
        assert f'id="reference">{printed_reference(invoice.reference)}<' in page
        if person_id != people["full"]:
            assert f'id="member">{name}<' in page  # the page names whom it is for
    total = sum(i.total_cents for i in invoices.values())
    assert f"{total // 100},{total % 100:02d}\xa0€" in text  # Yhteensä

    # Nothing is mailed twice: not by a new job over the subtree, nor over the run alone.
    run_id = invoices[people["full"]].run_id
    for scope in (None, run_id):
        with session_scope(url) as s, pytest.raises(ValidationError):
            delivery.start_mail_job(s, treasurer, world.tree.club_a, scope)
    # A manual invoice for Matti written later is mailed in a message of its own.
    with session_scope(url) as s:
        manual = create_manual_invoice(
            s, None, organization_id=world.tree.club_a, person_id=people["full"],
            lines=[LineInput(world.tree.club_a, "Kevätretki", 1200)], issue_date=ISSUE,
            due_date=DUE, description="Kevätretki").id
        assert delivery.preview_mail(s, treasurer, world.tree.club_a).messages == 1
    assert _send(world, config)["queued"] == 1
    assert inbox.recipients() == ["matti@example.fi", "matti@example.fi", "pirjo@example.fi"]
    last = inbox.received[-1][1]
    assert last["Subject"] == "Lasku: Kevätretki – Seura A ry"
    assert len(_ITEM.findall(last.get_body(("plain",)).get_content())) == 1
    with session_scope(url) as s:
        keys = {m.dedupe_key for m in s.query(OutboxMessage)}
    assert keys == {f"invoice:{manual}:initial",
                    f"invoices:{run_id}:{world.tree.club_a}:{people['full']}:initial",
                    f"invoices:{run_id}:{world.tree.club_a}:{people['parent']}:initial"}


def test_a_chunk_never_splits_a_payers_message(
        world: World, smtp: tuple[Inbox, SmtpConfig],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With chunks of one invoice, Matti's three invoices still go in one message (a
    split would write the message from the first chunk's invoice alone)."""
    inbox, config = smtp
    monkeypatch.setattr(delivery, "QUEUE_CHUNK", 1)
    assert _send(world, config)["queued"] == 2
    [text] = [m.get_body(("plain",)).get_content() for r, m in inbox.received
              if r == ["matti@example.fi"]]
    assert len(_ITEM.findall(text)) == 3


def test_attached_pdfs_when_the_treasurer_asks(
        world: World, smtp: tuple[Inbox, SmtpConfig]) -> None:  # noqa: F811
    inbox, config = smtp
    assert _send(world, config, attach_pdf=True)["queued"] == 2
    [(_, message)] = [(r, m) for r, m in inbox.received if r == ["matti@example.fi"]]
    invoices = _invoices_of(world.url, world.people["full"])
    attached = {part.get_filename(): part.get_content() for part in message.iter_attachments()}
    assert set(attached) == {f"lasku-{i.reference}.pdf" for i in invoices.values()}
    for invoice in invoices.values():
        data = attached[f"lasku-{invoice.reference}.pdf"]
        assert data.startswith(b"%PDF")
        text = pdf_text(data)
        assert printed_reference(invoice.reference) in text and "Matti Virtanen" in text
    # The message still carries each invoice's link.
    assert len(_ITEM.findall(message.get_body(("plain",)).get_content())) == 3
