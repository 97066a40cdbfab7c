"""Match imported payments to invoices by reference — set-based, and explaining itself.

`match_staged` works on the payments of one `BankImport` that the importer staged in a
temporary table with status "new" (a chunk of the file at a time, in file order) and
decides, in a handful of SQL statements whatever the chunk size (the payments are then
written once, with their final status); `finish_import` then handles the file's
corrections and counts:

* reference of an open invoice, amount = what is due → `matched`, an invoice allocation;
* less than due → `matched`, the invoice becomes partly paid;
* more than due → `overpaid`: invoice allocation + credit on the payer (`overpayment`);
* invoice already paid or credited → `credit`: all on the payer's balance
  (`paid_invoice` / `credited_invoice`);
* correction or return of an earlier payment → `reversal` (the original becomes
  `reversed`): negative copies of the original's allocations (`reverses_allocation_id`);
* correction without an original → `unmatched` (`no_original`);
* valid reference but no such invoice → `unmatched` (`unknown_reference`);
* no reference / bad check digit (set by the importer) → `unmatched`
  (`no_reference` / `bad_reference`);
* other debits (payouts, bank fees) → `outgoing` (`debit`), nothing to match;
* a payout from Paytrail (payer Paytrail / Checkout Finland) → `psp_settlement`
  (`paytrail_settlement`): its member payments were booked from the callbacks, so it is
  reconciled (docs/paytrail.md), never matched or queued.

`Payment.match_rule` says how the reference was found: `reference` (as given), `rf` (RF →
national), `leading_zeros`, `free_text` (a reference written in the message), `rf_body`
(RF with wrong check digits around a valid national reference). A credit allocation has
`invoice_id` NULL and `person_id` = the invoice's payer, which is the payer's balance.
Several payments to one invoice in the same file are applied in file order (a window sum),
so the second one of two full payments becomes a credit. Invoice status is then derived
by `billing.status.refresh_invoices` for every touched invoice, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.billing.status import refresh_invoices
from membook_app.db import id_sequence, is_sqlite
from models import Allocation, Payment, utcnow

# Statuses a payment can have (Payment.status). "Matched" counts payments booked by
# reference, including one a correction later reversed; the correction itself is counted
# among `reversals`.
MATCHED_STATUSES = ("matched", "overpaid", "credit", "reversed")
PAYMENT_STATUSES = ("new", *MATCHED_STATUSES, "reversal", "unmatched", "refund", "outgoing",
                    "psp_settlement")
_MONEY_LOCK = 0x4D42_4D4E  # "MBMN": serialises bank imports and manual bookings on PostgreSQL


@dataclass(frozen=True)
class MatchCounts:
    payments: int
    credit_cents: int
    debit_cents: int
    matched: int
    unmatched: int
    outgoing: int
    reversals: int
    invoice_ids: tuple[int, ...]


def lock_money(session: Session) -> None:
    """Serialise money matching: two imports must not both fill the same open invoice.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: a no-op UPDATE takes the
    database write lock now (a plain SELECT would not), so what is read next stays true.
    """
    connection = session.connection()
    if is_sqlite(connection.engine):
        connection.exec_driver_sql("UPDATE payment SET id = id WHERE 0 = 1")
    else:
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MONEY_LOCK})")


_STAGE_COLUMNS = (
    ("id", "BIGINT"), ("source", "VARCHAR(20)"), ("source_id", "VARCHAR(64)"),
    ("bank_import_id", "INTEGER"),
    ("booking_date", "DATE"), ("value_date", "DATE"), ("amount_cents", "BIGINT"),
    ("currency", "VARCHAR(3)"), ("reference", "VARCHAR(40)"),
    ("national_reference", "VARCHAR(20)"), ("payer_name", "VARCHAR(140)"),
    ("payer_iban", "VARCHAR(34)"), ("message", "VARCHAR(500)"), ("status", "VARCHAR(20)"),
    ("match_rule", "VARCHAR(40)"), ("created_at", "TIMESTAMP WITH TIME ZONE"),
)
STAGE_COLUMNS = tuple(name for name, _ in _STAGE_COLUMNS)
_PAYMENT_COLUMNS = ", ".join(STAGE_COLUMNS)

_CREATE_STAGE = ("CREATE TEMP TABLE membook_stage (row_no INTEGER PRIMARY KEY, "
                 + ", ".join(f"{name} {kind}" for name, kind in _STAGE_COLUMNS) + ")")

_CREATE_MATCH = """
CREATE TEMP TABLE membook_match (
    row_no INTEGER PRIMARY KEY,
    invoice_id BIGINT NOT NULL,
    payer_id BIGINT NOT NULL,
    to_invoice BIGINT NOT NULL,
    to_credit BIGINT NOT NULL,
    blocked INTEGER NOT NULL
)"""

# room = what is still payable on the invoice before this payment (earlier payments of the
# same file to the same invoice count first); to_invoice = clamp(room, 0, amount).
_FILL_MATCH = """
INSERT INTO membook_match (row_no, invoice_id, payer_id, to_invoice, to_credit, blocked)
SELECT row_no, invoice_id, payer_id,
       CASE WHEN room <= 0 THEN 0 WHEN room >= amount THEN amount ELSE room END,
       amount - CASE WHEN room <= 0 THEN 0 WHEN room >= amount THEN amount ELSE room END,
       blocked
FROM (
    SELECT s.row_no AS row_no, i.id AS invoice_id, i.payer_id AS payer_id,
           s.amount_cents AS amount,
           CASE WHEN i.kind = 'credit_note' OR i.status = 'credited' THEN 1 ELSE 0 END
               AS blocked,
           CASE WHEN i.kind = 'credit_note' OR i.status = 'credited' THEN 0
                ELSE i.total_cents - i.credited_cents - i.paid_cents
                     - COALESCE(SUM(s.amount_cents) OVER (
                           PARTITION BY i.id ORDER BY s.row_no
                           ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
           END AS room
    FROM membook_stage s
    JOIN invoice i ON i.reference = s.national_reference
    WHERE s.status = 'new' AND s.amount_cents > 0
) AS m"""

# Payments go in once, with their final status: no second pass over the payment table.
_INSERT_PAYMENTS = f"""
INSERT INTO payment ({_PAYMENT_COLUMNS})
SELECT s.id, s.source, s.source_id, s.bank_import_id, s.booking_date, s.value_date, s.amount_cents,
       s.currency, s.reference, s.national_reference, s.payer_name, s.payer_iban, s.message,
       CASE WHEN m.row_no IS NOT NULL THEN
                CASE WHEN m.to_credit = 0 THEN 'matched'
                     WHEN m.to_invoice > 0 THEN 'overpaid' ELSE 'credit' END
            WHEN s.status = 'new' AND s.amount_cents > 0 THEN 'unmatched'
            ELSE s.status END,
       CASE WHEN m.row_no IS NULL AND s.status = 'new' AND s.amount_cents > 0
            THEN 'unknown_reference' ELSE s.match_rule END,
       s.created_at
FROM membook_stage s LEFT JOIN membook_match m ON m.row_no = s.row_no
ORDER BY s.row_no"""

_INSERT_ALLOCATIONS = """
INSERT INTO allocation (payment_id, invoice_id, person_id, amount_cents, kind, rule, created_at)
SELECT s.id, m.invoice_id, NULL, m.to_invoice, 'invoice', s.match_rule, :now
FROM membook_match m
JOIN membook_stage s ON s.row_no = m.row_no
WHERE m.to_invoice > 0
UNION ALL
SELECT s.id, NULL, m.payer_id, m.to_credit, 'credit',
       CASE WHEN m.to_invoice > 0 THEN 'overpayment'
            WHEN m.blocked = 1 THEN 'credited_invoice' ELSE 'paid_invoice' END,
       :now
FROM membook_match m
JOIN membook_stage s ON s.row_no = m.row_no
WHERE m.to_credit > 0"""


def create_stage(session: Session) -> None:
    """The per-chunk staging table (temporary, this connection only).

    On PostgreSQL the payment id comes from the payment table's own sequence as each row
    is copied in, in file order; SQLite gets its ids in `drop_booked`.
    """
    connection = session.connection()
    connection.execute(sa.text("DROP TABLE IF EXISTS membook_stage"))
    if is_sqlite(connection.engine):
        connection.execute(sa.text(_CREATE_STAGE))
    else:
        connection.execute(sa.text(_CREATE_STAGE.replace(
            "id BIGINT", f"id BIGINT DEFAULT nextval({id_sequence(connection, 'payment')})")))


def drop_booked(session: Session) -> int:
    """Remove staged payments whose archive id is booked already (an earlier file, or an
    earlier chunk of this one) and return how many; on SQLite then number the rest.

    SQLite's ids follow the largest id in file order, which is safe because `lock_money`
    holds the database write lock until commit; the gaps the dropped rows leave are
    harmless.
    """
    connection = session.connection()
    if not is_sqlite(connection.engine):
        # The row count and the columns the next statements join or filter on; the
        # others (names, messages) would only make ANALYZE slower.
        connection.execute(sa.text(
            "ANALYZE membook_stage (source, source_id, national_reference, status, "
            "amount_cents)"))
    dropped = connection.execute(sa.text(
        "DELETE FROM membook_stage WHERE EXISTS (SELECT 1 FROM payment p "
        "WHERE p.source = membook_stage.source AND p.source_id = membook_stage.source_id)"))
    if is_sqlite(connection.engine):
        connection.execute(sa.text(
            "UPDATE membook_stage SET id = row_no + 1 "
            "+ (SELECT coalesce(max(id), 0) FROM payment) "
            "- (SELECT min(row_no) FROM membook_stage)"))
    return int(dropped.rowcount or 0)


def match_staged(session: Session, today: date) -> set[int]:
    """Match the payments staged in `membook_stage` and write them with their allocations.

    The importer has filled `membook_stage` (`create_stage`) with one chunk of a file in
    file order and dropped what was booked before (`drop_booked`); statuses there are
    "new" (to be matched), "unmatched" or "outgoing" (decided from the file alone). The
    touched invoices are refreshed before returning, so the next chunk of the same file
    sees what this one paid. Returns the touched invoice ids.
    """
    now = utcnow()
    connection = session.connection()
    connection.execute(sa.text("DROP TABLE IF EXISTS membook_match"))
    connection.execute(sa.text(_CREATE_MATCH))
    try:
        if not is_sqlite(connection.engine):
            # The window sort over the staged payments and the grouped sums of
            # refresh_invoices spill to disk with the default 4 MB; this transaction only.
            # (`drop_booked` has analysed the staged rows.)
            connection.execute(sa.text("SET LOCAL work_mem = '64MB'"))
        connection.execute(sa.text(_FILL_MATCH))
        if not is_sqlite(connection.engine):
            connection.execute(sa.text("ANALYZE membook_match"))
        connection.execute(sa.text(_INSERT_PAYMENTS))
        connection.execute(sa.text(_INSERT_ALLOCATIONS), {"now": now})
        # Through the driver's cursor: SQLAlchemy rows cost ~0.4 s for 100,000 ids.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("SELECT DISTINCT invoice_id FROM membook_match WHERE to_invoice > 0")
            invoice_ids = {int(r[0]) for r in cursor.fetchall()}
        finally:
            cursor.close()
    finally:
        connection.execute(sa.text("DROP TABLE IF EXISTS membook_match"))
        connection.execute(sa.text("DROP TABLE IF EXISTS membook_stage"))
    refresh_invoices(session, invoice_ids, today=today)
    return invoice_ids


def finish_import(session: Session, import_id: int, today: date,
                  touched: set[int]) -> MatchCounts:
    """After the last chunk: undo what the file's corrections correct, and count.

    Corrections wait for the whole file because the payment one undoes may come later in
    the same file.
    """
    reversed_invoices = _reverse_corrections(session, import_id, utcnow())
    refresh_invoices(session, reversed_invoices, today=today)
    counts: dict[str, int] = {}
    credit = debit = 0
    for status, count, plus, minus in session.execute(
            sa.select(Payment.status, sa.func.count(),
                      sa.func.sum(sa.case((Payment.amount_cents > 0, Payment.amount_cents),
                                          else_=0)),
                      sa.func.sum(sa.case((Payment.amount_cents < 0, -Payment.amount_cents),
                                          else_=0)))
            .where(Payment.bank_import_id == import_id).group_by(Payment.status)).all():
        counts[status] = int(count)
        credit += int(plus or 0)
        debit += int(minus or 0)
    return MatchCounts(
        payments=sum(counts.values()), credit_cents=credit, debit_cents=debit,
        matched=sum(int(counts.get(s, 0)) for s in MATCHED_STATUSES),
        unmatched=int(counts.get("unmatched", 0)),
        outgoing=int(counts.get("outgoing", 0)),
        reversals=int(counts.get("reversal", 0)),
        invoice_ids=tuple(sorted(touched | reversed_invoices)),
    )


def reverse_payment(session: Session, correction: Payment, original: Payment,
                    user_id: int | None = None, rule: str = "correction") -> set[int]:
    """Undo `original` with negative allocations paid by `correction`; history stays.

    Returns the invoice ids whose state must be refreshed.
    """
    now = utcnow()
    allocations = session.exec(select(Allocation).where(
        Allocation.payment_id == original.id,
        col(Allocation.reverses_allocation_id).is_(None))).all()
    already = set(session.exec(select(Allocation.reverses_allocation_id).where(
        col(Allocation.reverses_allocation_id).in_([a.id for a in allocations]))).all())
    rows = [{"payment_id": correction.id, "invoice_id": a.invoice_id, "person_id": a.person_id,
             "amount_cents": -a.amount_cents, "kind": "reversal", "rule": rule,
             "reverses_allocation_id": a.id, "created_by_user_id": user_id, "created_at": now}
            for a in allocations if a.id not in already]
    if rows:
        session.execute(sa.insert(Allocation.__table__), rows)  # type: ignore[arg-type]
    correction.reverses_payment_id = original.id
    correction.status, correction.match_rule = "reversal", rule
    original.status = "reversed"
    session.add(correction)
    session.add(original)
    session.flush()
    return {a.invoice_id for a in allocations if a.invoice_id is not None}


def find_original(session: Session, correction: Payment) -> Payment | None:
    """The latest booked, not yet reversed payment this correction undoes.

    Same reference (as normalised, else as given) and the same amount. Without any
    reference there is nothing safe to go on — a payer name and an amount are not enough
    to undo money — so the correction waits in the unmatched queue (`no_original`) for a
    person. Corrections are rare, so this is one indexed query each.
    """
    query = select(Payment).where(
        col(Payment.status).in_(("matched", "overpaid", "credit")),
        Payment.amount_cents == -correction.amount_cents,
        Payment.id != correction.id,
    )
    if correction.national_reference:
        query = query.where(Payment.national_reference == correction.national_reference)
    elif correction.reference:
        query = query.where(Payment.reference == correction.reference)
    else:
        return None
    return session.exec(query.order_by(col(Payment.id).desc()).limit(1)).first()


def _reverse_corrections(session: Session, import_id: int, now: object) -> set[int]:
    corrections = session.exec(select(Payment).where(
        Payment.bank_import_id == import_id, Payment.status == "new",
        Payment.amount_cents < 0).order_by(col(Payment.id))).all()
    touched: set[int] = set()
    for correction in corrections:
        original = find_original(session, correction)
        if original is None:
            correction.status, correction.match_rule = "unmatched", "no_original"
            session.add(correction)
            continue
        touched |= reverse_payment(session, correction, original)
    session.flush()
    return touched
