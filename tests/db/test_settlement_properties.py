"""Property: whatever happens to the money, settlements account for every cent, once.

For any sequence of invoices (one to three organisations' lines), payments (partial,
exact, over), the bank's corrections, credit notes (on open, partly paid, paid and
settled invoices, of any line), payments booked by hand from the unmatched queue,
payments marked for refund and refunds paid back, and settlement runs (approved or
discarded) in between:

* paid out + carried balances + fees + not yet settled + payers' credit balances +
  the unmatched and refund queues = money received − refunds paid back, to the cent,
  where "money received" is what the test paid in (counted here, not read back) and
  the fees are recomputed here from the plans (each organisation's fee once per member
  payment in which it has a positive share) and must equal what the runs charged;
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
from membook_app.payments.refunds import mark_refund_paid
from membook_app.payments.unmatched import book_payment, mark_refund
from membook_app.settlements.runs import NothingToSettle, approve_run, create_run, discard_run
from membook_app.settlements.split import split_by_org
from models import (
    Allocation,
    Invoice,
    Organization,
    Payment,
    Plan,
    SettlementLine,
    SettlementRun,
    invoice_lines,
)
from tests.db.settlement_support import (
    Org3,
    correct,
    make_invoice,
    make_org_tree,
    money_balance,
    pay,
)

_trees: dict[str, Org3] = {}
_received: dict[str, int] = {}   # per database: every cent the test paid in (less corrections)
_refunded: dict[str, int] = {}   # per database: refunds paid back out of the account
_free_text = count(1)


def _operator(s):  # type: ignore[no-untyped-def]
    from membook_app.accounts.permissions import load_actor
    from membook_app.accounts.users import get_or_create_user
    return load_actor(s, get_or_create_user(s, None, "operaattori@example.fi",
                                            is_operator=True))


def _lines(s, invoice_id: int) -> list[tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    return [(ln.organization_id, ln.amount_cents, ln.position) for ln in s.execute(
        sa.select(invoice_lines).where(invoice_lines.c.invoice_id == invoice_id)).all()]


def _expected_shares(s, pending: list[Allocation]) -> dict[tuple[int, int], int]:  # type: ignore[no-untyped-def]
    """What split.py (or the mirror of a settled original) gives each pending allocation:
    the invoice's lines netted with the credit notes made at or before the allocation (a
    reversal: before the allocation it reverses); money a credit note moved to the payer's
    credit by that note's lines, negated."""
    expected: dict[tuple[int, int], int] = {}
    for a in pending:
        basis = a
        if a.reverses_allocation_id is not None:
            original = s.exec(select(SettlementLine).where(
                SettlementLine.allocation_id == a.reverses_allocation_id)).all()
            if original:
                for line in original:
                    expected[(a.id, line.organization_id)] = -line.amount_cents
                continue
            basis = s.get(Allocation, a.reverses_allocation_id)
        invoice = s.get(Invoice, a.invoice_id)
        note_id = a.credit_note_id or basis.credit_note_id
        if note_id is not None:
            lines = [(org, -cents, pos) for org, cents, pos in _lines(s, note_id)]
        else:
            lines = _lines(s, a.invoice_id)
            for note in s.exec(select(Invoice).where(
                    Invoice.credited_invoice_id == a.invoice_id,
                    Invoice.kind == "credit_note")).all():
                if note.created_at <= basis.created_at:
                    lines += _lines(s, note.id)
        for org, cents in split_by_org(a.amount_cents, lines,
                                       invoice.organization_id).items():
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


def _fees_by_plan(s) -> int:  # type: ignore[no-untyped-def]
    """The fees the runs must have charged, recomputed from the plans: each organisation
    pays its plan's fee once per member payment in which it has a positive share (a
    reversal's share is none: it undoes, it is not paid)."""
    pairs = s.execute(sa.select(SettlementLine.payment_id, SettlementLine.organization_id)
                      .join(Allocation, col(Allocation.id) == SettlementLine.allocation_id)
                      .where(SettlementLine.amount_cents > 0,
                             col(Allocation.reverses_allocation_id).is_(None))
                      .distinct()).all()
    plan_fee = dict(s.execute(sa.select(Organization.id, Plan.transaction_fee_cents)
                              .join(Plan, Plan.id == Organization.plan_id)).all())
    return sum(int(plan_fee[org]) for _, org in pairs)


def _check(url: str) -> None:
    with session_scope(url) as s:
        payouts, fees, carried, unsettled = money_balance(s)
        expected_fees = _fees_by_plan(s)
        assert fees == expected_fees
        credit = int(s.exec(select(sa.func.coalesce(sa.func.sum(Allocation.amount_cents), 0))
                            .where(col(Allocation.invoice_id).is_(None))).one())
        queued = int(s.exec(select(sa.func.coalesce(sa.func.sum(Payment.amount_cents), 0))
                            .where(col(Payment.status).in_(("unmatched", "refund")),
                                   col(Payment.refunded_on).is_(None))).one())
        assert (payouts + carried + expected_fees + unsettled + credit + queued
                == _received[url] - _refunded[url])
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


_invoice_op = st.tuples(st.just("invoice"),
                        st.lists(st.integers(0, 4000), min_size=3, max_size=3),
                        st.sets(st.integers(0, 2), min_size=1))
# Every sequence starts with an invoice, so no example is spent on money with nowhere to go.
operations = st.tuples(_invoice_op, st.lists(st.one_of(
    _invoice_op,
    st.tuples(st.just("pay"), st.integers(0, 50), st.sampled_from([1, 2, 3, 4, 6])),
    st.tuples(st.just("correct"), st.integers(0, 50)),
    st.tuples(st.just("credit"), st.integers(0, 50), st.booleans(), st.integers(0, 2)),
    st.tuples(st.just("manual"), st.integers(0, 50), st.integers(1, 6000)),
    st.tuples(st.just("refund"), st.integers(1, 6000)),
    st.tuples(st.just("refund_paid"), st.integers(0, 50)),
    st.tuples(st.just("settle"), st.booleans()),
), min_size=1, max_size=20)).map(lambda t: [t[0], *t[1]])


def _run_operations(url: str, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    w = _trees.setdefault(url, make_org_tree(url))
    _received.setdefault(url, 0)
    _refunded.setdefault(url, 0)
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
            _received[url] += cents
            paid.append((ref, cents))
        elif kind == "correct" and paid:
            ref, cents = paid.pop(op[1] % len(paid))
            correct(url, ref, cents)
            _received[url] -= cents
        elif kind == "credit" and invoices:
            _, pick, full, which = op
            invoice_id = invoices[pick % len(invoices)][0]
            with session_scope(url) as s:
                invoice = s.get(Invoice, invoice_id)
                if invoice is None or invoice.status == "credited":
                    continue
                lines = s.execute(sa.select(invoice_lines).where(
                    invoice_lines.c.invoice_id == invoice_id).order_by(
                    invoice_lines.c.position)).all()
                line = lines[which % len(lines)]
                try:
                    create_credit_note(s, None, invoice_id, amounts=None if full else {
                        line.position: max(1, line.amount_cents // 2)})
                except Exception as exc:  # nothing left to credit on that line
                    s.rollback()
                    assert "credit" in str(exc).lower() or "hyvit" in str(exc).lower()
        elif kind == "manual" and invoices:
            _, pick, cents = op
            invoice_id = invoices[pick % len(invoices)][0]
            pay(url, [{"cents": cents, "ustrd": f"maksu {next(_free_text)}"}])
            _received[url] += cents
            with session_scope(url) as s:
                payment = s.exec(select(Payment).where(Payment.status == "unmatched",
                                                       Payment.amount_cents == cents)
                                 .order_by(col(Payment.id).desc())).first()
                assert payment is not None
                book_payment(s, _operator(s), payment.id, invoice_id)  # type: ignore[arg-type]
        elif kind == "refund":
            pay(url, [{"cents": op[1], "ustrd": f"palautus {next(_free_text)}"}])
            _received[url] += op[1]
            with session_scope(url) as s:
                payment = s.exec(select(Payment).where(Payment.status == "unmatched")
                                 .order_by(col(Payment.id).desc())).first()
                assert payment is not None
                mark_refund(s, _operator(s), payment.id)  # type: ignore[arg-type]
        elif kind == "refund_paid":
            with session_scope(url) as s:
                owed = s.exec(select(Payment).where(Payment.status == "refund",
                                                    col(Payment.refunded_on).is_(None))
                              .order_by(col(Payment.id))).all()
                if owed:
                    payment = owed[op[1] % len(owed)]
                    mark_refund_paid(s, _operator(s), payment.id,  # type: ignore[arg-type]
                                     payment.booking_date)
                    _refunded[url] += payment.amount_cents
        elif kind == "settle":
            _settle(url, approve=op[1])
            _check(url)
    _check(url)
    _settle(url, approve=True)
    _check(url)
    with session_scope(url) as s:
        assert s.exec(select(SettlementRun).where(SettlementRun.status == "draft")).all() == []


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=operations)
@example(ops=[  # every kind of event at least once, settled in between
    ("invoice", [3000, 1500, 1000], {0, 1, 2}), ("invoice", [1, 1, 1], {0, 1, 2}),
    ("pay", 0, 2), ("pay", 1, 6), ("settle", True), ("pay", 0, 2), ("correct", 0),
    ("credit", 1, False, 0), ("manual", 1, 2), ("refund", 700), ("refund_paid", 0),
    ("settle", False),
    ("invoice", [999, 0, 1], {0, 2}), ("pay", 2, 3), ("correct", 0), ("settle", True),
    ("credit", 0, True, 0), ("pay", 0, 4)])
@example(ops=[  # credit notes on paid and on settled invoices, then corrections
    ("invoice", [2750, 1500, 1250], {0, 1, 2}), ("pay", 0, 4), ("credit", 0, False, 1),
    ("settle", True), ("invoice", [2750, 1500, 1250], {0, 1, 2}), ("pay", 1, 3),
    ("pay", 1, 2), ("settle", True), ("credit", 1, False, 2), ("credit", 1, True, 0),
    ("correct", 1), ("settle", True), ("pay", 0, 1), ("correct", 0), ("settle", True)])
def test_every_cent_is_settled_once(db_url: str, ops: list[tuple]) -> None:  # type: ignore[type-arg]
    _run_operations(db_url, ops)


def test_the_explicit_example_covers_reversals_credits_and_carry(db_url: str) -> None:
    """A fixed sequence really exercises what the property is about: reversals, carry,
    and a credit note taking a settled payment back."""
    _run_operations(db_url, [
        ("invoice", [3000, 1500, 1000], {0, 1, 2}), ("pay", 0, 4), ("settle", True),
        ("correct", 0), ("invoice", [100, 0, 0], {0}), ("credit", 0, False, 0),
        ("pay", 1, 4), ("settle", True), ("credit", 1, True, 0), ("settle", True)])
    with session_scope(db_url) as s:
        moved = s.exec(select(SettlementLine.amount_cents).join(
            Allocation, col(Allocation.id) == SettlementLine.allocation_id).where(
            col(Allocation.credit_note_id).is_not(None))).all()
        assert moved == [-100]
        kinds = set(s.exec(select(SettlementLine.kind)).all())
        assert kinds == {"payment", "reversal"}
        statuses = set(s.exec(select(sa.text("status")).select_from(
            sa.table("settlement"))).all())
        assert "carried" in statuses
