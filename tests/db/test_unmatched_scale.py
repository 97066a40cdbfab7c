"""The scoped unmatched queue stays a handful of statements however long the queue is.

A treasurer's queue is judged by `payments.resemblance.with_candidates`: one query per
reason for a batch of queued payments, never one per payment, so a few hundred queued
payments against a club's many invoices cost about as much as a few.
`QUEUE_SCALE_INVOICES` (default 3,000) raises the invoice count for a timing by hand.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import sqlalchemy as sa

from membook_app.banking.references import make_national
from membook_app.db import get_engine, session_scope
from membook_app.payments.unmatched import list_unmatched, waiting_summary
from models import Invoice, Payment
from tests.db.test_bank_import_support import actor, make_world
from tests.factories import make_staff

INVOICES = int(os.environ.get("QUEUE_SCALE_INVOICES", "3000"))


@contextmanager
def counted(url: str) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = get_engine(url)

    def count(_conn, _cursor, sql, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(sql)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def reference(n: int) -> str:
    return make_national(str(100000 + n))


def add_invoices(url: str, club: int, payer: int) -> None:
    with session_scope(url) as s:
        s.execute(sa.insert(Invoice.__table__), [  # type: ignore[arg-type]
            {"organization_id": club, "person_id": payer, "payer_id": payer,
             "reference": reference(n), "issue_date": date(2026, 11, 1),
             "due_date": date(2026, 12, 31), "total_cents": 100000 + n, "paid_cents": 0,
             "credited_cents": 0, "status": "open", "kind": "invoice", "description": ""}
            for n in range(INVOICES)])


def queue(url: str, first: int, count: int) -> None:
    """Unmatched payments; of each four, one carries a typo of an invoice's reference, one
    its amount, one its payer's name (Salo), and one resembles nothing."""
    rows = []
    for n in range(first, first + count):
        ref = reference(n % INVOICES)
        kind = n % 4
        rows.append({
            "source": "bank", "source_id": f"Q{n}", "booking_date": date(2026, 11, 2),
            "amount_cents": 100000 + n % INVOICES if kind == 1 else 7,
            "reference": ref[:-1] + str((int(ref[-1]) + 1) % 10) if kind == 0 else None,
            "payer_name": "Salo Sari" if kind == 2 else "Vieras Maksaja",
            "status": "unmatched", "currency": "EUR"})
    with session_scope(url) as s:
        s.execute(sa.insert(Payment.__table__), rows)  # type: ignore[arg-type]


def test_queue_costs_a_few_statements_not_one_per_payment(db_url: str) -> None:
    world = make_world(db_url, invoices={})
    add_invoices(db_url, world.tree.club_b, world.people["salo"])
    treasurer = actor(db_url, make_staff(db_url, "tb@example.fi", world.tree.club_b,
                                         "treasurer"))
    queue(db_url, 0, 20)
    with session_scope(db_url) as s, counted(db_url) as few:
        assert len(list_unmatched(s, treasurer)) == 15
    queue(db_url, 20, 580)
    with session_scope(db_url) as s, counted(db_url) as many:
        started = time.perf_counter()
        rows = list_unmatched(s, treasurer, limit=1000)
        count, cents = waiting_summary(s, treasurer, world.tree.club_b)
        elapsed = time.perf_counter() - started
    assert len(rows) == count == 450
    assert cents == sum(r.amount_cents for r in rows)
    assert not any(r.source_id.startswith("Q") and int(r.source_id[1:]) % 4 == 3 for r in rows)
    assert len(few) <= 6 and len(many) <= 40, (len(few), len(many))
    print(f"{INVOICES} invoices, 600 queued: {elapsed:.3f} s, {len(many)} statements")
