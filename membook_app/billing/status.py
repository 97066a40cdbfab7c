"""An invoice's status follows from its allocations and credit notes — computed here only.

Every money change (bank import, manual booking, Paytrail, credit note,
reversal) calls `refresh_invoices` inside its own transaction, so the stored
`paid_cents`, `credited_cents` and `status` can never disagree with the rows
they are derived from. It works set-based, so a bank file of 100,000
payments refreshes its invoices in a few statements, not 100,000.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col

from models import Allocation, Invoice

CHUNK = 5000


def derive_status(total: int, paid: int, credited: int, due: date, today: date) -> str:
    """The status rule, in one place.

    credited: credit notes cover the whole amount; paid: allocations cover what
    is left; partly_paid: something but not all; overdue: nothing or part
    paid and the due date has passed; otherwise open.
    """
    payable = total - credited
    if total > 0 and credited >= total:
        return "credited"
    if paid >= payable:
        return "paid"
    if due < today:
        return "overdue"
    if paid > 0:
        return "partly_paid"
    return "open"


def refresh_invoices(session: Session, invoice_ids: Iterable[int],
                     today: date | None = None) -> None:
    """Recompute paid/credited/status of these invoices from allocations and credit notes."""
    today = today or date.today()
    ids = sorted(set(invoice_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        paid = dict(session.execute(
            sa.select(Allocation.invoice_id,
                      sa.func.coalesce(sa.func.sum(Allocation.amount_cents), 0))
            .where(col(Allocation.invoice_id).in_(chunk))
            .group_by(Allocation.invoice_id)
        ).all())
        credited = dict(session.execute(
            sa.select(Invoice.credited_invoice_id,
                      sa.func.coalesce(-sa.func.sum(Invoice.total_cents), 0))
            .where(col(Invoice.credited_invoice_id).in_(chunk), Invoice.kind == "credit_note")
            .group_by(Invoice.credited_invoice_id)
        ).all())
        rows = session.execute(
            sa.select(Invoice.id, Invoice.kind, Invoice.total_cents, Invoice.due_date,
                      Invoice.paid_cents, Invoice.credited_cents, Invoice.status)
            .where(col(Invoice.id).in_(chunk))
        ).all()
        updates = []
        for invoice_id, kind, total, due, old_paid, old_credited, old_status in rows:
            new_paid = int(paid.get(invoice_id, 0))
            new_credited = int(credited.get(invoice_id, 0))
            if kind == "credit_note":
                new_status = "credited"
            else:
                new_status = derive_status(total, new_paid, new_credited, due, today)
            if (new_paid, new_credited, new_status) != (old_paid, old_credited, old_status):
                updates.append({"b_id": invoice_id, "b_paid": new_paid,
                                "b_credited": new_credited, "b_status": new_status})
        if updates:
            session.execute(
                sa.update(Invoice.__table__)  # type: ignore[arg-type]
                .where(Invoice.__table__.c.id == sa.bindparam("b_id"))  # type: ignore[attr-defined]
                .values(paid_cents=sa.bindparam("b_paid"),
                        credited_cents=sa.bindparam("b_credited"),
                        status=sa.bindparam("b_status")),
                updates,
            )


def refresh_overdue(session: Session, today: date | None = None) -> int:
    """Daily: open and partly paid invoices past their due date become overdue."""
    today = today or date.today()
    result = session.execute(
        sa.update(Invoice.__table__)  # type: ignore[arg-type]
        .where(Invoice.__table__.c.status.in_(("open", "partly_paid")),  # type: ignore[attr-defined]
               Invoice.__table__.c.due_date < today)  # type: ignore[attr-defined]
        .values(status="overdue")
    )
    return int(result.rowcount or 0)
