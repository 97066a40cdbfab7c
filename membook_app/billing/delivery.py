"""Sending invoices by email: one message per payer, through the outbox.

A parent who pays for three household members gets one message listing the three
invoices (whom each is for, description, amount, due date, reference, its own link),
not three near-identical ones. A message covers the payer's invoices of one run from
one organisation: its `dedupe_key` is "invoices:<run>:<organisation>:<payer>:initial"
(`message_key`). A run writes its invoices once, so which invoices a key stands for
never changes, and any send job (a whole subtree, or one run; first, resumed or
repeated) derives the same key for an invoice: no invoice is mailed twice. A manual
invoice (no run) has a message of its own, "invoice:<id>:initial": one written later
for the same payer must not count as mailed by an older message.

How a send job runs (tasks/invoice_mail.py is the thin Huey wrapper):

1. `start_mail_job` (a treasurer, from the UI) checks the permission, counts what would
   be sent and records a `Job`; the UI then queues the job's task.
2. `queue_job_messages` (worker) writes the outbox rows in chunks of `QUEUE_CHUNK`
   invoices, in bulk, each chunk in its own transaction. Every message has the unique
   `message_key` (above), and the insert skips existing keys, so running the job again
   (after a crash, or twice by mistake) never queues an invoice twice. A chunk never
   splits one message's invoices.
   It returns the ids to deliver in chunks of `DELIVERY_CHUNK`: one Huey task per chunk,
   not per message (Huey runs ~700 tasks/s on SQLite, ~1,500 on Redis).
3. `deliver_chunk` (worker, several in parallel) sends each message with the outbox's
   claim-before-send protocol: queued → sending (one conditional UPDATE, committed) →
   SMTP → sent, or back to queued with the error (retried by the outbox's periodic
   task up to `MAX_ATTEMPTS`, then failed with the reason). Then it writes the job's
   progress.

A crash between the SMTP server's "250 accepted" and the commit of "sent" leaves the
row in `sending`. Such a row is never sent again automatically (the payer may well
have it); the admin page counts these for the operator to check in the outbox.

The message holds the link to the invoice page, not a PDF attachment: the page always
shows the current open amount, and 100,000 PDFs would not fit in an outbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from html import escape
from itertools import chain
from string import Template
from typing import Any

import sqlalchemy as sa
from schwifty import IBAN
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from membook_app.accounts.permissions import Actor
from membook_app.billing.invoice_view import printed_reference
from membook_app.billing.public_link import invoice_url, issue_tokens
from membook_app.billing.runs import sqlite_driver_rows
from membook_app.db import session_scope
from membook_app.errors import NotFound, ValidationError
from membook_app.formatting import fi_date, money
from membook_app.jobs import JobStatus, create_job, finish_job, job_status, report_progress
from membook_app.mail.outbox import MAX_ATTEMPTS
from membook_app.mail.recovery import STUCK_AFTER, is_stuck
from membook_app.mail.smtp import SmtpConfig, send_one
from membook_app.mail.templates import TEMPLATE_DIR, render
from membook_app.settings import get_settings
from models import Invoice, InvoiceRun, Job, Organization, OutboxMessage, Person, utcnow

JOB_KIND = "invoice_mail"
MAIL_KIND = "invoice"
QUEUE_CHUNK = 2_000
DELIVERY_CHUNK = 500
PAYABLE = ("open", "partly_paid", "overdue")
MAIL_FIELDS = ("title", "payer_name", "organization", "what", "what_en", "total", "items",
               "beneficiary", "iban", "bic")
ITEM_FIELDS = ("member_name", "description", "amount", "due_date", "reference", "link",
               "pdf_link")
# The words that depend on how many invoices a message lists: (one, several).
_TITLE = {"fi": ("Lasku: {description}", "Laskut ({count}): {description}"),
          "en": ("Invoice: {description}", "Invoices ({count}): {description}")}
_WHAT = {"fi": ("laskun", "{count} laskua"), "en": ("an invoice", "{count} invoices")}


def dedupe_key(invoice_id: int, purpose: str = "initial") -> str:
    return f"invoice:{invoice_id}:{purpose}"


def _dedupe_column(purpose: str = "initial") -> sa.ColumnElement[str]:
    """The same key in SQL ('||' on both databases)."""
    return sa.literal("invoice:") + sa.cast(Invoice.id, sa.String) + sa.literal(f":{purpose}")


def message_key(invoice_id: int, run_id: int | None, organization_id: int, payer_id: int
                ) -> str:
    """The `dedupe_key` of the message that mails this invoice (module docstring)."""
    if run_id is None:
        return dedupe_key(invoice_id)
    return f"invoices:{run_id}:{organization_id}:{payer_id}:initial"


def _message_key_column() -> sa.ColumnElement[str]:
    """`message_key` in SQL, for counting what is mailed already."""
    def text(column: Any) -> sa.ColumnElement[str]:
        return sa.cast(column, sa.String)
    grouped = (sa.literal("invoices:") + text(Invoice.run_id) + sa.literal(":")
               + text(Invoice.organization_id) + sa.literal(":") + text(Invoice.payer_id)
               + sa.literal(":initial"))
    return sa.case((col(Invoice.run_id).is_(None), _dedupe_column()), else_=grouped)


# --- rendering ------------------------------------------------------------------------------


_FIELD = re.compile(r"\$\{(\w+)\}")


@dataclass(frozen=True)
class MailTemplate:
    """A mail template turned once into `str.format` strings (subject, text, HTML).

    `mail.templates.render` reads and parses the files on every call (~0.3 ms), and
    string.Template's regex costs more again per message; for a run of 100,000
    messages the files are rendered once with "${field}" as every value and turned
    into format strings here, so a message is three C-level `format_map` calls.
    """

    subject: str
    text: str
    html: str | None

    @classmethod
    def from_rendered(cls, subject: str, text: str, html: str | None) -> MailTemplate:
        def to_format(rendered: str) -> str:
            parts = _FIELD.split(rendered)  # literal, field, literal, field, ...
            return "".join(f"{{{p}}}" if i % 2 else p.replace("{", "{{").replace("}", "}}")
                           for i, p in enumerate(parts))

        return cls(to_format(subject), to_format(text), to_format(html) if html else None)

    def fill(self, values: dict[str, str], escaped: dict[str, str] | None = None
             ) -> tuple[str, str, str | None]:
        """Subject, text and HTML of one message; values are HTML-escaped for the HTML part,
        as `render` escapes them. A caller that has them can pass the escaped values
        (`escaped`, the same keys): a run escapes each repeated value once, not per message.
        """
        html_body = None
        if self.html is not None:
            if escaped is None:
                escaped = {k: escape(v) for k, v in values.items()}
            html_body = self.html.format_map(escaped)
        return self.subject.format_map(values), self.text.format_map(values), html_body


class _Escaped(dict[str, str]):
    """HTML-escaped text, computed once per distinct value (organisation names, amounts,
    dates: a run has a few hundred distinct ones among 100,000 messages)."""

    def __missing__(self, value: str) -> str:
        self[value] = escape(value)
        return self[value]


@cache
def compiled_template(name: str, lang: str, fields: tuple[str, ...]) -> MailTemplate:
    """The template `name` in `lang` (Finnish fallback), parsed once per process."""
    return MailTemplate.from_rendered(*render(name, lang, **{f: f"${{{f}}}" for f in fields}))


@cache
def item_template(lang: str) -> MailTemplate:
    """One invoice's block in a message (`invoice_item.<lang>.txt` and `.html`, Finnish
    fallback; no subject line), parsed once per process."""
    def read(suffix: str) -> str:
        path = TEMPLATE_DIR / f"invoice_item.{lang}.{suffix}"
        if not path.exists():
            path = TEMPLATE_DIR / f"invoice_item.fi.{suffix}"
        return Template(path.read_text(encoding="utf-8")).substitute(
            {f: f"${{{f}}}" for f in ITEM_FIELDS})
    return MailTemplate.from_rendered("", read("txt"), read("html"))


@cache
def cached_money(cents: int) -> str:
    """`formatting.money` costs ~0.3 ms (babel); a run has a handful of distinct amounts."""
    return money(cents)


def mail_language(language: str | None) -> str:
    """Templates exist in Finnish and English; Swedish speakers get Finnish for now."""
    return "en" if language == "en" else "fi"


# --- choosing what to send ------------------------------------------------------------------


@dataclass(frozen=True)
class MailPreview:
    to_send: int  # invoices
    without_email: int
    already_sent: int
    messages: int = 0  # to_send's invoices in one message per payer (and run, organisation)


def _payable() -> sa.Select[Any]:
    """Payable invoices with what a message needs (add the WHERE clauses that pick them):
    the payer's address and name, and the name of the member each invoice is for."""
    member = aliased(Person)
    return (
        sa.select(Invoice.id, Invoice.reference, Invoice.description, Invoice.due_date,
                  Invoice.total_cents, Invoice.paid_cents, Invoice.credited_cents,
                  Invoice.organization_id, Invoice.run_id, Invoice.payer_id, Organization.name,
                  Person.email, Person.first_name, Person.last_name, Person.language,
                  member.first_name.label("member_first"),
                  member.last_name.label("member_last"))
        .join(Organization, Organization.id == Invoice.organization_id)
        .join(Person, Person.id == Invoice.payer_id)
        .join(member, member.id == Invoice.person_id)
        .where(Invoice.kind == "invoice", col(Invoice.status).in_(PAYABLE))
    )


def _payable_query(org: Organization, run_id: int | None) -> sa.Select[Any]:
    """Payable invoices of the organisation's subtree (or of one run)."""
    query = _payable().where(col(Organization.path).startswith(org.path))
    if run_id is not None:
        query = query.where(Invoice.run_id == run_id)
    return query


def _scope_query(org: Organization, run_id: int | None) -> sa.Select[Any]:
    """The payable invoices not yet mailed: no outbox row, or one still queued (so a
    resumed job picks up what a crash left behind). For counting; the job itself pages
    through `_payable_query` and looks the outbox rows up by key, chunk by chunk
    (PostgreSQL would hash-join the whole outbox for every chunk otherwise)."""
    outbox = OutboxMessage.__table__  # type: ignore[attr-defined]
    return (_payable_query(org, run_id).add_columns(_message_key_column().label("message_key"))
            .outerjoin(outbox, outbox.c.dedupe_key == _message_key_column())
            .where(sa.or_(outbox.c.id.is_(None), outbox.c.status == "queued")))


def _organization(session: Session, actor: Actor, organization_id: int, action: str
                  ) -> Organization:
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("Yhdistystä ei löydy", "Organisation not found")
    actor.require(action, org)
    return org


def _check_run(session: Session, org: Organization, run_id: int | None) -> None:
    if run_id is None:
        return
    run = session.get(InvoiceRun, run_id)
    run_org = session.get(Organization, run.organization_id) if run else None
    if run_org is None or not run_org.path.startswith(org.path):
        raise NotFound("Laskutusajoa ei löydy", "Invoice run not found")


def preview_mail(session: Session, actor: Actor, organization_id: int,
                 run_id: int | None = None) -> MailPreview:
    """How many invoices the send would mail in how many messages, how many invoices'
    payers lack an address, and how many invoices were mailed already."""
    org = _organization(session, actor, organization_id, "billing.read")
    _check_run(session, org, run_id)
    scope = _scope_query(org, run_id).subquery()
    with_address = sa.func.coalesce(scope.c.email, "") != ""
    total, with_email, messages = session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.func.nullif(scope.c.email, "")),
                  sa.func.count(sa.distinct(sa.case((with_address, scope.c.message_key)))))
    ).one()
    sent_query = (
        sa.select(sa.func.count()).select_from(OutboxMessage)
        .join(Invoice, _message_key_column() == OutboxMessage.dedupe_key)
        .join(Organization, Organization.id == Invoice.organization_id)
        .where(col(Organization.path).startswith(org.path), OutboxMessage.status != "queued"))
    if run_id is not None:
        sent_query = sent_query.where(Invoice.run_id == run_id)
    return MailPreview(to_send=int(with_email), without_email=int(total - with_email),
                       already_sent=int(session.execute(sent_query).scalar_one()),
                       messages=int(messages))


def start_mail_job(session: Session, actor: Actor, organization_id: int,
                   run_id: int | None = None, *, attach_pdf: bool = False) -> Job:
    """Record a send job for the organisation's unsent invoices (or one run's).

    `attach_pdf`: the messages also carry each invoice as a PDF (some members' mail
    programs or bookkeepers want the document itself); the link is in every message
    either way, and the default is the link alone, as the issue asks.
    """
    org = _organization(session, actor, organization_id, "billing.write")
    _check_run(session, org, run_id)
    preview = preview_mail(session, actor, organization_id, run_id)
    if preview.to_send == 0:
        raise ValidationError("Ei lähetettäviä laskuja", "No invoices to send")
    return create_job(session, actor, JOB_KIND, organization_id=organization_id,
                      params={"run_id": run_id, "to_send": preview.to_send,
                              "attach_pdf": bool(attach_pdf)})


# --- queueing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueResult:
    queued: int  # new outbox rows
    existing: int  # rows that were there already (a repeated or resumed job)
    without_email: int
    to_deliver: list[int]  # ids of this batch's messages still waiting (status queued)


OUTBOX_COLUMNS = ("to_address", "subject", "text_body", "html_body", "kind", "organization_id",
                  "dedupe_key", "status", "attempts", "last_error", "created_at", "sent_at")


def insert_outbox_rows(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Bulk insert; rows whose dedupe_key exists are skipped by the database itself.

    Returns the ids written. Rows are dicts with the keys `OUTBOX_COLUMNS`.
    """
    return insert_outbox_tuples(session, [tuple(r[c] for c in OUTBOX_COLUMNS) for r in rows])


def insert_outbox_tuples(session: Session, rows: list[tuple[Any, ...]]) -> list[int]:
    """`insert_outbox_rows` for tuples in `OUTBOX_COLUMNS` order (no dict per message)."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _copy_outbox_rows(session, rows)
    return _insert_sqlite_outbox_rows(session, rows)


_SQLITE_ROWS_PER_INSERT = 2_500  # 12 values each; SQLite binds at most 32,766 per statement


def _insert_sqlite_outbox_rows(session: Session, rows: list[tuple[Any, ...]]) -> list[int]:
    """SQLite: multi-row INSERT … ON CONFLICT DO NOTHING RETURNING id on the raw driver.

    RETURNING tells which rows were written; sqlite3's executemany cannot return rows,
    so each statement carries up to `_SQLITE_ROWS_PER_INSERT` rows (SQLAlchemy's own
    insertmanyvalues does the same, at ~20 µs of parameter processing per message).
    """
    connection = session.connection()
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    rows = sqlite_driver_rows(connection, table, list(OUTBOX_COLUMNS), rows)
    one = f"({', '.join('?' * len(OUTBOX_COLUMNS))})"
    ids: list[int] = []
    for start in range(0, len(rows), _SQLITE_ROWS_PER_INSERT):
        batch = rows[start:start + _SQLITE_ROWS_PER_INSERT]
        ids += connection.exec_driver_sql(
            f"INSERT INTO outboxmessage ({', '.join(OUTBOX_COLUMNS)}) "
            f"VALUES {', '.join([one] * len(batch))} "
            "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
            tuple(chain.from_iterable(batch))).scalars().all()
    return ids


def _copy_outbox_rows(session: Session, rows: list[tuple[Any, ...]]) -> list[int]:
    """PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING.

    Measured on this (busy) machine for 20,000 messages of ~2 KB: executemany with
    RETURNING 26 s, this 4 s; the conflict rule still decides in the database.
    """
    names = ", ".join(OUTBOX_COLUMNS)
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS membook_outbox_stage ON COMMIT DROP "
                       f"AS SELECT {names} FROM outboxmessage WITH NO DATA")
        with cursor.copy(f"COPY membook_outbox_stage ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"INSERT INTO outboxmessage ({names}) SELECT {names} "
                       f"FROM membook_outbox_stage ON CONFLICT (dedupe_key) DO NOTHING "
                       f"RETURNING id")
        ids = [r[0] for r in cursor.fetchall()]
        cursor.execute("DELETE FROM membook_outbox_stage")
    return ids


def _group(invoice_id: int, run_id: int | None, organization_id: int, payer_id: int
           ) -> tuple[int, ...]:
    """Which message an invoice goes in, as a tuple (cheaper than `message_key`'s text
    for grouping 100,000 rows; the text is made once per message)."""
    return (run_id, organization_id, payer_id) if run_id is not None else (invoice_id,)


def _key(r: Any) -> str:
    return message_key(r.id, r.run_id, r.organization_id, r.payer_id)


def _key_among(session: Session, keys: list[str]) -> sa.ColumnElement[bool]:
    """`dedupe_key IN keys` with the keys as one bound value (an array on PostgreSQL, a
    JSON list on SQLite): 2,000 bound values cost more to process than the lookups."""
    if session.get_bind().dialect.name == "postgresql":
        return col(OutboxMessage.dedupe_key) == sa.any_(
            sa.bindparam("keys", keys, type_=postgresql.ARRAY(sa.String)))
    listed = sa.func.json_each(json.dumps(keys)).table_valued("value")
    return col(OutboxMessage.dedupe_key).in_(sa.select(listed.c.value))


def queue_invoice_mail(session: Session, rows: list[Any]) -> QueueResult:
    """Outbox rows for a chunk of `_payable_query` rows, one message per `message_key`,
    in bulk. The chunk holds all of each message's payable invoices (`_message_chunks`).

    Messages already queued are handed out again (not rewritten); those already sent,
    being sent or failed are left alone.
    Called by the worker for a job the UI permitted; it checks no actor itself.
    """
    groups: dict[tuple[int, ...], list[Any]] = {}
    for r in rows:
        if r.email:
            groups.setdefault(_group(r.id, r.run_id, r.organization_id, r.payer_id),
                              []).append(r)
    if not groups:
        return QueueResult(0, 0, len(rows), [])
    with_email = sum(len(group) for group in groups.values())
    messages = {_key(group[0]): group for group in groups.values()}
    # The chunk's outbox rows: one probe of the unique key index per message.
    existing = {key: (message_id, status) for key, message_id, status in session.execute(
        sa.select(OutboxMessage.dedupe_key, OutboxMessage.id, OutboxMessage.status)
        .where(_key_among(session, list(messages))))}
    waiting = [message_id for message_id, status in existing.values() if status == "queued"]
    new = {key: group for key, group in messages.items() if key not in existing}
    # A key another job wrote meanwhile is skipped here and delivered by that job.
    inserted = insert_outbox_tuples(session, _render_invoice_mail(new))
    return QueueResult(queued=len(inserted), existing=len(waiting),
                       without_email=len(rows) - with_email,
                       to_deliver=sorted(waiting + inserted))


def _render_invoice_mail(messages: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    """Outbox tuples (`OUTBOX_COLUMNS`), one per message (a payer's invoices), a few µs
    of Python per invoice.

    What is the same in every message (the escrow account, the link's address) and
    what repeats (organisations, amounts, dates) is formatted and escaped once; per
    invoice only the names, the reference and the signed link are new. The link needs
    no escaping of its own: the token is base64url and dots.
    """
    settings = get_settings()
    fixed = {"beneficiary": settings.escrow_name, "iban": formatted_iban(settings.escrow_iban),
             "bic": settings.escrow_bic}
    fixed_escaped = {k: escape(v) for k, v in fixed.items()}
    link_base = invoice_url("")
    link_base_escaped = escape(link_base)
    escaped = _Escaped()
    due_dates: dict[Any, str] = {}
    tokens = iter(issue_tokens((r.id, r.reference) for group in messages.values()
                               for r in group))
    now = utcnow()
    values = []
    for key, group in messages.items():
        first = group[0]
        lang = mail_language(first.language)
        items = item_template(lang)
        texts, htmls = [], []
        total = 0
        for r in group:
            open_cents = r.total_cents - r.paid_cents - r.credited_cents
            total += open_cents
            amount = cached_money(open_cents)
            due = due_dates.get(r.due_date) or due_dates.setdefault(r.due_date,
                                                                     fi_date(r.due_date))
            description = r.description or "Lasku"
            member = f"{r.member_first} {r.member_last}"
            reference = printed_reference(r.reference)
            token = next(tokens)
            _, text, html_body = items.fill(
                {"member_name": member, "description": description, "amount": amount,
                 "due_date": due, "reference": reference, "link": link_base + token,
                 "pdf_link": f"{link_base}{token}.pdf"},
                {"member_name": escape(member), "description": escaped[description],
                 "amount": escaped[amount], "due_date": escaped[due],
                 "reference": escape(reference), "link": link_base_escaped + token,
                 "pdf_link": f"{link_base_escaped}{token}.pdf"})
            texts.append(text)
            htmls.append(html_body or "")
        title, what, what_en = _wording(lang, len(group), first.description or "Lasku")
        name = f"{first.first_name} {first.last_name}"
        amount = cached_money(total)
        subject, text, html_body = compiled_template("invoice", lang, MAIL_FIELDS).fill(
            {"title": title, "payer_name": name, "organization": first.name, "what": what,
             "what_en": what_en, "total": amount, "items": "\n".join(texts), **fixed},
            {"title": escaped[title], "payer_name": escape(name),
             "organization": escaped[first.name], "what": escaped[what],
             "what_en": escaped[what_en], "total": escaped[amount], "items": "".join(htmls),
             **fixed_escaped})
        values.append((first.email, subject[:300], text, html_body, MAIL_KIND,
                       first.organization_id, key, "queued", 0, None, now, None))
    return values


@cache
def _wording(lang: str, count: int, description: str) -> tuple[str, str, str]:
    """The title, and "what" was sent in Finnish and English, for a message of `count`."""
    several = int(count > 1)
    return (_TITLE[lang][several].format(count=count, description=description),
            _WHAT["fi"][several].format(count=count), _WHAT["en"][several].format(count=count))


@cache
def formatted_iban(iban: str) -> str:
    return IBAN(iban).formatted


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _message_chunks(listing: list[Any], size: int) -> list[list[int]]:
    """Invoice ids in chunks of about `size`, each message's invoices in one chunk (a
    message is written once, from all of its invoices)."""
    messages: dict[tuple[int, ...], list[int]] = {}
    for row in listing:  # (id, run_id, organization_id, payer_id), unpacked: no name lookups
        messages.setdefault(_group(*row), []).append(row[0])
    chunks: list[list[int]] = [[]]
    for ids in messages.values():
        if len(chunks[-1]) >= size:
            chunks.append([])
        chunks[-1].extend(ids)
    return [chunk for chunk in chunks if chunk]


def queue_job_messages(job_id: int, enqueue: Callable[[list[int]], object]) -> dict[str, int]:
    """Worker side of a send job: write its outbox rows, hand out delivery chunks.

    `enqueue` gets each chunk of message ids (the task layer queues a Huey task per
    chunk). Idempotent: a second run queues nothing new and re-delivers only what is
    still queued. Without SMTP the job ends here: the outbox is the delivery then.
    """
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound("Työtä ei löydy", "Job not found")
        org = session.get(Organization, job.organization_id)
        if org is None:
            raise NotFound("Yhdistystä ei löydy", "Organisation not found")
        run_id = (job.params or {}).get("run_id")
        payable = _payable_query(org, run_id)
        if session.get_bind().dialect.name == "postgresql":
            # A send job usually follows the run that just wrote its invoices, before
            # autovacuum has looked at the table: planned with statistics of an empty
            # table, each chunk's query walked every invoice of the subtree (4 s a chunk
            # for a run of 100,000, 0.1 s with fresh statistics). ANALYZE samples the
            # table in ~0.3 s.
            session.execute(sa.text("ANALYZE invoice"))
        # Listed once, then fetched chunk by chunk by primary key: no page re-runs the
        # subtree's `path LIKE` and a sort of the whole run (a keyset page did, 0.5 s).
        listing = session.execute(
            payable.with_only_columns(Invoice.id, Invoice.run_id, Invoice.organization_id,
                                      Invoice.payer_id).order_by(Invoice.id)).all()
    count = len(listing)
    queue_chunks = _message_chunks(listing, QUEUE_CHUNK)
    report_progress(job_id, 0, f"Käsitellään {count} laskua / Processing {count} invoices")
    totals = {"queued": 0, "existing": 0, "without_email": 0}
    to_deliver: list[int] = []
    for done, chunk in enumerate(queue_chunks, start=1):
        with session_scope() as session:
            # Still payable now? (A payment may have arrived since the listing.)
            rows = session.execute(_payable().where(col(Invoice.id).in_(chunk))
                                   .order_by(Invoice.id)).all()
            result = queue_invoice_mail(session, rows)
        totals["queued"] += result.queued
        totals["existing"] += result.existing
        totals["without_email"] += result.without_email
        to_deliver.extend(result.to_deliver)
        report_progress(job_id, 10 * done // len(queue_chunks))
    to_deliver.sort()
    with session_scope() as session:
        job = session.get(Job, job_id)
        assert job is not None
        params = {**(job.params or {}), "first_id": to_deliver[0] if to_deliver else 0,
                  "last_id": to_deliver[-1] if to_deliver else 0}
        # Counted before the assignment, and assigned whole: a key set on the dict after
        # the query's autoflush is not seen as a change, and without it the bar stood
        # at 10 % for the whole send.
        params["waiting_at_start"] = _unattempted(session, params)
        job.params = params
        session.add(job)
    if SmtpConfig.from_settings(get_settings()) is None or not to_deliver:
        finish_job(job_id, {**totals, **mail_counts(job_id)})
        return totals
    report_progress(job_id, 10, f"Lähetetään {len(to_deliver)} / Sending")
    for chunk in _chunks(to_deliver, DELIVERY_CHUNK):
        enqueue(chunk)  # may run at once (several workers, or Huey's immediate mode)
    return totals


# --- delivery -------------------------------------------------------------------------------


def _claim(session: Session, message_id: int) -> bool:
    """queued → sending in one conditional UPDATE, committed before any SMTP traffic."""
    claimed = session.execute(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id, col(OutboxMessage.status) == "queued")
        .values(status="sending", attempts=col(OutboxMessage.attempts) + 1,
                claimed_at=utcnow())
    ).rowcount
    session.commit()
    return claimed == 1


def message_invoice_ids(session: Session, dedupe_key: str | None) -> list[int]:
    """The invoices a message mails, read back from its key (`message_key`)."""
    parts = (dedupe_key or "").split(":")
    if len(parts) == 3 and parts[0] == "invoice" and parts[1].isdigit():
        return [int(parts[1])]
    if len(parts) == 5 and parts[0] == "invoices" and all(p.isdigit() for p in parts[1:4]):
        run_id, org_id, payer_id = (int(p) for p in parts[1:4])
        return [int(i) for i in session.execute(
            sa.select(Invoice.id).where(Invoice.run_id == run_id,
                                        Invoice.organization_id == org_id,
                                        Invoice.payer_id == payer_id,
                                        Invoice.kind == "invoice").order_by(Invoice.id)
        ).scalars()]
    return []


def invoice_attachments(session: Session, message: OutboxMessage) -> list[tuple[str, bytes]]:
    """Each invoice of the message as a PDF, the same document as the page's /i/….pdf."""
    from membook_app.billing.invoice_view import load_views
    from membook_app.billing.pdf import render_pdf

    ids = message_invoice_ids(session, message.dedupe_key)
    views = load_views(session, ids)
    return [(f"lasku-{views[i].reference_compact}.pdf", render_pdf(views[i]))
            for i in ids if i in views]


def deliver_messages(message_ids: list[int], config: SmtpConfig, *,
                     attach_pdf: bool = False) -> dict[str, int]:
    """Send these outbox messages, with the outbox's protocol (see `mail/outbox.py`).

    The outbox's `deliver_pending` drains the oldest queued mail; a send job needs the
    same protocol for exactly its own chunk, so several workers share a big run.
    `attach_pdf`: add each invoice's PDF, made now (`invoice_attachments`).
    """
    counts = {"sent": 0, "failed": 0, "retry": 0}
    for message_id in message_ids:
        with session_scope() as session:
            if not _claim(session, message_id):
                continue  # sent, being sent, or failed already: never twice
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            try:
                send_one(config, message,
                         invoice_attachments(session, message) if attach_pdf else ())
            except Exception as exc:  # noqa: BLE001 - every SMTP failure is recorded
                final = message.attempts >= MAX_ATTEMPTS
                message.status = "failed" if final else "queued"
                message.last_error = f"{type(exc).__name__}: {exc}"[:1000]
                counts["failed" if final else "retry"] += 1
            else:
                message.status, message.sent_at, message.last_error = "sent", utcnow(), None
                counts["sent"] += 1
            session.add(message)
    return counts


def _in_job(params: dict[str, Any]) -> sa.ColumnElement[bool]:
    """The job's messages: invoice mail in the id range it queued.

    Ids are handed out in insert order, so the range holds this job's rows; another
    organisation's invoice mail queued at the very same moment may share it, which
    only delays the bar until that mail, too, has been tried.
    """
    return sa.and_(OutboxMessage.kind == MAIL_KIND,
                   col(OutboxMessage.id).between(params.get("first_id", 0),
                                                 params.get("last_id", 0)))


def _unattempted(session: Session, params: dict[str, Any]) -> int:
    return int(session.execute(
        sa.select(sa.func.count()).select_from(OutboxMessage)
        .where(_in_job(params), OutboxMessage.status == "queued", OutboxMessage.attempts == 0)
    ).scalar_one())


def mail_counts(job_id: int) -> dict[str, int]:
    """The job's messages by outbox status (sending = claimed; after a crash: check)."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        params = (job.params if job else None) or {}
        rows = session.execute(
            sa.select(OutboxMessage.status, sa.func.count())
            .where(_in_job(params)).group_by(OutboxMessage.status)).all()
    counts = {"sent": 0, "failed": 0, "queued": 0, "sending": 0}
    counts.update({status: int(n) for status, n in rows})
    return counts


def deliver_chunk(job_id: int, message_ids: list[int], config: SmtpConfig | None = None
                  ) -> dict[str, int]:
    """Worker: send one chunk of a job, then write the job's progress (done at 100 %).

    Progress is read from the outbox (messages tried at least once), not counted by
    the chunks, so parallel chunks, a lost task or the outbox's own periodic delivery
    cannot make it wrong.
    """
    config = config or SmtpConfig.from_settings(get_settings())
    with session_scope() as session:
        job = session.get(Job, job_id)
        attach_pdf = bool(((job.params if job else None) or {}).get("attach_pdf"))
    counts = deliver_messages(message_ids, config, attach_pdf=attach_pdf) if config else {}
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            return counts
        params = job.params or {}
        waiting = _unattempted(session, params)
        start = max(int(params.get("waiting_at_start", 0)), 1)
    if waiting == 0:
        # Each chunk that finds nothing untried writes the counts, so the last one's stand.
        finish_job(job_id, mail_counts(job_id))
    else:
        _advance(job_id, 10 + 90 * (start - waiting) // start)
    return counts


def _advance(job_id: int, progress: int) -> None:
    """Raise a running job's progress; never lower it, never reopen a finished job.

    Chunks finish in any order: a slow chunk must not overwrite the "done" another one
    wrote (`jobs.report_progress` writes unconditionally).
    """
    with session_scope() as session:
        session.execute(
            sa.update(Job).where(col(Job.id) == job_id, col(Job.status).in_(("queued", "running")),
                                 col(Job.progress) < progress)
            .values(progress=min(progress, 99), status="running"))


# --- for the admin page ---------------------------------------------------------------------


@dataclass(frozen=True)
class RunOption:
    id: int
    label: str


def mail_runs(session: Session, actor: Actor, organization_id: int) -> list[RunOption]:
    """The invoice runs of the organisation's subtree, newest first, to pick one to send."""
    org = _organization(session, actor, organization_id, "billing.read")
    rows = session.execute(
        sa.select(InvoiceRun.id, InvoiceRun.period, InvoiceRun.issue_date,
                  InvoiceRun.invoice_count, Organization.name)
        .join(Organization, Organization.id == InvoiceRun.organization_id)
        .where(col(Organization.path).startswith(org.path))
        .order_by(col(InvoiceRun.id).desc()).limit(50)).all()
    return [RunOption(r.id, f"{r.name} {r.period} ({fi_date(r.issue_date)}, {r.invoice_count})")
            for r in rows]


def stuck_messages(session: Session, actor: Actor, organization_id: int,
                   older_than: timedelta = STUCK_AFTER) -> int:
    """Invoice mail left 'sending' (a worker crashed mid-send): the operator checks these
    in the outbox, since the payer may or may not have the message."""
    org = _organization(session, actor, organization_id, "billing.read")
    return int(session.execute(
        sa.select(sa.func.count()).select_from(OutboxMessage)
        .join(Organization, Organization.id == OutboxMessage.organization_id)
        .where(col(Organization.path).startswith(org.path),
               col(OutboxMessage.kind).in_((MAIL_KIND, "reminder")),
               is_stuck(older_than))).scalar_one())


def job_mail_status(session: Session, actor: Actor, job_id: int
                    ) -> tuple[JobStatus, dict[str, int]]:
    """A send job's state for the one who started it, with its messages by status, read
    from the outbox itself (true even when a worker died before writing progress)."""
    status = job_status(session, actor, job_id)
    if status.kind != JOB_KIND:
        raise NotFound("Työtä ei löydy", "Job not found")
    return status, mail_counts(job_id)
