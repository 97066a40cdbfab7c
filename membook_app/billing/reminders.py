"""Payment reminders and the list of overdue invoices.

Each organisation has one `ReminderRule`: N days after the due date the first
reminder, optionally M days after it a second one, each optionally adding a reminder
fee line (default 5,00 €) to the invoice. `apply_reminders` runs daily (tasks) or on
demand for a given date, and is safe to repeat: a `Reminder` is unique per invoice
and number and is inserted first, so the fee line and the message are added only for
the rows this run really wrote, never twice. Totals change only through the fee line
and `refresh_invoices` (the status rule).

The reminder fee is capped at 5 €: Finnish debt collection law (laki saatavien
perinnästä 10 e §) allows at most 5 € per reminder on consumer claims, and a
membership fee is one.
"""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.billing.delivery import (
    PAYABLE,
    cached_money,
    compiled_template,
    dedupe_key,
    formatted_iban,
    insert_outbox_rows,
    mail_language,
)
from membook_app.billing.invoice_view import printed_reference
from membook_app.billing.public_link import invoice_url, issue_tokens
from membook_app.billing.status import refresh_invoices
from membook_app.errors import FormErrors, NotFound, ValidationError
from membook_app.formatting import HELSINKI, fi_date
from membook_app.settings import get_settings
from models import (
    Invoice,
    InvoiceLine,
    Organization,
    OutboxMessage,
    Person,
    Reminder,
    ReminderRule,
    invoice_lines,
    utcnow,
)

MAX_FEE_CENTS = 500
DEFAULT_FEE_CENTS = 500
PAY_WITHIN_DAYS = 14
FEE_LINE_KIND = "reminder_fee"
MAIL_KIND = "reminder"
REMINDER_FIELDS = ("payer_name", "organization", "description", "amount", "fee", "due_date",
                   "pay_by", "number", "reference", "beneficiary", "iban", "bic", "link")


# --- rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleView:
    organization_id: int
    enabled: bool
    first_after_days: int
    second_after_days: int | None
    fee_cents: int
    saved: bool  # False: the defaults, not yet stored


def _org(session: Session, actor: Actor, organization_id: int, action: str) -> Organization:
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("Yhdistystä ei löydy", "Organisation not found")
    actor.require(action, org)
    return org


def get_rule(session: Session, actor: Actor, organization_id: int) -> RuleView:
    """The organisation's rule, or the defaults (14 and 28 days, 5 €, off) when none."""
    _org(session, actor, organization_id, "billing.read")
    rule = session.execute(sa.select(ReminderRule).where(
        ReminderRule.organization_id == organization_id)).scalar_one_or_none()
    if rule is None:
        return RuleView(organization_id, False, 14, 28, DEFAULT_FEE_CENTS, False)
    return RuleView(organization_id, rule.enabled, rule.first_after_days,
                    rule.second_after_days, rule.fee_cents, True)


def save_rule(session: Session, actor: Actor, organization_id: int, *, enabled: bool,
              first_after_days: int, second_after_days: int | None, fee_cents: int) -> RuleView:
    """Store the rule after checking every field (all errors at once), with an audit event."""
    org = _org(session, actor, organization_id, "billing.write")
    errors: dict[str, ValidationError] = {}
    if not 1 <= first_after_days <= 365:
        errors["first_after_days"] = ValidationError(
            "Päivien määrä 1–365", "Days must be 1–365", field="first_after_days")
    if second_after_days is not None and not first_after_days < second_after_days <= 730:
        errors["second_after_days"] = ValidationError(
            "Toisen muistutuksen on tultava ensimmäisen jälkeen (enintään 730 päivää)",
            "The second reminder must come after the first (at most 730 days)",
            field="second_after_days")
    if not 0 <= fee_cents <= MAX_FEE_CENTS:
        errors["fee_cents"] = ValidationError(
            "Muistutusmaksu 0–5,00 € (perintälaki)", "Reminder fee 0–5.00 € (Finnish law)",
            field="fee_cents")
    if errors:
        raise FormErrors(errors)  # type: ignore[arg-type]
    rule = session.execute(sa.select(ReminderRule).where(
        ReminderRule.organization_id == organization_id)).scalar_one_or_none()
    before = {} if rule is None else {
        "enabled": rule.enabled, "first_after_days": rule.first_after_days,
        "second_after_days": rule.second_after_days, "fee_cents": rule.fee_cents}
    after = {"enabled": enabled, "first_after_days": first_after_days,
             "second_after_days": second_after_days, "fee_cents": fee_cents}
    rule = rule or ReminderRule(organization_id=organization_id)
    for key, value in after.items():
        setattr(rule, key, value)
    session.add(rule)
    session.flush()
    old, new = audit.diff(before, after)
    audit.record(session, actor, "reminder_rule.saved", "reminderrule", rule.id,
                 organization_id=org.id, before=old, after=new)
    return RuleView(organization_id, enabled, first_after_days, second_after_days, fee_cents,
                    True)


# --- applying the rules ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderResult:
    first: int = 0
    second: int = 0
    fees_cents: int = 0
    mailed: int = 0
    without_email: int = 0
    message_ids: tuple[int, ...] = ()


def _due_for(session: Session, rule: ReminderRule, number: int, today: date) -> list[int]:
    """Invoices of the rule's organisation that should get reminder `number` today.

    The second only when the first went out at least (second − first) days earlier, so
    a rule switched on late never sends both at once or on consecutive days.
    """
    days = rule.first_after_days if number == 1 else rule.second_after_days
    if days is None:
        return []
    this = aliased(Reminder)
    query = (
        sa.select(Invoice.id)
        .outerjoin(this, sa.and_(this.invoice_id == Invoice.id, this.number == number))
        .where(Invoice.organization_id == rule.organization_id, Invoice.kind == "invoice",
               col(Invoice.status).in_(PAYABLE),
               Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents > 0,
               Invoice.due_date <= today - timedelta(days=days), this.id.is_(None))
        .order_by(Invoice.id)
    )
    if number == 2:
        gap = days - rule.first_after_days
        first = aliased(Reminder)
        query = query.join(first, sa.and_(
            first.invoice_id == Invoice.id, first.number == 1,
            first.sent_at < _start_of(today - timedelta(days=gap - 1))))
    return list(session.execute(query).scalars())


def _start_of(day: date) -> datetime:
    """Midnight of a Helsinki calendar day (reminders are dated in Finnish time)."""
    return datetime(day.year, day.month, day.day, tzinfo=HELSINKI)


def _insert_reminders(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert reminders, skipping (invoice, number) pairs that exist; the invoices written."""
    if not rows:
        return []
    table = Reminder.__table__  # type: ignore[attr-defined]
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    written = session.execute(
        insert(table).on_conflict_do_nothing(index_elements=["invoice_id", "number"])
        .returning(table.c.invoice_id), rows).scalars().all()
    return list(written)


def _add_fee_lines(session: Session, invoice_ids: list[int], fee_cents: int,
                   number: int) -> None:
    """One fee line per invoice (set-based), the totals raised, then the status rule.

    The fee line goes after every line the invoice has, its run price's included."""
    line = InvoiceLine.__table__  # type: ignore[attr-defined]
    inv = Invoice.__table__  # type: ignore[attr-defined]
    next_position = (sa.select(sa.func.coalesce(sa.func.max(invoice_lines.c.position), 0) + 1)
                     .where(invoice_lines.c.invoice_id == inv.c.id).scalar_subquery())
    text = f"Muistutusmaksu {number} / Reminder fee {number}"
    session.execute(line.insert().from_select(
        ["invoice_id", "organization_id", "description", "amount_cents", "kind", "position"],
        sa.select(inv.c.id, inv.c.organization_id, sa.literal(text), sa.literal(fee_cents),
                  sa.literal(FEE_LINE_KIND), next_position)
        .where(inv.c.id.in_(invoice_ids))))
    session.execute(inv.update().where(inv.c.id.in_(invoice_ids))
                    .values(total_cents=inv.c.total_cents + fee_cents))


def _queue_reminder_mail(session: Session, invoice_ids: list[int], number: int,
                         fee_cents: int, today: date) -> tuple[dict[int, int], int]:
    """Reminder messages in the outbox; returns {invoice id: message id} and how many lack
    an address (those are reminded on paper: the Reminder row is there all the same)."""
    rows = session.execute(
        sa.select(Invoice.id, Invoice.reference, Invoice.description, Invoice.due_date,
                  Invoice.total_cents, Invoice.paid_cents, Invoice.credited_cents,
                  Invoice.organization_id, Organization.name, Person.email,
                  Person.first_name, Person.last_name, Person.language)
        .join(Organization, Organization.id == Invoice.organization_id)
        .join(Person, Person.id == Invoice.payer_id)
        .where(col(Invoice.id).in_(invoice_ids))
    ).all()
    with_email = [r for r in rows if r.email]
    settings = get_settings()
    iban = formatted_iban(settings.escrow_iban)
    now = utcnow()
    values = []
    for r, token in zip(with_email, issue_tokens((r.id, r.reference) for r in with_email),
                        strict=True):
        subject, text, html_body = compiled_template(
            "reminder", mail_language(r.language), REMINDER_FIELDS).fill({
                "payer_name": f"{r.first_name} {r.last_name}", "organization": r.name,
                "description": r.description or "Lasku",
                "amount": cached_money(r.total_cents - r.paid_cents - r.credited_cents),
                "fee": cached_money(fee_cents) if fee_cents else "–",
                "due_date": fi_date(r.due_date),
                "pay_by": fi_date(today + timedelta(days=PAY_WITHIN_DAYS)),
                "number": str(number), "reference": printed_reference(r.reference),
                "beneficiary": settings.escrow_name, "iban": iban, "bic": settings.escrow_bic,
                "link": invoice_url(token)})
        values.append({"to_address": r.email, "subject": subject[:300], "text_body": text,
                       "html_body": html_body, "kind": MAIL_KIND,
                       "organization_id": r.organization_id,
                       "dedupe_key": dedupe_key(r.id, f"reminder{number}"),
                       "status": "queued", "attempts": 0, "last_error": None,
                       "created_at": now, "sent_at": None})
    insert_outbox_rows(session, values)
    keys = {v["dedupe_key"]: int(v["dedupe_key"].split(":")[1]) for v in values}
    ids = {keys[k]: message_id for k, message_id in session.execute(
        sa.select(OutboxMessage.dedupe_key, OutboxMessage.id)
        .where(col(OutboxMessage.dedupe_key).in_(list(keys))))}
    return ids, len(rows) - len(with_email)


def apply_reminders(session: Session, today: date, *, organization_id: int | None = None,
                    actor: Actor | None = None, now: datetime | None = None) -> ReminderResult:
    """Create today's reminders for every enabled rule (or one organisation's).

    With an actor (a treasurer pressing "send reminders now") the organisation is
    checked for billing.write; the daily task runs without one. `now` stamps the
    reminders (default: the clock; tests replay a calendar). Second reminders are done
    before first ones, so one run never sends both. Everything happens in
    the caller's transaction: the reminders, fee lines, totals, statuses and messages
    exist together or not at all.
    """
    query = sa.select(ReminderRule).where(ReminderRule.enabled.is_(True))  # type: ignore[attr-defined]
    if organization_id is not None:
        if actor is not None:
            _org(session, actor, organization_id, "billing.write")
        query = query.where(ReminderRule.organization_id == organization_id)
    elif actor is not None and not actor.is_operator:
        raise ValidationError("Valitse yhdistys", "Choose an organisation")
    result = ReminderResult()
    message_ids: list[int] = []
    for rule in session.execute(query.order_by(ReminderRule.organization_id)).scalars():
        counts: dict[int, int] = defaultdict(int)
        for number in (2, 1):
            candidates = _due_for(session, rule, number, today)
            if not candidates:
                continue
            written = _insert_reminders(session, [
                {"invoice_id": i, "number": number, "sent_at": now or utcnow(),
                 "fee_cents": rule.fee_cents,
                 "outbox_message_id": None} for i in candidates])
            if not written:
                continue
            if rule.fee_cents:
                _add_fee_lines(session, written, rule.fee_cents, number)
            refresh_invoices(session, written, today=today)
            mail, without = _queue_reminder_mail(session, written, number, rule.fee_cents, today)
            if mail:
                session.execute(
                    sa.update(Reminder.__table__)  # type: ignore[arg-type]
                    .where(Reminder.__table__.c.invoice_id == sa.bindparam("b_invoice"),  # type: ignore[attr-defined]
                           Reminder.__table__.c.number == number)  # type: ignore[attr-defined]
                    .values(outbox_message_id=sa.bindparam("b_message")),
                    [{"b_invoice": i, "b_message": m} for i, m in mail.items()])
            message_ids.extend(mail.values())
            counts[number] = len(written)
            result = replace(
                result, mailed=result.mailed + len(mail),
                without_email=result.without_email + without,
                fees_cents=result.fees_cents + rule.fee_cents * len(written),
                first=result.first + (len(written) if number == 1 else 0),
                second=result.second + (len(written) if number == 2 else 0))
        if counts:
            audit.record(session, actor, "reminders.sent", "organization",
                         rule.organization_id, organization_id=rule.organization_id,
                         after={"date": today, "first": counts[1], "second": counts[2],
                                "fee_cents": rule.fee_cents})
    return replace(result, message_ids=tuple(sorted(message_ids)))


# --- the overdue list -----------------------------------------------------------------------


@dataclass(frozen=True)
class OverdueQuery:
    organization_id: int
    include_suborganizations: bool = True
    min_days: int = 0
    reminders: str = "any"  # any | none | first | second
    search: str = ""
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class OverdueRow:
    invoice_id: int
    reference: str
    payer: str
    email: str
    organization: str
    due_date: date
    days_overdue: int
    total_cents: int
    open_cents: int
    reminders: int
    last_reminder: date | None


@dataclass(frozen=True)
class OverduePage:
    rows: list[OverdueRow]
    total: int
    open_cents: int
    pages: int
    page: int


def _overdue_select(session: Session, actor: Actor, q: OverdueQuery, today: date
                    ) -> tuple[sa.Select[Any], Any]:
    org = _org(session, actor, q.organization_id, "billing.read")
    reminders = (sa.select(Reminder.invoice_id, sa.func.count().label("n"),
                           sa.func.max(Reminder.sent_at).label("last"))
                 .group_by(Reminder.invoice_id).subquery())
    open_cents = Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents
    count = sa.func.coalesce(reminders.c.n, 0)
    query = (
        sa.select(Invoice.id, Invoice.reference, Person.first_name, Person.last_name,
                  Person.email, Organization.name, Invoice.due_date, Invoice.total_cents,
                  open_cents.label("open_cents"), count.label("reminders"),
                  reminders.c.last)
        .join(Organization, Organization.id == Invoice.organization_id)
        .join(Person, Person.id == Invoice.payer_id)
        .outerjoin(reminders, reminders.c.invoice_id == Invoice.id)
        .where(Invoice.kind == "invoice", col(Invoice.status).in_(PAYABLE), open_cents > 0,
               Invoice.due_date < today - timedelta(days=max(q.min_days, 0)))
    )
    if q.include_suborganizations:
        query = query.where(col(Organization.path).startswith(org.path))
    else:
        query = query.where(Invoice.organization_id == org.id)
    wanted = {"none": 0, "first": 1, "second": 2}.get(q.reminders)
    if wanted is not None:
        query = query.where(count == wanted)
    term = " ".join(q.search.split())[:100]
    if term:
        like = f"%{term.lower()}%"
        query = query.where(sa.or_(
            sa.func.lower(Person.last_name + " " + Person.first_name).like(like),
            sa.func.lower(Person.first_name + " " + Person.last_name).like(like),
            sa.func.lower(sa.func.coalesce(Person.email, "")).like(like),
            Invoice.reference == term.replace(" ", "")))
    return query, open_cents


def _row(r: Any, today: date) -> OverdueRow:
    last = r.last.date() if r.last is not None else None
    return OverdueRow(r.id, r.reference, f"{r.last_name} {r.first_name}", r.email or "", r.name,
                      r.due_date, (today - r.due_date).days, r.total_cents, r.open_cents,
                      r.reminders, last)


def overdue_page(session: Session, actor: Actor, q: OverdueQuery,
                 today: date | None = None) -> OverduePage:
    """One page of overdue invoices (oldest due first), with the count and the open sum."""
    today = today or date.today()
    query, _ = _overdue_select(session, actor, q, today)
    sub = query.subquery()
    total, open_sum = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sub.c.open_cents), 0))).one()
    page_size = min(max(q.page_size, 1), 200)
    pages = max(1, -(-int(total) // page_size))
    page = min(max(q.page, 1), pages)
    rows = session.execute(query.order_by(Invoice.due_date, Invoice.id)
                           .limit(page_size).offset((page - 1) * page_size)).all()
    return OverduePage([_row(r, today) for r in rows], int(total), int(open_sum), pages, page)


EXPORT_HEADERS = ("Viitenumero / Reference", "Maksaja / Payer", "Sähköposti / Email",
                  "Yhdistys / Organisation", "Eräpäivä / Due date",
                  "Päiviä myöhässä / Days overdue", "Summa / Total (€)",
                  "Avoinna / Open (€)", "Muistutuksia / Reminders",
                  "Viimeisin muistutus / Last reminder")


def overdue_workbook(session: Session, actor: Actor, q: OverdueQuery,
                     today: date | None = None) -> bytes:
    """The whole filtered list as an Excel file (write-only, streamed from the query)."""
    today = today or date.today()
    query, _ = _overdue_select(session, actor, q, today)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Erääntyneet")
    sheet.append(list(EXPORT_HEADERS))
    def cell(value: Any, number_format: str) -> WriteOnlyCell:
        c = WriteOnlyCell(sheet, value=value)
        c.number_format = number_format
        return c

    for r in session.execute(query.order_by(Invoice.due_date, Invoice.id).execution_options(
            yield_per=2000)):
        row = _row(r, today)
        sheet.append([printed_reference(row.reference), row.payer, row.email, row.organization,
                      cell(row.due_date, "d.m.yyyy"), row.days_overdue,
                      cell(row.total_cents / 100, "#,##0.00"),
                      cell(row.open_cents / 100, "#,##0.00"), row.reminders,
                      cell(row.last_reminder, "d.m.yyyy")])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()

