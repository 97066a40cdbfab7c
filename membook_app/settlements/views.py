"""Read side of settlements: the settlement list with its filters and one settlement's
detail with every member payment it includes (paged on the server).

Who sees what: a treasurer, admin or viewer (`billing.read`) sees the settlements of the
organisations in their subtree, and only those of approved runs — a draft is the
operator's review material and may still change. The operator sees every settlement,
drafts too. A settlement the asker may not see is `NotFound`, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, PermissionDenied
from membook_app.formatting import HELSINKI
from models import (
    Invoice,
    Organization,
    Payment,
    Person,
    Settlement,
    SettlementLine,
    SettlementRun,
)

STATUSES = ("draft", "approved", "carried")
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class SettlementQuery:
    """Filters of the list; dates are Helsinki calendar days of the run's cut-off."""

    organization_id: int | None = None  # None: every organisation (operator only)
    include_suborganizations: bool = True
    date_from: date | None = None
    date_to: date | None = None
    status: str | None = None
    page: int = 1
    page_size: int = 50


@dataclass(frozen=True)
class SettlementRow:
    """One organisation's settlement in one run, with its money."""

    id: int
    run_id: int
    run_status: str
    organization_id: int
    organization: str
    cut_off: datetime
    previous_cut_off: datetime | None
    execution_date: date | None
    approved_at: datetime | None
    reference: str
    status: str
    iban: str | None
    payment_count: int
    gross_cents: int
    reversal_cents: int
    fee_cents: int
    carried_in_cents: int
    net_cents: int
    payout_cents: int


@dataclass(frozen=True)
class SettlementPage:
    rows: list[SettlementRow]
    total: int
    payout_cents: int
    page: int
    pages: int


@dataclass(frozen=True)
class SettlementLineRow:
    """One member payment (or its reversal) in a settlement: this organisation's share."""

    id: int
    payment_date: date
    payer: str
    invoice_reference: str
    member: str
    amount_cents: int
    fee_cents: int
    kind: str


@dataclass(frozen=True)
class SettlementDetail:
    settlement: SettlementRow
    lines: list[SettlementLineRow]
    line_count: int
    page: int
    pages: int


def _columns() -> tuple[Any, ...]:
    return (Settlement.id, Settlement.run_id, SettlementRun.status, Settlement.organization_id,
            Organization.name, SettlementRun.cut_off, SettlementRun.previous_cut_off,
            SettlementRun.execution_date, SettlementRun.approved_at, Settlement.reference,
            Settlement.status, Settlement.iban, Settlement.payment_count,
            Settlement.gross_cents, Settlement.reversal_cents, Settlement.fee_cents,
            Settlement.carried_in_cents, Settlement.net_cents, Settlement.payout_cents)


def _base() -> Any:
    return (select(*_columns())
            .join(SettlementRun, SettlementRun.id == Settlement.run_id)
            .join(Organization, Organization.id == Settlement.organization_id))


def _helsinki_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), HELSINKI)


def _filtered(session: Session, actor: Actor, query: SettlementQuery) -> Any:
    stmt = _base()
    if query.organization_id is None:
        if not actor.is_operator:
            raise PermissionDenied()
    else:
        org = session.get(Organization, query.organization_id)
        if org is None:
            raise NotFound("Yhdistystä ei löydy", "Organisation not found")
        actor.require("billing.read", org)
        stmt = stmt.where(col(Organization.path).startswith(org.path)
                          if query.include_suborganizations else Organization.id == org.id)
    if not actor.is_operator:
        stmt = stmt.where(SettlementRun.status == "approved")
    if query.date_from:
        stmt = stmt.where(SettlementRun.cut_off >= _helsinki_midnight(query.date_from))
    if query.date_to:
        stmt = stmt.where(SettlementRun.cut_off
                          < _helsinki_midnight(query.date_to + timedelta(days=1)))
    if query.status in STATUSES:
        stmt = stmt.where(Settlement.status == query.status)
    return stmt


def _page(total: int, page: int, page_size: int) -> tuple[int, int, int]:
    """(page, pages, size) clamped to what exists."""
    size = max(1, min(page_size, MAX_PAGE_SIZE))
    pages = max(1, -(-total // size))
    return max(1, min(page, pages)), pages, size


def list_settlements(session: Session, actor: Actor, query: SettlementQuery) -> SettlementPage:
    """One page of settlements, newest cut-off first, with the count and the payout sum."""
    stmt = _filtered(session, actor, query)
    sub = stmt.subquery()
    total, payout = session.exec(select(
        sa.func.count(), sa.func.coalesce(sa.func.sum(sub.c.payout_cents), 0))).one()
    page, pages, size = _page(int(total), query.page, query.page_size)
    rows = session.exec(stmt.order_by(col(SettlementRun.cut_off).desc(), Organization.path)
                        .offset((page - 1) * size).limit(size)).all()
    return SettlementPage([SettlementRow(*r) for r in rows], int(total), int(payout), page,
                          pages)


def get_settlement(session: Session, actor: Actor, settlement_id: int) -> SettlementRow:
    """One settlement's summary, if the asker may see it (else NotFound, like a missing id)."""
    row = session.exec(_base().where(Settlement.id == settlement_id)).first()
    missing = NotFound("Tilitystä ei löydy", "Settlement not found")
    if row is None:
        raise missing
    settlement = SettlementRow(*row)
    path = session.exec(select(Organization.path)
                        .where(Organization.id == settlement.organization_id)).one()
    if not actor.can("billing.read", path):
        raise missing
    if not actor.is_operator and settlement.run_status != "approved":
        raise missing
    return settlement


def _lines_stmt(settlement_id: int) -> Any:
    member = sa.orm.aliased(Person, name="member")
    payer = sa.orm.aliased(Person, name="payer")
    return (sa.select(SettlementLine.id, Payment.booking_date, Payment.payer_name,
                      payer.first_name, payer.last_name, Invoice.reference,
                      member.first_name, member.last_name, SettlementLine.amount_cents,
                      SettlementLine.fee_cents, SettlementLine.kind)
            .join(Payment, Payment.id == SettlementLine.payment_id)
            .join(Invoice, Invoice.id == SettlementLine.invoice_id)
            .join(member, member.id == Invoice.person_id)
            .join(payer, payer.id == Invoice.payer_id)
            .where(SettlementLine.settlement_id == settlement_id)
            .order_by(Payment.booking_date, SettlementLine.id))


def _line(row: Any) -> SettlementLineRow:
    (line_id, booked, bank_payer, payer_first, payer_last, reference, first, last, amount,
     fee, kind) = row
    # The payer as the bank or Paytrail named them; the invoice's payer when they did not.
    return SettlementLineRow(line_id, booked, bank_payer or f"{payer_last} {payer_first}",
                             reference, f"{last} {first}", amount, fee, kind)


def settlement_lines(session: Session, settlement_id: int) -> Iterator[SettlementLineRow]:
    """Every line of a settlement in payment-date order, streamed (for the report); the
    caller has checked the settlement with `get_settlement`."""
    result = session.execute(_lines_stmt(settlement_id).execution_options(yield_per=2000))
    for partition in result.partitions():
        for row in partition:
            yield _line(row)


def settlement_detail(session: Session, actor: Actor, settlement_id: int, *, page: int = 1,
                      page_size: int = 50) -> SettlementDetail:
    """The settlement's summary and one page of its lines (every member payment included)."""
    settlement = get_settlement(session, actor, settlement_id)
    count = int(session.exec(select(sa.func.count()).select_from(SettlementLine)
                             .where(SettlementLine.settlement_id == settlement_id)).one())
    page, pages, size = _page(count, page, page_size)
    rows = session.execute(_lines_stmt(settlement_id).offset((page - 1) * size)
                           .limit(size)).all()
    return SettlementDetail(settlement, [_line(r) for r in rows], count, page, pages)
