"""Invoice runs: preview who gets what, then write every invoice in one transaction.

A run covers the active memberships of an organisation (optionally with its
sub-organisations) for a period. Each membership gets at most one invoice per
period: `Invoice.dedupe_key` = "<organisation>:<membership>:<period>" is
unique, and the run leaves out keys that exist, so running the same run again
creates nothing. Invoices are written with bulk inserts (COPY on PostgreSQL,
multi-row executemany on SQLite) with ids and references allocated up front
(`billing.references`).

Skipped, with the reason (shown in the preview):
  already invoiced for the period · paid by the household payer · fee 0 ·
  no membership type · the organisation's plan has no invoicing.
Payers without an email address ARE invoiced; the preview lists them as
"no email: deliver on paper" so the treasurer can print those invoices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.billing import fees
from membook_app.billing.references import (
    allocate_invoice_ids,
    invoice_reference,
    lock_for_invoicing,
)
from membook_app.billing.status import refresh_invoices
from membook_app.errors import LimitReached, ValidationError
from membook_app.register.organizations import get_organization
from models import Invoice, InvoiceLine, InvoiceRun, Membership, Organization, Person, Plan, utcnow

SAMPLE = 20  # names shown per skip reason
CHUNK = 5000
REASON_ALREADY = "already_invoiced"
REASON_PLAN = "plan_no_invoicing"
REASON_NO_EMAIL = "no_email"  # invoiced, delivered on paper
REASONS: dict[str, tuple[str, str]] = {
    REASON_ALREADY: ("Jo laskutettu tältä kaudelta", "Already invoiced for the period"),
    fees.REASON_HOUSEHOLD: ("Maksaa kotitalouden maksaja", "Paid by the household payer"),
    fees.REASON_FEE_ZERO: ("Maksu 0 €", "Fee 0"),
    fees.REASON_NO_TYPE: ("Ei jäsenlajia", "No membership type"),
    REASON_PLAN: ("Paketti ei sisällä laskutusta", "The plan has no invoicing"),
    REASON_NO_EMAIL: ("Ei sähköpostia: toimitetaan paperilla",
                      "No email: deliver on paper"),
}


@dataclass(frozen=True)
class ShareTotal:
    organization_id: int
    organization: str
    amount_cents: int
    line_count: int


@dataclass
class SkipGroup:
    reason: str
    label_fi: str
    label_en: str
    count: int = 0
    sample: list[str] = field(default_factory=list)


@dataclass
class RunPreview:
    organization_id: int
    include_sub: bool
    period: str
    issue_date: date
    due_date: date
    invoice_count: int
    line_count: int
    total_cents: int
    shares: list[ShareTotal]
    skipped: list[SkipGroup]  # not invoiced, by reason
    paper: SkipGroup  # invoiced, but the payer has no email

    @property
    def skipped_count(self) -> int:
        return sum(g.count for g in self.skipped)


@dataclass(frozen=True)
class RunResult:
    run_id: int | None
    created: int
    total_cents: int
    preview: RunPreview


@dataclass
class _Planned:
    membership_id: int
    organization_id: int
    person_id: int
    payer_id: int
    lines: list[fees.LineSpec]


def _validate(org: Organization, session: Session, period: str, issue_date: date,
              due_date: date) -> str:
    period = (period or "").strip()
    if not period or len(period) > 20:
        raise ValidationError("Anna kausi (esim. 2027)", "Give a period (e.g. 2027)",
                              field="period")
    if due_date < issue_date:
        raise ValidationError("Eräpäivä on ennen laskun päivää",
                              "The due date is before the issue date", field="due_date")
    plan = session.get(Plan, org.plan_id)
    if plan is not None and not plan.invoicing_enabled:
        raise LimitReached(
            f"Paketti {plan.name} ei sisällä laskutusta; vaihda pakettia laskuttaaksesi",
            f"The {plan.name} plan does not include invoicing; change the plan to invoice")
    return period


def _plan(session: Session, org: Organization, include_sub: bool, period: str
          ) -> tuple[list[_Planned], dict[str, SkipGroup], SkipGroup, dict[int, str]]:
    """Price every active membership in scope; nothing is written."""
    where = (col(Organization.path).startswith(org.path) if include_sub
             else Organization.id == org.id)
    scope = session.execute(
        sa.select(Organization.id, Organization.name, Plan.invoicing_enabled)
        .join(Plan, Plan.id == Organization.plan_id).where(where)).all()
    org_ids = [r[0] for r in scope]
    enabled = {r[0]: bool(r[2]) for r in scope}
    payer = aliased(Person)
    query = (fees.pricing_query()
             .add_columns(Person.first_name, Person.last_name,
                          sa.case((col(Person.payer_id).is_(None), Person.email),
                                  else_=payer.email))
             .join(payer, payer.id == Person.payer_id, isouter=True)
             .where(col(Membership.organization_id).in_(org_ids), Membership.status == "active")
             .order_by(Membership.id))
    raw = session.execute(query).all()
    rows = fees._rows(raw)  # noqa: SLF001 — same module family
    names = {r[0]: f"{r[10]} {r[9]}" for r in raw}
    emails = {r[0]: r[11] for r in raw}
    existing = set(session.execute(
        sa.select(Invoice.dedupe_key).where(col(Invoice.organization_id).in_(org_ids),
                                           Invoice.period == period,
                                           col(Invoice.dedupe_key).is_not(None))).scalars())
    chain_orgs = {o for r in rows for o in fees._chain(r.org_path)}  # noqa: SLF001
    org_names = fees.org_name_map(session, chain_orgs | set(org_ids))
    to_price = [r for r in rows
                if enabled.get(r.organization_id)
                and dedupe_key(r.organization_id, r.membership_id, period) not in existing]
    priced = fees.price_rows(session, to_price, period, org_names)

    groups = {k: SkipGroup(k, *REASONS[k]) for k in REASONS if k != REASON_NO_EMAIL}
    paper = SkipGroup(REASON_NO_EMAIL, *REASONS[REASON_NO_EMAIL])

    def skip(reason: str, membership_id: int, group: SkipGroup | None = None) -> None:
        g = group or groups[reason]
        g.count += 1
        if len(g.sample) < SAMPLE:
            g.sample.append(names[membership_id])

    planned: list[_Planned] = []
    for r in rows:
        if not enabled.get(r.organization_id):
            skip(REASON_PLAN, r.membership_id)
            continue
        if dedupe_key(r.organization_id, r.membership_id, period) in existing:
            skip(REASON_ALREADY, r.membership_id)
            continue
        pricing = priced[r.membership_id]
        if pricing.skip_reason is not None or pricing.total_cents <= 0:
            skip(pricing.skip_reason or fees.REASON_FEE_ZERO, r.membership_id)
            continue
        if not emails.get(r.membership_id):
            skip(REASON_NO_EMAIL, r.membership_id, paper)
        planned.append(_Planned(r.membership_id, r.organization_id, r.person_id,
                                r.payer_id or r.person_id, pricing.lines))
    return planned, groups, paper, org_names


def dedupe_key(organization_id: int, membership_id: int, period: str) -> str:
    """The run invoice's unique key: one invoice per membership and period."""
    return f"{organization_id}:{membership_id}:{period}"


def _summarise(org: Organization, include_sub: bool, period: str, issue_date: date,
               due_date: date, planned: list[_Planned], groups: dict[str, SkipGroup],
               paper: SkipGroup, org_names: dict[int, str]) -> RunPreview:
    share: dict[int, list[int]] = {}
    lines = 0
    for p in planned:
        for line in p.lines:
            acc = share.setdefault(line.organization_id, [0, 0])
            acc[0] += line.amount_cents
            acc[1] += 1
            lines += 1
    # Root first (federation, district, clubs), as the fee preview reads.
    shares = [ShareTotal(o, org_names.get(o, str(o)), a, n) for o, (a, n) in share.items()]
    shares.sort(key=lambda s: (-s.line_count, s.organization))
    return RunPreview(
        organization_id=org.id, include_sub=include_sub, period=period,  # type: ignore[arg-type]
        issue_date=issue_date, due_date=due_date, invoice_count=len(planned), line_count=lines,
        total_cents=sum(s.amount_cents for s in shares), shares=shares,
        skipped=[g for g in groups.values() if g.count], paper=paper)


def preview_run(session: Session, actor: Actor, organization_id: int, include_sub: bool,
                period: str, issue_date: date, due_date: date) -> RunPreview:
    """What a run would write: counts, totals per organisation share, who is skipped and why."""
    org = get_organization(session, organization_id)
    actor.require("billing.write", org)
    period = _validate(org, session, period, issue_date, due_date)
    planned, groups, paper, names = _plan(session, org, include_sub, period)
    return _summarise(org, include_sub, period, issue_date, due_date, planned, groups, paper,
                      names)


def _bulk_insert(session: Session, table: sa.Table, rows: list[dict[str, object]]) -> None:
    """COPY on PostgreSQL, chunked executemany on SQLite."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for start in range(0, len(rows), CHUNK):
            connection.execute(sa.insert(table), rows[start:start + CHUNK])
        return
    columns = list(rows[0])
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def commit_run(session: Session, actor: Actor | None, organization_id: int, include_sub: bool,
               period: str, issue_date: date, due_date: date, *,
               progress: Callable[[int, str], None] | None = None,
               today: date | None = None) -> RunResult:
    """Write the run's invoices and lines in the caller's transaction (all or nothing).

    The plan is recomputed under the invoicing lock, so what is written is
    what the data says now, and a second commit of the same run creates
    nothing (no InvoiceRun row either). `actor=None` is the system.
    """
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("billing.write", org)
    period = _validate(org, session, period, issue_date, due_date)
    lock_for_invoicing(session)
    if progress:
        progress(5, "planning")
    planned, groups, paper, names = _plan(session, org, include_sub, period)
    preview = _summarise(org, include_sub, period, issue_date, due_date, planned, groups, paper,
                         names)
    if not planned:
        return RunResult(None, 0, 0, preview)

    run = InvoiceRun(organization_id=org.id, include_suborganizations=include_sub,  # type: ignore[arg-type]
                     period=period, issue_date=issue_date, due_date=due_date,
                     created_by_user_id=actor.user_id if actor else None,
                     invoice_count=preview.invoice_count, total_cents=preview.total_cents)
    session.add(run)
    session.flush()
    if progress:
        progress(30, "allocating references")
    ids = allocate_invoice_ids(session, len(planned))
    now = utcnow()
    description = f"Jäsenmaksu {period}"
    invoice_rows: list[dict[str, object]] = []
    line_rows: list[dict[str, object]] = []
    for invoice_id, p in zip(ids, planned, strict=True):
        invoice_rows.append({
            "id": invoice_id, "organization_id": p.organization_id, "person_id": p.person_id,
            "payer_id": p.payer_id, "membership_id": p.membership_id, "run_id": run.id,
            "period": period, "kind": "invoice", "credited_invoice_id": None,
            "dedupe_key": dedupe_key(p.organization_id, p.membership_id, period),
            "reference": invoice_reference(invoice_id), "description": description,
            "issue_date": issue_date, "due_date": due_date,
            "total_cents": sum(line.amount_cents for line in p.lines), "paid_cents": 0,
            "credited_cents": 0, "status": "open", "created_at": now,
        })
        for position, line in enumerate(p.lines):
            line_rows.append({"invoice_id": invoice_id, "organization_id": line.organization_id,
                              "description": line.description[:200],
                              "amount_cents": line.amount_cents, "kind": "fee",
                              "position": position})
    if progress:
        progress(45, "writing invoices")
    _bulk_insert(session, Invoice.__table__, invoice_rows)  # type: ignore[attr-defined]
    if progress:
        progress(70, "writing lines")
    _bulk_insert(session, InvoiceLine.__table__, line_rows)  # type: ignore[attr-defined]
    # A new invoice has no allocations or credit notes, so refresh_invoices can only
    # change it when the due date has already passed; skip the no-op refresh otherwise.
    if due_date < (today or date.today()):
        refresh_invoices(session, ids, today=today)
    audit.record(session, actor, "invoice_run.committed", "invoicerun", run.id,
                 organization_id=org.id,
                 after={"period": period, "include_sub": include_sub,
                        "issue_date": issue_date, "due_date": due_date,
                        "invoice_count": preview.invoice_count,
                        "total_cents": preview.total_cents,
                        "first_invoice_id": ids[0], "last_invoice_id": ids[-1],
                        "skipped": {g.reason: g.count for g in preview.skipped},
                        "paper": paper.count})
    if progress:
        progress(95, "committing")
    return RunResult(run.id, len(planned), preview.total_cents, preview)


def list_runs(session: Session, actor: Actor, organization_id: int,
              limit: int = 20) -> list[InvoiceRun]:
    """Recent runs of the organisation and of the organisations below it."""
    org = get_organization(session, organization_id)
    actor.require("billing.read", org)
    sub = select(Organization.id).where(col(Organization.path).startswith(org.path))
    return list(session.exec(select(InvoiceRun).where(col(InvoiceRun.organization_id).in_(sub))
                             .order_by(col(InvoiceRun.id).desc()).limit(limit)))
