"""Property: whatever happens to the money, settlements account for every cent, once.

For any sequence of invoices (one to three organisations' lines), payments (partial,
exact, over), the bank's corrections, credit notes, payments booked by hand from the
unmatched queue, refunds, and settlement runs (approved or discarded) in between:

* paid out + fees + carried balances + not yet settled = money allocated to invoices;
* no allocation is settled twice, and every settled allocation's lines add up to it;
* each settled share is what `split.py` says (or the exact mirror of the settled original).

Money is booked through the real bank import (camt.054) and the queue functions. Runs on
SQLite and PostgreSQL; one database per test, each example adds to it (the invariants are
global, so they must hold across examples too).
"""

from __future__ import annotations

from itertools import count

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from membook_app.billing.invoices import create_credit_note
from membook_app.db import session_scope
from membook_app.payments.unmatched import book_payment, mark_refund
from membook_app.settlements.runs import NothingToSettle, approve_run, create_run, discard_run
from membook_app.settlements.split import split_by_org
from models import Allocation, Invoice, Payment, SettlementLine, SettlementRun, invoice_lines
from tests.db.settlement_support import (
    Org3,
    correct,
    make_invoice,
    make_org_tree,
    money_balance,
    pay,
    received_on_invoices,
)

_trees: dict[str, Org3] = {}
_free_text = count(1)


def _operator(s):  # type: ignore[no-untyped-def]
    from membook_app.accounts.permissions import load_actor
    from membook_app.accounts.users import get_or_create_user
    return load_actor(s, get_or_create_user(s, None, "operaattori@example.fi",
                                            is_operator=True))


def _expected_shares(s, pending: list[Allocation]) -> dict[tuple[int, int], int]:  # type: ignore[no-untyped-def]
    """What split.py (or the mirror of a settled original) gives each pending allocation."""
    expected: dict[tuple[int, int], int] = {}
    for a in pending:
        if a.reverses_allocation_id is not None:
            original = s.exec(select(SettlementLine).where(
                SettlementLine.allocation_id == a.reverses_allocation_id)).all()
            if original:
                for line in original:
                    expected[(a.id, line.organization_id)] = -line.amount_cents
                continue
        invoice = s.get(Invoice, a.invoice_id)
        notes = select(Invoice.id).where(Invoice.credited_invoice_id == a.invoice_id,
                                         Invoice.kind == "credit_note")
        lines = s.execute(sa.select(invoice_lines).where(
            sa.or_(invoice_lines.c.invoice_id == a.invoice_id,
                   invoice_lines.c.invoice_id.in_(notes)))).all()
        for org, cents in split_by_org(
                a.amount_cents, [(ln.organization_id, ln.amount_cents, ln.position)
                                 for ln in lines], invoice.organization_id).items():
            expected[(a.id, org)] = cents
    return expected


def _settle(url: str, approve: bool) -> None:
    with session_scope(url) as s:
        settled = select(SettlementLine.allocation_id)
        pending = s.exec(select(Allocation).where(
            col(Allocation.invoice_id).is_not(None), Allocation.amount_cents != 0,
            col(Allocation.id).not_in(settled))).all()
        expected = _expected_shares(s, list(pending))
        if not pending:
            with pytest.raises(NothingToSettle):
                create_run(s, None)
            return
        run = create_run(s, None)
        run_id = run.id
        written = {(ln.allocation_id, ln.organization_id): ln.amount_cents
                   for ln in s.exec(select(SettlementLine).where(
                       col(SettlementLine.allocation_id).in_([a.id for a in pending]))).all()}
        assert written == expected
    with session_scope(url) as s:
        if approve:
            approve_run(s, None, run_id)  # type: ignore[arg-type]
        else:
            discard_run(s, None, run_id)  # type: ignore[arg-type]


def _check(url: str) -> None:
    with session_scope(url) as s:
        payouts, fees, carried, unsettled = money_balance(s)
        assert payouts + fees + carried + unsettled == received_on_invoices(s)
        # Every settled allocation is settled whole, in one run, and no (allocation,
        # organisation) twice (the unique constraint; checked here as well).
        rows = s.execute(sa.text(
            "SELECT a.id, a.amount_cents, SUM(l.amount_cents), COUNT(*), "
            "COUNT(DISTINCT l.organization_id), COUNT(DISTINCT t.run_id) "
            "FROM allocation a JOIN settlementline l ON l.allocation_id = a.id "
            "JOIN settlement t ON t.id = l.settlement_id "
            "GROUP BY a.id, a.amount_cents")).all()
        for _, amount, total, lines, orgs, run_count in rows:
            assert int(total) == int(amount)
            assert lines == orgs and run_count == 1


operations = st.lists(st.one_of(
    st.tuples(st.just("invoice"), st.lists(st.integers(0, 4000), min_size=3, max_size=3),
              st.sets(st.integers(0, 2), min_size=1)),
    st.tuples(st.just("pay"), st.integers(0, 50), st.sampled_from([1, 2, 3, 4, 6])),
    st.tuples(st.just("correct"), st.integers(0, 50)),
    st.tuples(st.just("credit"), st.integers(0, 50), st.booleans()),
    st.tuples(st.just("manual"), st.integers(0, 50), st.integers(1, 6000)),
    st.tuples(st.just("refund"), st.integers(1, 6000)),
    st.tuples(st.just("settle"), st.booleans()),
), min_size=1, max_size=12)


def _run_operations(url: str, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    w = _trees.setdefault(url, make_org_tree(url))
    orgs = (w.club, w.district, w.federation)
    invoices: list[tuple[int, str, int]] = []   # id, reference, total
    paid: list[tuple[str, int]] = []            # reference, cents of bank payments
    for op in ops:
        kind = op[0]
        if kind == "invoice":
            _, amounts, which = op
            lines = [(orgs[i], amounts[i]) for i in sorted(which)]
            if sum(c for _, c in lines) <= 0:
                continue
            # every other invoice as an invoice run writes it (lines of a run price)
            invoice_id, ref = make_invoice(w, lines, priced=len(invoices) % 2 == 1)
            invoices.append((invoice_id, ref, sum(c for _, c in lines)))
        elif kind == "pay" and invoices:
            _, pick, quarters = op
            _, ref, total = invoices[pick % len(invoices)]
            cents = max(1, total * quarters // 4)  # a quarter … one and a half
            pay(url, [(ref, cents)])
            paid.append((ref, cents))
        elif kind == "correct" and paid:
            ref, cents = paid.pop(op[1] % len(paid))
            correct(url, ref, cents)
        elif kind == "credit" and invoices:
            _, pick, full = op
            invoice_id = invoices[pick % len(invoices)][0]
            with session_scope(url) as s:
                invoice = s.get(Invoice, invoice_id)
                if invoice is None or invoice.status == "credited":
                    continue
                first = s.execute(sa.select(invoice_lines).where(
                    invoice_lines.c.invoice_id == invoice_id).order_by(
                    invoice_lines.c.position)).first()
                try:
                    create_credit_note(s, None, invoice_id, amounts=None if full else {
                        first.position: max(1, first.amount_cents // 2)})  # type: ignore[union-attr]
                except Exception as exc:  # nothing left to credit on that line
                    s.rollback()
                    assert "credit" in str(exc).lower() or "hyvit" in str(exc).lower()
        elif kind == "manual" and invoices:
            _, pick, cents = op
            invoice_id = invoices[pick % len(invoices)][0]
            pay(url, [{"cents": cents, "ustrd": f"maksu {next(_free_text)}"}])
            with session_scope(url) as s:
                payment = s.exec(select(Payment).where(Payment.status == "unmatched",
                                                       Payment.amount_cents == cents)
                                 .order_by(col(Payment.id).desc())).first()
                assert payment is not None
                book_payment(s, _operator(s), payment.id, invoice_id)  # type: ignore[arg-type]
        elif kind == "refund":
            pay(url, [{"cents": op[1], "ustrd": f"palautus {next(_free_text)}"}])
            with session_scope(url) as s:
                payment = s.exec(select(Payment).where(Payment.status == "unmatched")
                                 .order_by(col(Payment.id).desc())).first()
                assert payment is not None
                mark_refund(s, _operator(s), payment.id)  # type: ignore[arg-type]
        elif kind == "settle":
            _settle(url, approve=op[1])
            _check(url)
    _check(url)
    _settle(url, approve=True)
    _check(url)
    with session_scope(url) as s:
        assert s.exec(select(SettlementRun).where(SettlementRun.status == "draft")).all() == []


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
@example(ops=[  # every kind of event at least once, settled in between
    ("invoice", [3000, 1500, 1000], {0, 1, 2}), ("invoice", [1, 1, 1], {0, 1, 2}),
    ("pay", 0, 2), ("pay", 1, 6), ("settle", True), ("pay", 0, 2), ("correct", 0),
    ("credit", 1, False), ("manual", 1, 2), ("refund", 700), ("settle", False),
    ("invoice", [999, 0, 1], {0, 2}), ("pay", 2, 3), ("correct", 0), ("settle", True),
    ("credit", 0, True), ("pay", 0, 4)])
def test_every_cent_is_settled_once(db_url: str, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    _run_operations(db_url, ops)


def test_the_explicit_example_covers_reversals_credits_and_carry(db_url: str) -> None:
    """The fixed sequence above really exercises what the property is about."""
    _run_operations(db_url, [
        ("invoice", [3000, 1500, 1000], {0, 1, 2}), ("pay", 0, 4), ("settle", True),
        ("correct", 0), ("invoice", [100, 0, 0], {0}), ("credit", 0, False),
        ("pay", 1, 4), ("settle", True)])
    with session_scope(db_url) as s:
        kinds = set(s.exec(select(SettlementLine.kind)).all())
        assert kinds == {"payment", "reversal"}
        statuses = set(s.exec(select(sa.text("status")).select_from(
            sa.table("settlement"))).all())
        assert "carried" in statuses
