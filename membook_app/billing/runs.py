"""Invoice runs: preview who gets what, then write every invoice in one transaction.

A run covers the active memberships of an organisation (optionally with its
sub-organisations) for a period. Each membership gets at most one invoice per
period: `Invoice.dedupe_key` = "<organisation>:<membership>:<period>" is
unique, and the run leaves out keys that exist, so running the same run again
creates nothing. Invoices are written with bulk inserts (COPY on PostgreSQL,
multi-row executemany on SQLite) with ids and references allocated up front
(`billing.references`). Their fee lines are written once per price (club and
membership type, `RunPrice`), not once per invoice; `models.invoice_lines`
reads an invoice's lines from both places.

Skipped, with the reason (shown in the preview):
  already invoiced for the period · paid by the household payer · fee 0 ·
  no membership type · the organisation's plan has no invoicing.
Payers without an email address ARE invoiced; the preview lists them as
"no email: deliver on paper" so the treasurer can print those invoices.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter

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
from models import (
    Invoice,
    InvoiceRun,
    Membership,
    Organization,
    Person,
    Plan,
    RunPrice,
    RunPriceLine,
    utcnow,
)

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
class _Plan:
    planned: list[tuple[int, int, int, int, int]]  # membership, org, person, payer, type
    priced: fees.Priced
    groups: dict[str, SkipGroup]
    paper: SkipGroup
    org_names: dict[int, str]


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


def _plan(session: Session, org: Organization, include_sub: bool, period: str) -> _Plan:
    """Price every active membership in scope; nothing is written.

    One pass over core rows (no ORM objects): 100,000 memberships cost a few
    queries and a loop, and lines are shared per (organisation, type).
    """
    connection = session.connection()
    where = (col(Organization.path).startswith(org.path) if include_sub
             else Organization.id == org.id)
    scope = connection.execute(
        sa.select(Organization.id, Plan.invoicing_enabled)
        .join(Plan, Plan.id == Organization.plan_id).where(where)).all()
    org_ids = [r[0] for r in scope]
    enabled = {r[0] for r in scope if r[1]}
    payer = aliased(Person)
    has_email = sa.case((col(Person.payer_id).is_(None), Person.email),
                        else_=payer.email).is_not(None)
    raw = connection.execute(
        fees.pricing_rows_query().add_columns(has_email)
        .join(payer, payer.id == Person.payer_id, isouter=True)
        .where(col(Membership.organization_id).in_(org_ids), Membership.status == "active")
    ).all()
    # By membership id, in Python: a database sort of 100,000 rows spills to disk.
    raw.sort(key=itemgetter(0))
    existing = set(connection.execute(
        sa.select(Invoice.membership_id).where(
            col(Invoice.organization_id).in_(org_ids), Invoice.period == period,
            col(Invoice.dedupe_key).is_not(None))).scalars())

    groups = {k: SkipGroup(k, *REASONS[k]) for k in REASONS if k != REASON_NO_EMAIL}
    paper = SkipGroup(REASON_NO_EMAIL, *REASONS[REASON_NO_EMAIL])
    samples: dict[int, SkipGroup] = {}

    def skip(group: SkipGroup, membership_id: int) -> None:
        group.count += 1
        if len(group.sample) < SAMPLE:
            group.sample.append("")
            samples[membership_id] = group

    to_price = []
    for r in raw:
        if r[3] not in enabled:
            skip(groups[REASON_PLAN], r[0])
        elif r[0] in existing:
            skip(groups[REASON_ALREADY], r[0])
        else:
            to_price.append((r[0], r[1], r[2], r[3], r[4]))
    chain_orgs = {int(o) for o in org.path.strip("/").split("/")} | set(org_ids)
    org_names = fees.org_name_map(session, chain_orgs)
    priced = fees.price_memberships(session, to_price, period, org_names)
    email = {r[0]: r[5] for r in raw}
    planned = []
    for membership_id, person_id, payer_id, org_id, type_id in to_price:
        reason = priced.skipped.get(membership_id)
        if reason is not None:
            skip(groups[reason], membership_id)
            continue
        if not email[membership_id]:
            skip(paper, membership_id)
        planned.append((membership_id, org_id, person_id, payer_id or person_id, type_id))
    # Names only for the few people shown as samples.
    if samples:
        names = dict(session.connection().execute(
            sa.select(Membership.id, Person.last_name + " " + Person.first_name)
            .join(Person, Person.id == Membership.person_id)
            .where(col(Membership.id).in_(list(samples)))).all())
        for group in {id(g): g for g in samples.values()}.values():
            group.sample = sorted(names[m] for m, g in samples.items() if g is group)
    return _Plan(planned, priced, groups, paper, org_names)  # type: ignore[arg-type]


def dedupe_key(organization_id: int, membership_id: int, period: str) -> str:
    """The run invoice's unique key: one invoice per membership and period."""
    return f"{organization_id}:{membership_id}:{period}"


def _summarise(org: Organization, include_sub: bool, period: str, issue_date: date,
               due_date: date, plan: _Plan) -> RunPreview:
    per_combo = Counter((p[1], p[4]) for p in plan.planned)
    share: dict[int, list[int]] = {}
    lines = 0
    for combo, count in per_combo.items():
        for line in plan.priced.combos.get(combo, ()):
            acc = share.setdefault(line.organization_id, [0, 0])
            acc[0] += line.amount_cents * count
            acc[1] += count
            lines += count
    shares = [ShareTotal(o, plan.org_names.get(o, str(o)), a, n) for o, (a, n) in share.items()]
    shares.sort(key=lambda s: (-s.line_count, s.organization))
    return RunPreview(
        organization_id=org.id, include_sub=include_sub, period=period,  # type: ignore[arg-type]
        issue_date=issue_date, due_date=due_date, invoice_count=len(plan.planned),
        line_count=lines, total_cents=sum(s.amount_cents for s in shares), shares=shares,
        skipped=[g for g in plan.groups.values() if g.count], paper=plan.paper)


def preview_run(session: Session, actor: Actor | None, organization_id: int,
                include_sub: bool, period: str, issue_date: date, due_date: date) -> RunPreview:
    """What a run would write: counts, totals per organisation share, who is skipped and why.

    `actor=None` is the system (the command line on the server)."""
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("billing.write", org)
    period = _validate(org, session, period, issue_date, due_date)
    plan = _plan(session, org, include_sub, period)
    return _summarise(org, include_sub, period, issue_date, due_date, plan)


def sqlite_driver_rows(connection: sa.Connection, table: sa.Table, columns: list[str],
                       rows: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """Tuples as SQLAlchemy would hand them to the SQLite driver, for raw executemany.

    Values go through each column type's bind processor (dates and timestamps stored
    exactly as the ORM stores them), cached per distinct value because a run repeats
    the same dates 100,000 times.
    """
    dialect = connection.dialect
    processors = [table.c[c].type._cached_bind_processor(dialect) for c in columns]  # noqa: SLF001
    converting = [i for i, p in enumerate(processors) if p is not None]
    if not converting:
        return rows
    caches: dict[int, dict[object, object]] = {i: {} for i in converting}
    converted = []
    for row in rows:
        values = list(row)
        for i in converting:
            value = values[i]
            if value is not None:
                cache = caches[i]
                if value not in cache:
                    cache[value] = processors[i](value)  # type: ignore[misc]
                values[i] = cache[value]
        converted.append(tuple(values))
    return converted


def _bulk_insert(session: Session, table: sa.Table, columns: list[str],
                 rows: list[tuple[object, ...]]) -> None:
    """COPY on PostgreSQL; on SQLite one DB-API executemany of plain tuples."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    rows = sqlite_driver_rows(connection, table, columns, rows)
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    for start in range(0, len(rows), 20_000):
        connection.exec_driver_sql(sql, rows[start:start + 20_000])  # type: ignore[arg-type]


INVOICE_COLUMNS = ["id", "organization_id", "person_id", "payer_id", "membership_id", "run_id",
                   "run_price_id", "period", "kind", "dedupe_key", "reference", "description",
                   "issue_date", "due_date", "total_cents", "paid_cents", "credited_cents",
                   "status", "created_at"]


def _insert_prices(session: Session, run_id: int,
                   combos: dict[tuple[int, int], tuple[fees.LineSpec, ...]]
                   ) -> dict[tuple[int, int], tuple[int, int]]:
    """The run's prices and their lines; returns {(club, membership type): (price id,
    total cents)}.

    A run invoice's lines depend only on its membership's club and type, so they are
    written once per price (a few dozen rows) and each invoice names its price."""
    price_table = RunPrice.__table__  # type: ignore[attr-defined]
    totals = {combo: sum(line.amount_cents for line in lines) for combo, lines in combos.items()}
    returned = session.execute(
        sa.insert(price_table).returning(price_table.c.id, sort_by_parameter_order=True),
        [{"run_id": run_id, "organization_id": org_id, "membership_type_id": type_id,
          "total_cents": total} for (org_id, type_id), total in totals.items()]).scalars().all()
    prices = {combo: (price_id, totals[combo])
              for combo, price_id in zip(totals, returned, strict=True)}
    session.execute(sa.insert(RunPriceLine.__table__), [  # type: ignore[attr-defined]
        {"run_price_id": prices[combo][0], "organization_id": line.organization_id,
         "description": line.description, "amount_cents": line.amount_cents, "kind": "fee",
         "position": position}
        for combo, lines in combos.items() for position, line in enumerate(lines)])
    return prices


def commit_run(session: Session, actor: Actor | None, organization_id: int, include_sub: bool,
               period: str, issue_date: date, due_date: date, *,
               progress: Callable[[int, str], None] | None = None,
               today: date | None = None) -> RunResult:
    """Write the run's prices and invoices in the caller's transaction (all or nothing).

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
    plan = _plan(session, org, include_sub, period)
    preview = _summarise(org, include_sub, period, issue_date, due_date, plan)
    if not plan.planned:
        return RunResult(None, 0, 0, preview)

    run = InvoiceRun(organization_id=org.id, include_suborganizations=include_sub,  # type: ignore[arg-type]
                     period=period, issue_date=issue_date, due_date=due_date,
                     created_by_user_id=actor.user_id if actor else None,
                     invoice_count=preview.invoice_count, total_cents=preview.total_cents)
    session.add(run)
    session.flush()
    if progress:
        progress(30, "allocating references")
    ids = allocate_invoice_ids(session, len(plan.planned))
    now = utcnow()
    description = f"Jäsenmaksu {period}"
    used = {(p[1], p[4]) for p in plan.planned}
    combos = {c: v for c, v in plan.priced.combos.items() if c in used}
    prices = _insert_prices(session, run.id, combos)  # type: ignore[arg-type]
    invoice_rows = [
        (invoice_id, org_id, person_id, payer_id, membership_id, run.id,
         prices[(org_id, type_id)][0], period, "invoice", f"{org_id}:{membership_id}:{period}",
         invoice_reference(invoice_id), description, issue_date, due_date,
         prices[(org_id, type_id)][1], 0, 0, "open", now)
        for invoice_id, (membership_id, org_id, person_id, payer_id, type_id)
        in zip(ids, plan.planned, strict=True)]
    if progress:
        progress(45, "writing invoices")
    _bulk_insert(session, Invoice.__table__, INVOICE_COLUMNS, invoice_rows)  # type: ignore[attr-defined]
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
                        "paper": plan.paper.count})
    if progress:
        progress(95, "committing")
    return RunResult(run.id, len(plan.planned), preview.total_cents, preview)


def list_runs(session: Session, actor: Actor, organization_id: int,
              limit: int = 20) -> list[InvoiceRun]:
    """Recent runs of the organisation and of the organisations below it."""
    org = get_organization(session, organization_id)
    actor.require("billing.read", org)
    sub = select(Organization.id).where(col(Organization.path).startswith(org.path))
    return list(session.exec(select(InvoiceRun).where(col(InvoiceRun.organization_id).in_(sub))
                             .order_by(col(InvoiceRun.id).desc()).limit(limit)))


# ---------------------------------------------------------------- runs as jobs (UI)

INLINE_MAX = 2000  # runs up to this many invoices are committed in the request


def start_run_job(session: Session, actor: Actor, organization_id: int, include_sub: bool,
                  period: str, issue_date: date, due_date: date) -> int:
    """Record a Job for a big run (checked now, and again by the worker); returns its id."""
    from membook_app.jobs import create_job

    org = get_organization(session, organization_id)
    actor.require("billing.write", org)
    period = _validate(org, session, period, issue_date, due_date)
    job = create_job(session, actor, "invoice_run", organization_id=org.id, params={
        "organization_id": org.id, "include_sub": include_sub, "period": period,
        "issue_date": issue_date.isoformat(), "due_date": due_date.isoformat()})
    return job.id  # type: ignore[return-value]


def run_job(job_id: int) -> dict[str, object] | None:
    """The worker's side: commit the run as the user who asked, with progress.

    On SQLite the run's transaction holds the write lock, so progress is only
    written before and after it; PostgreSQL shows each phase.
    """
    from membook_app.accounts.permissions import load_actor
    from membook_app.db import get_engine, session_scope
    from membook_app.errors import DomainError
    from membook_app.jobs import finish_job, report_progress
    from models import Job, User

    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ("queued", "running"):
            return None
        user = session.get(User, job.user_id) if job.user_id else None
        actor = load_actor(session, user) if user else None
        params = dict(job.params or {})
    if actor is None:
        finish_job(job_id, failed="Käyttäjää ei löydy / user not found")
        return None
    report_progress(job_id, 5, "Laskutetaan / invoicing")
    live = get_engine().dialect.name != "sqlite"
    try:
        with session_scope() as session:
            result = commit_run(
                session, actor, int(params["organization_id"]), bool(params["include_sub"]),
                str(params["period"]), date.fromisoformat(str(params["issue_date"])),
                date.fromisoformat(str(params["due_date"])),
                progress=(lambda p, m: report_progress(job_id, p, m)) if live else None)
    except DomainError as exc:
        finish_job(job_id, failed=str(exc))
        return None
    summary = {"run_id": result.run_id, "created": result.created,
               "total_cents": result.total_cents}
    finish_job(job_id, summary)
    return summary
