"""The invoice reference scheme: one national reference per invoice, never changed.

    reference = make_national("1" + f"{invoice_id:06d}")      e.g. id 42 → 1000042 + check digit

* "1" is the prefix digit of invoices. Other money objects that need their
  own references (settlement payouts, …) take another prefix digit (2–9), so
  the schemes can never collide, and a reference tells what it belongs to.
* The invoice id is unique and never changes, so the reference is unique
  across the installation and never changes either. The base has at least
  7 digits (the banks' minimum for a national reference is 4 including the
  check digit) and the prefix keeps zero-padding significant.
* Ids are allocated before the rows are written (`allocate_invoice_ids`), so a
  run of 100,000 invoices is written in one bulk insert with final references
  (no second pass, no placeholder reference): on PostgreSQL from the table's
  sequence (`nextval` × n in one query), on SQLite as max(id)+1… after the
  write lock is taken (`lock_for_invoicing`), which makes the range ours
  until commit.
"""

from __future__ import annotations

import operator

import sqlalchemy as sa
from sqlmodel import Session

from membook_app.banking.references import make_national, validate_national
from membook_app.db import id_sequence

INVOICE_PREFIX = "1"
PAD = 6
MAX_ID = 10 ** 18 - 1  # base of at most 19 digits
_ADVISORY_LOCK = 7_314_001  # PostgreSQL: invoice writers queue on this key
_WEIGHTS = (7, 3, 1) * 7  # 7-3-1 from the right, enough for a 21-digit base


def invoice_reference(invoice_id: int) -> str:
    """The national reference of the invoice with this id (digits, no spaces).

    Same result as `make_national(base)` (a test checks it over many ids), computed
    without its input validation because runs make 100,000 of these at once.
    """
    if not 0 < invoice_id <= MAX_ID:
        raise ValueError(f"invoice id out of range: {invoice_id}")
    base = f"{INVOICE_PREFIX}{invoice_id:0{PAD}d}"
    total = sum(map(operator.mul, map(int, reversed(base)), _WEIGHTS))
    return f"{base}{-total % 10}"


def invoice_reference_checked(invoice_id: int) -> str:
    """The same through the general banking helper (the reference implementation)."""
    return make_national(f"{INVOICE_PREFIX}{invoice_id:0{PAD}d}")


def invoice_id_from_reference(reference: str) -> int | None:
    """The invoice id inside a valid invoice reference, or None (other scheme, invalid)."""
    try:
        digits = validate_national(reference)
    except ValueError:
        return None
    base = digits[:-1]
    if not base.startswith(INVOICE_PREFIX) or len(base) < PAD + 1:
        return None
    return int(base[1:])


def lock_for_invoicing(session: Session) -> None:
    """Serialise writers of invoices until the transaction ends.

    SQLite: a no-op UPDATE takes the database write lock now (a plain SELECT
    would not). PostgreSQL: a transaction-scoped advisory lock, so two runs
    over overlapping subtrees do not race on the same dedupe keys.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("UPDATE invoice SET id = id WHERE 0 = 1")
    else:
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})")


def allocate_invoice_ids(session: Session, count: int) -> list[int]:
    """`count` fresh invoice ids for rows inserted in this transaction.

    Call `lock_for_invoicing` first on SQLite (it is done here too, idempotently).
    PostgreSQL: the ids come from the id sequence, so concurrent inserts elsewhere
    can never take them.
    """
    if count <= 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        lock_for_invoicing(session)
        current = connection.execute(sa.text("SELECT coalesce(max(id), 0) FROM invoice")).scalar()
        start = int(current or 0) + 1
        return list(range(start, start + count))
    # One array, not 100,000 result rows: SQLAlchemy's row handling alone cost 0.15 s.
    ids = connection.execute(sa.text(
        f"SELECT array_agg(nextval({id_sequence(connection, 'invoice')})) "
        "FROM generate_series(1, :n)"), {"n": count}).scalar_one()
    return sorted(int(i) for i in ids)
