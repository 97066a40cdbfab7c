"""The treasurer's dashboard: the figures of one organisation and its subtree, in a glance.

Every figure is one SQL aggregate (no table is read into Python), using the indexes
there are, aiming at half a second for a whole federation at 100,000 members and 300,000
payments (`bench/reports.py` times it; docs/reports.md says what it measured). Date
buckets (months, weeks, receivable ages) are a portable `CASE` over boundary dates
computed here, grouped in an outer query, so the same SQL runs on SQLite and PostgreSQL
and the range condition can use an index.

What each figure means, precisely:

* **members now** — active memberships in the subtree; **joins** per month — memberships
  whose `start_date` falls in the month; **resignations** — memberships now resigned,
  deemed resigned or ended whose `end_date` (the day the membership ended, which an
  import may set in the past; the status-history row is only when it was recorded) falls
  in the month. Members at each month's end are counted back from now with those two.
* **invoiced against paid** — for one billing period (the reader chooses among the
  periods the subtree's clubs were invoiced for; by default the current calendar year's
  when it has invoices, else the latest period that has), by organisation share (the
  line's organisation inside the subtree): invoiced = the lines of the period's
  invoices, credited = the lines of its credit notes, paid = each line's part of what
  its invoice has been paid, pro rata to the line (paid × line / total, rounded down
  per line, as the invoicing report counts it; the settlement splits each payment to the
  exact cent by what is still billed, docs/settlements.md), open = the rest.
* **open receivables by age** — the whole open amount of open invoices issued by an
  organisation of the subtree, by days past the due date (due today = not due): the
  receivables report's definition and buckets (`reports.ages`).
* **incoming money per week** — money booked to invoices of the subtree, by the week
  (Monday to Sunday) of the payment's booking date, net of reversals. Its source is
  *booked by hand* when a person made the allocation (`Allocation.created_by_user_id` is
  set: the unmatched queue's book and split, whatever the payment's source); otherwise
  *Paytrail* when the Paytrail callback booked it (`Allocation.rule == "paytrail"`), and
  *bank reference payment* for everything the bank import matched by its reference
  (and the bank's corrections of it).
* **unmatched payments waiting** — the queue is escrow money that belongs to no
  organisation until a person books it. The operator sees the whole queue; a treasurer
  sees the queued payments that resemble an invoice of the subtree (reference one digit
  off, the amount an open invoice asks, the payer's name), exactly those the queue page
  shows them (`payments.unmatched.waiting_summary`; one query per reason for the whole
  queue, on a connection of its own meanwhile).
* **next settlement** — `settlements.runs.compute_shares` for the subtree with the
  cut-off now: this organisation's own payout and the subtree's total (billing readers).
* **latest bank import** — the latest attempt to bring the bank's data in (imported,
  refused, or a file already imported: the refusals and repeats are audit events, see
  `payments.bank_import.run_import`) and when, and when the latest import that went in
  was; it is *late* when that was before the previous banking day (the bank's file of a
  banking day arrives by the next one). The file, its counts and its totals are the
  escrow account's and only the operator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.banking.banking_days import add_banking_days
from membook_app.db import session_scope
from membook_app.errors import PermissionDenied
from membook_app.formatting import HELSINKI
from membook_app.payments.matching import MATCHED_STATUSES
from membook_app.payments.unmatched import waiting_summary
from membook_app.register.organizations import get_organization
from membook_app.reports.ages import AGE_BUCKETS, age_bucket, open_cents, open_invoices
from membook_app.settlements.runs import compute_shares
from models import (
    Allocation,
    AuditEvent,
    BankImport,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    Membership,
    Organization,
    Payment,
    RunPrice,
    RunPriceLine,
    utcnow,
)

MONTHS = 12
WEEKS = 12
LEFT_STATUSES = ("resigned", "deemed_resigned", "ended")
# Payment statuses that carry allocations to invoices (a reversal carries negative ones).
BOOKED_STATUSES = (*MATCHED_STATUSES, "reversal")
SOURCES = ("bank", "paytrail", "manual")
# Above this many members a subtree's invoice lines are most of the table (see _shares).
LARGE_SUBTREE = 20_000
@dataclass(frozen=True)
class MonthFigure:
    month: date  # the first day of the month
    joins: int
    resignations: int
    members_at_end: int  # for the running month: now


@dataclass(frozen=True)
class ShareFigure:
    organization_id: int
    organization_name: str
    invoiced_cents: int
    credited_cents: int
    paid_cents: int
    open_cents: int


@dataclass(frozen=True)
class AgeFigure:
    key: str
    label_fi: str
    label_en: str
    invoice_count: int
    open_cents: int


@dataclass(frozen=True)
class WeekFigure:
    week_start: date  # a Monday
    bank_cents: int
    paytrail_cents: int
    manual_cents: int

    @property
    def total_cents(self) -> int:
        return self.bank_cents + self.paytrail_cents + self.manual_cents


@dataclass(frozen=True)
class UnmatchedFigure:
    count: int
    amount_cents: int
    whole_queue: bool  # the operator's figure; otherwise the subtree's resembling payments


@dataclass(frozen=True)
class SettlementEstimate:
    cut_off: datetime
    own_payout_cents: int
    subtree_payout_cents: int
    subtree_net_cents: int
    organization_count: int  # organisations of the subtree with money in the round
    payment_count: int


# The audit events of an attempt that left no BankImport (payments/bank_import.py).
IMPORT_EVENTS = {"bank_import.refused": "refused", "bank_import.duplicate": "duplicate"}


@dataclass(frozen=True)
class ImportStatus:
    """The latest attempt (`outcome` imported | refused | duplicate, `created_at` its
    time) and the latest import that went in (`imported_at`, None when none has)."""

    created_at: datetime
    outcome: str
    imported_at: datetime | None
    late: bool  # the latest import that went in is older than the previous banking day
    message: str | None  # the refusal's reason or the import's note: operator only
    # The escrow account's details: None unless the reader is the operator.
    filename: str | None
    file_format: str | None
    payment_count: int | None
    matched_count: int | None
    unmatched_count: int | None
    credit_cents: int | None


@dataclass(frozen=True)
class Dashboard:
    organization_id: int
    organization_name: str
    today: date
    period: str
    periods: tuple[str, ...]  # the periods with invoices in the subtree, newest first
    billing: bool  # the reader may read billing here: the money figures are computed
    members_now: int
    months: tuple[MonthFigure, ...]
    shares: tuple[ShareFigure, ...]
    receivables: tuple[AgeFigure, ...]
    weeks: tuple[WeekFigure, ...]
    unmatched: UnmatchedFigure | None  # billing readers: their subtree's, the operator all
    settlement: SettlementEstimate | None
    latest_import: ImportStatus | None


def default_period(periods: Sequence[str], today: date) -> str:
    """The current calendar year's period when it has invoices, else the latest that has
    (a treasurer bills next year in the autumn, but this year's money comes in all year)."""
    this_year = str(today.year)
    if this_year in periods or not periods:
        return this_year
    return max(periods)


def _periods(session: Session, ids: list[int]) -> tuple[str, ...]:
    """The periods invoiced to the subtree's clubs, newest first: from the run prices (a
    run's price per club; a few hundred rows), and for runs made before run prices (whose
    invoices keep their own lines) from one invoice of the run in the subtree. Manual
    invoices have no period, and a credit note has its invoice's."""
    priced = sa.select(RunPrice.id).where(RunPrice.run_id == InvoiceRun.id)
    old_run_here = sa.select(Invoice.id).where(Invoice.run_id == InvoiceRun.id,
                                               col(Invoice.organization_id).in_(ids))
    has_prices_here = sa.select(RunPrice.id).where(RunPrice.run_id == InvoiceRun.id,
                                                   col(RunPrice.organization_id).in_(ids))
    found = session.execute(sa.select(InvoiceRun.period).distinct().where(sa.or_(
        has_prices_here.exists(),
        sa.and_(~priced.exists(), old_run_here.exists())))).scalars().all()
    return tuple(sorted({str(p) for p in found}, reverse=True))


def _month_starts(today: date, count: int) -> list[date]:
    year, month = today.year, today.month
    starts = []
    for _ in range(count):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _bucket(column: sa.ColumnElement, starts: Sequence[date]) -> sa.ColumnElement[int]:
    """Index of the last boundary the value is on or after (starts ascending), else -1."""
    return sa.case(*[(column >= start, i) for i, start in reversed(list(enumerate(starts)))],
                   else_=-1)


def _grouped(session: Session, inner: sa.Select) -> list[sa.Row]:
    """GROUP BY every column but the last of `inner`, summing the last (and counting rows).

    Grouping in an outer query keeps bound parameters out of GROUP BY, which PostgreSQL
    would otherwise see as different expressions from the selected ones.
    """
    sub = inner.subquery()
    keys = list(sub.c)[:-1]
    value = list(sub.c)[-1]
    return list(session.execute(
        sa.select(*keys, sa.func.count(), sa.func.coalesce(sa.func.sum(value), 0))
        .group_by(*keys)).all())


def _members(session: Session, ids: list[int], today: date) -> tuple[int, tuple[MonthFigure, ...]]:
    in_scope = col(Membership.organization_id).in_(ids)
    now = int(session.execute(sa.select(sa.func.count()).select_from(Membership).where(
        in_scope, Membership.status == "active")).scalar_one())
    starts = _month_starts(today, MONTHS)
    joins = {int(b): int(n) for b, n, _ in _grouped(session, sa.select(
        _bucket(col(Membership.start_date), starts), sa.literal(0))
        .where(in_scope, col(Membership.start_date) >= starts[0],
               col(Membership.start_date) <= today))}
    left = {int(b): int(n) for b, n, _ in _grouped(session, sa.select(
        _bucket(col(Membership.end_date), starts), sa.literal(0))
        .where(in_scope, col(Membership.status).in_(LEFT_STATUSES),
               col(Membership.end_date) >= starts[0], col(Membership.end_date) <= today))}
    months = []
    members = now
    for i in reversed(range(MONTHS)):  # walk back from now: undo each month's changes
        months.append(MonthFigure(starts[i], joins.get(i, 0), left.get(i, 0), members))
        members += left.get(i, 0) - joins.get(i, 0)
    return now, tuple(reversed(months))


def _shares(session: Session, orgs: dict[int, str], period: str,
            large: bool) -> tuple[ShareFigure, ...]:
    """Per share of the period: the lines written per invoice and the run prices' lines,
    each summed in SQL (`_share_sums`) and the two added up here."""
    own = InvoiceLine.__table__  # type: ignore[attr-defined]
    priced = RunPriceLine.__table__  # type: ignore[attr-defined]
    sums: dict[int, list[int]] = {}
    for org_id, *cents in [
            *_share_sums(session, own, own.c.invoice_id == Invoice.id, orgs, period, large),
            *_share_sums(session, priced, priced.c.run_price_id == Invoice.run_price_id,
                         orgs, period, False, by_club=True)]:
        total = sums.setdefault(int(org_id), [0, 0, 0])
        for i, part in enumerate(cents):
            total[i] += int(part or 0)
    figures = [ShareFigure(org_id, orgs[org_id], invoiced, credited, paid,
                           invoiced - credited - paid)
               for org_id, (invoiced, credited, paid) in sums.items()]
    return tuple(sorted(figures, key=lambda f: (-f.invoiced_cents, f.organization_name)))


def _share_sums(session: Session, line: sa.Table, on: sa.ColumnElement[bool],
                orgs: dict[int, str], period: str, large: bool,
                by_club: bool = False) -> list[sa.Row[Any]]:
    """(organisation, invoiced, credited, paid) of the period's lines in table `line`,
    joined to their invoices by `on`.

    `large`: the subtree holds most of the lines, so the period's invoices are read first
    and their lines by invoice (`+ 0` keeps SQLite off the organisation index, which
    would look every line of every period up). `by_club`: a run price's invoices are
    found by club and period; a share's organisation in the subtree means the invoice's
    club is in it too (shares go to the club and its ancestors)."""
    share_org = line.c.organization_id + sa.literal_column("0") if large else line.c.organization_id
    paid_part = sa.case(
        (sa.and_(Invoice.kind == "invoice", Invoice.total_cents > 0),
         sa.cast(line.c.amount_cents, sa.BigInteger) * Invoice.paid_cents
         // Invoice.total_cents), else_=0)
    return list(session.execute(
        sa.select(share_org,
                  sa.func.sum(sa.case((Invoice.kind == "invoice", line.c.amount_cents),
                                      else_=0)),
                  sa.func.sum(sa.case((Invoice.kind == "credit_note", -line.c.amount_cents),
                                      else_=0)),
                  sa.func.sum(paid_part))
        .select_from(line).join(Invoice, on)
        .where(Invoice.period == period, share_org.in_(list(orgs)),
               *([col(Invoice.organization_id).in_(list(orgs))] if by_club else []))
        .group_by(share_org)).all())


def _receivables(session: Session, ids: list[int], today: date) -> tuple[AgeFigure, ...]:
    """The open invoices by age, as the receivables report counts them (`reports.ages`)."""
    found = {str(b): (int(n), int(s)) for b, n, s in _grouped(session, sa.select(
        age_bucket(today), open_cents())
        .where(col(Invoice.organization_id).in_(ids), *open_invoices()))}
    return tuple(AgeFigure(b.key, b.fi, b.en, *found.get(b.key, (0, 0))) for b in AGE_BUCKETS)


def _weeks(session: Session, ids: list[int], others: list[int] | None,
           today: date) -> tuple[WeekFigure, ...]:
    """Money to the subtree's invoices per week and source.

    `others` (the organisations outside the subtree) is given when the subtree holds
    most of the members: then leaving out the few other invoices, found through their
    organisation's index, is cheaper than reading each allocation's invoice (and with
    no others there is nothing to leave out).
    """
    monday = today - timedelta(days=today.weekday())
    starts = [monday - timedelta(weeks=WEEKS - 1 - i) for i in range(WEEKS)]
    # From the allocation alone, so the payment is read from its (status, booking_date)
    # index without touching its row.
    source = sa.case((col(Allocation.created_by_user_id).is_not(None), "manual"),
                     (Allocation.rule == "paytrail", "paytrail"), else_="bank")
    query = (sa.select(_bucket(col(Payment.booking_date), starts), source,
                       Allocation.amount_cents)
             .select_from(Payment)
             .join(Allocation, Allocation.payment_id == Payment.id)
             .where(col(Payment.status).in_(BOOKED_STATUSES),
                    col(Payment.booking_date) >= starts[0], col(Payment.booking_date) <= today))
    if others is None:
        query = query.join(Invoice, Invoice.id == Allocation.invoice_id).where(
            col(Invoice.organization_id).in_(ids))
    else:
        query = query.where(col(Allocation.invoice_id).is_not(None))
        if others:
            query = query.where(col(Allocation.invoice_id).not_in(
                sa.select(Invoice.id).where(col(Invoice.organization_id).in_(others))))
    sums = {(int(b), str(s)): int(c) for b, s, _n, c in _grouped(session, query)}
    return tuple(WeekFigure(start, *(sums.get((i, s), 0) for s in SOURCES))
                 for i, start in enumerate(starts))


def _members_elsewhere(session: Session, others: list[int]) -> int:
    if not others:
        return 0
    return int(session.execute(sa.select(sa.func.count()).select_from(Membership).where(
        col(Membership.organization_id).in_(others), Membership.status == "active")
    ).scalar_one())


def _unmatched_apart(url: str, actor: Actor, org_id: int) -> UnmatchedFigure:
    """The operator's whole queue, anyone else's subtree's share of it."""
    with session_scope(url) as session:
        count, cents = waiting_summary(session, actor, None if actor.is_operator else org_id)
    return UnmatchedFigure(count, cents, actor.is_operator)


def _settlement(session: Session, org: Organization, cut_off: datetime) -> SettlementEstimate:
    shares = compute_shares(session, cut_off, organization_path=org.path)
    return SettlementEstimate(
        cut_off=cut_off,
        own_payout_cents=sum(s.payout_cents for s in shares if s.organization_id == org.id),
        subtree_payout_cents=sum(s.payout_cents for s in shares),
        subtree_net_cents=sum(s.net_cents for s in shares),
        organization_count=len(shares),
        payment_count=sum(s.payment_count for s in shares))


def _utc(moment: datetime) -> datetime:
    """A stored timestamp as aware UTC (SQLite returns it naive)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _latest_import(session: Session, operator: bool, today: date) -> ImportStatus | None:
    """The latest attempt and the latest import that went in: the newest BankImport, and
    the newest refused or repeated file after it (audit events, read from their time
    index from that import on)."""
    latest = session.exec(select(BankImport).order_by(col(BankImport.id).desc()).limit(1)).first()
    since = [col(AuditEvent.at) >= latest.created_at] if latest is not None else []
    event = session.exec(select(AuditEvent).where(
        col(AuditEvent.action).in_(list(IMPORT_EVENTS)), *since)
        .order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).limit(1)).first()
    if latest is None and event is None:
        return None
    imported_at = _utc(latest.created_at) if latest is not None else None
    late = imported_at is None or (imported_at.astimezone(HELSINKI).date()
                                   < add_banking_days(today, -1))
    if event is not None and (imported_at is None or _utc(event.at) >= imported_at):
        message = str((event.after or {}).get("message", "")) if operator else None
        return ImportStatus(_utc(event.at), IMPORT_EVENTS[event.action], imported_at, late,
                            message, None, None, None, None, None, None)
    assert latest is not None and imported_at is not None
    if not operator:
        return ImportStatus(imported_at, "imported", imported_at, late, None, None, None,
                            None, None, None, None)
    return ImportStatus(imported_at, "imported", imported_at, late, latest.message,
                        latest.filename, latest.format, latest.payment_count,
                        latest.matched_count, latest.unmatched_count, latest.credit_cents)


_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dashboard")


def _url_of(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=False)


def _shares_apart(url: str, orgs: dict[int, str], period: str,
                  large: bool) -> tuple[ShareFigure, ...]:
    with session_scope(url) as session:
        return _shares(session, orgs, period, large)


def _settlement_apart(url: str, org_id: int, cut_off: datetime) -> SettlementEstimate:
    with session_scope(url) as session:
        org = session.get(Organization, org_id)
        assert org is not None
        return _settlement(session, org, cut_off)


def dashboard(session: Session, actor: Actor, organization_id: int, today: date,
              period: str | None = None) -> Dashboard:
    """The dashboard of an organisation and its subtree, for anyone who may read it.

    `period`: the billing period of "invoiced against paid"; one the subtree has no
    invoices for (or None) gives the default (`default_period`).
    `today` dates the buckets (months, weeks, ages, the period); the settlement
    estimate's cut-off is this moment, as a run started now would have it. The figures
    are read over two connections at once, so they may stem from moments a few hundred
    milliseconds apart — a dashboard, not a ledger; the reports are exact.
    """
    org = get_organization(session, organization_id)
    if not (actor.can("register.read", org.path) or actor.can("billing.read", org.path)):
        raise PermissionDenied()
    orgs: dict[int, str] = {}
    others: list[int] = []
    for org_id, name, path in session.execute(
            sa.select(Organization.id, Organization.name, Organization.path)).all():
        if path.startswith(org.path):
            orgs[int(org_id)] = name
        else:
            others.append(int(org_id))
    ids = sorted(orgs)
    members_now, months = _members(session, ids, today)
    billing = actor.can("billing.read", org.path)
    periods = _periods(session, ids) if billing else ()
    if period not in periods:
        period = default_period(periods, today)
    # The period's shares and the settlement estimate are the two heaviest figures and
    # depend on nothing else here, so connections of their own compute them meanwhile (on
    # PostgreSQL other backends, on SQLite other readers of the WAL database).
    url = _url_of(session)
    shares = _POOL.submit(_shares_apart, url, orgs, period,
                          members_now > LARGE_SUBTREE) if period in periods else None
    settlement = _POOL.submit(_settlement_apart, url, org.id, utcnow()) if billing else None
    weeks: tuple[WeekFigure, ...] = ()
    if billing:
        mostly_here = members_now >= _members_elsewhere(session, others)
        weeks = _weeks(session, ids, others if mostly_here else None, today)
    receivables = _receivables(session, ids, today) if billing else ()
    unmatched = _POOL.submit(_unmatched_apart, url, actor, org.id) if billing else None
    latest_import = _latest_import(session, actor.is_operator, today) if billing else None
    return Dashboard(
        organization_id=org.id,  # type: ignore[arg-type]
        organization_name=org.name,
        today=today,
        period=period,
        periods=periods,
        billing=billing,
        members_now=members_now,
        months=months,
        shares=shares.result() if shares else (),
        receivables=receivables,
        weeks=weeks,
        unmatched=unmatched.result() if unmatched else None,
        settlement=settlement.result() if settlement else None,
        latest_import=latest_import,
    )
