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
from sqlmodel import Session

from membook_app.db import is_sqlite
from models import Invoice

CHUNK = 5000


# The status rule, in one place (SQL, so it runs set-based where the rows are):
# credited: credit notes cover the whole amount; paid: allocations cover what is
# left; overdue: not all paid and the due date has passed; partly_paid: something
# but not all; otherwise open. A credit note itself is always "credited".
_STATUS_CASE = """
CASE WHEN kind = 'credit_note' THEN 'credited'
     WHEN total_cents > 0 AND credited_cents >= total_cents THEN 'credited'
     WHEN paid_cents >= total_cents - credited_cents THEN 'paid'
     WHEN due_date < :today THEN 'overdue'
     WHEN paid_cents > 0 THEN 'partly_paid'
     ELSE 'open' END"""

# One UPDATE writes each invoice once and only when something changed: each
# written row version also goes into every index of the invoice table (status is indexed),
# which on PostgreSQL made three UPDATEs per invoice cost ~0.3 s per 5,000 invoices each.
# The sums come from grouped passes over the chunk's allocations and credit notes, never
# from a correlated subquery on `credited_invoice_id`: it is almost all NULL, and after
# ANALYZE SQLite judged its index useless and scanned the invoice table once per invoice.
# `{ids}`: PostgreSQL takes all ids as one array parameter in one statement (5,000 bound
# values cost more to plan than to update); SQLite gets chunks of `?` placeholders.
_REFRESH = """
UPDATE invoice
SET paid_cents = v.paid_cents, credited_cents = v.credited_cents, status = v.status
FROM (
    SELECT id, paid_cents, credited_cents, {status} AS status
    FROM (
        SELECT i.id AS id, i.kind AS kind, i.total_cents AS total_cents,
               i.due_date AS due_date, COALESCE(p.paid, 0) AS paid_cents,
               COALESCE(c.credited, 0) AS credited_cents
        FROM invoice i
        LEFT JOIN (SELECT invoice_id, SUM(amount_cents) AS paid FROM allocation
                   WHERE invoice_id {ids} GROUP BY invoice_id) AS p
               ON p.invoice_id = i.id
        LEFT JOIN (SELECT credited_invoice_id, -SUM(total_cents) AS credited FROM invoice
                   WHERE kind = 'credit_note' AND credited_invoice_id {ids}
                   GROUP BY credited_invoice_id) AS c
               ON c.credited_invoice_id = i.id
        WHERE i.id {ids}
    ) AS t
) AS v
WHERE invoice.id = v.id
  AND (invoice.paid_cents <> v.paid_cents OR invoice.credited_cents <> v.credited_cents
       OR invoice.status <> v.status)"""


def refresh_invoices(session: Session, invoice_ids: Iterable[int],
                     today: date | None = None) -> None:
    """Recompute paid/credited/status of these invoices from allocations and credit notes.

    One set-based UPDATE (`_REFRESH`; on SQLite one per chunk of ids), whatever the
    number of invoices.
    """
    today = today or date.today()
    ids = sorted(set(invoice_ids))
    if not ids:
        return
    if is_sqlite(session.connection().engine):
        statement = sa.text(_REFRESH.format(ids="IN :ids", status=_STATUS_CASE)).bindparams(
            sa.bindparam("ids", expanding=True))
        chunk_size = CHUNK
    else:
        statement = sa.text(_REFRESH.format(ids="= ANY(:ids)", status=_STATUS_CASE))
        chunk_size = len(ids)
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start:start + chunk_size]
        session.execute(statement, {"ids": chunk, "today": today})
        _reload_loaded(session, set(chunk))


def _reload_loaded(session: Session, ids: set[int]) -> None:
    """Invoices already loaded in this session see the new values (reloaded now, so they
    stay readable after the session closes)."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Invoice) and obj.id in ids:
            session.refresh(obj, attribute_names=["paid_cents", "credited_cents", "status"])


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
