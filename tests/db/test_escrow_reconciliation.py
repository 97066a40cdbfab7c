"""Escrow reconciliation on both databases, with money booked through the real bank import
(the shared camt.053 sample and generated statements), Paytrail's callback booking and
real settlement runs: the expected balance, and every euro of the difference to the
statement explained."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import Session, select

from membook_app.db import get_engine, session_scope
from membook_app.errors import PermissionDenied, ValidationError
from membook_app.payments.bank_import import import_bank_file
from membook_app.payments.online import apply_result
from membook_app.payments.paytrail import CallbackParams
from membook_app.payments.unmatched import mark_refund
from membook_app.settings import get_settings
from membook_app.settlements.reconciliation import Reconciliation, reconcile
from membook_app.settlements.runs import approve_run, create_run
from models import Payment, PaytrailAttempt, Settlement
from tests.db.settlement_support import make_org_tree, standard_invoice
from tests.db.test_bank_import_support import (
    TODAY,
    actor,
    camt054,
    make_world,
    payment_by_source,
    sample,
)
from tests.factories import make_staff

STATEMENT_DAY = date(2026, 11, 26)


def camt053(entries: list[dict[str, object]], opening_cents: int, day: str,
            msg_id: str) -> bytes:
    """A camt.053.001.02 daily statement of the escrow account: the entries of the
    camt.054 builder, with opening and closing booked balances that add up."""
    net = sum(-int(e["cents"]) if e.get("debit") else int(e["cents"])  # type: ignore[call-overload]
              for e in entries)

    def balance(code: str, cents: int) -> str:
        return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
                f"<Amt Ccy=\"EUR\">{abs(cents) // 100}.{abs(cents) % 100:02d}</Amt>"
                f"<CdtDbtInd>{'DBIT' if cents < 0 else 'CRDT'}</CdtDbtInd>"
                f"<Dt><Dt>{day}</Dt></Dt></Bal>")

    text = camt054([{"date": day, **e} for e in entries], msg_id=msg_id).decode()
    text = (text.replace("camt.054.001.02", "camt.053.001.02")
            .replace("BkToCstmrDbtCdtNtfctn", "BkToCstmrStmt")
            .replace("<Ntfctn>", "<Stmt>").replace("</Ntfctn>", "</Stmt>")
            .replace("</Acct>", "</Acct>" + balance("OPBD", opening_cents)
                     + balance("CLBD", opening_cents + net), 1))
    return text.encode()


def _import(url: str, data: bytes, name: str) -> None:
    with session_scope(url) as s:
        import_bank_file(s, None, data, name, today=TODAY)


def _reconcile(url: str, token: str, as_of: date | None = None) -> Reconciliation:
    with session_scope(url) as s:
        return reconcile(s, actor(url, token), as_of)


def _lines(r: Reconciliation) -> dict[str, tuple[int, int]]:
    return {a.key: (a.cents, a.count) for a in r.explained}


def _received(r: Reconciliation) -> dict[str, tuple[int, int]]:
    return {a.key: (a.cents, a.count) for a in r.received}


def test_shared_sample_statement_is_explained_to_the_cent(db_url: str) -> None:
    """Opening 1500.00 + three reference payments, a gift without reference, an outgoing
    transfer and a bank charge = 2197.99; the books expect the reference payments only."""
    make_world(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    _import(db_url, sample("camt053_001_02_statement.xml"), "statement.xml")
    r = _reconcile(db_url, operator)
    assert _received(r)["reference"] == (115549, 3)
    assert (r.received_cents, r.settled.cents, r.fees.cents, r.refunds_cents) == (
        115549, 0, 0, 0)
    assert r.expected_cents == 115549
    assert r.statement is not None
    assert (r.statement.closing_cents, r.statement.closing_date, r.statement.iban) == (
        219799, STATEMENT_DAY, "FI2112345600000785")
    assert r.difference_cents == 219799 - 115549
    assert _lines(r) == {"opening": (150000, 0), "unmatched": (2500, 1),
                         "outgoing": (-48250, 2)}
    assert r.unexplained_cents == 0


def test_refund_later_money_and_paytrail_are_explained(db_url: str) -> None:
    world = make_world(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    _import(db_url, sample("camt053_001_02_statement.xml"), "statement.xml")
    # The gift without a reference is to be paid back.
    with session_scope(db_url) as s:
        gift = payment_by_source(s, "20261126593497TS0002").id
        mark_refund(s, actor(db_url, operator), gift)
    # A member pays invoice 20260040 online: booked from Paytrail's verified callback.
    settings = get_settings()
    with session_scope(db_url) as s:
        s.add(PaytrailAttempt(invoice_id=world.invoices["20260040"], stamp="stamp-1",
                              amount_cents=6000))
    with Session(get_engine(db_url)) as s:
        apply_result(s, CallbackParams(
            account=settings.paytrail_account, algorithm="sha256", amount=6000, stamp="stamp-1",
            reference="20260040", transaction_id="TX-1", status="ok", provider="osuuspankki",
            settlement_reference=None), source="callback")
    # The next day's notification: a reference payment, a payment without a reference and
    # Paytrail's payout (6000 less its 1.00 fee), all after the statement date.
    _import(db_url, camt054([
        {"archive": "N1", "cents": 4000, "ref": "20260037", "name": "Heikkinen Jussi",
         "date": "2026-11-27"},
        {"archive": "N2", "cents": 1234, "name": "Tuntematon", "date": "2026-11-27"},
        {"archive": "N3", "cents": 5900, "name": "Paytrail Oyj", "date": "2026-11-27"},
    ], msg_id="NEXT-DAY"), "next-day.xml")

    r = _reconcile(db_url, operator)
    assert _received(r) == {"reference": (119549, 4), "correction": (0, 0),
                            "psp": (5900, 1), "refund": (2500, 1)}
    assert r.refunds_cents == 2500
    assert r.expected_cents == 119549 + 5900
    assert _lines(r) == {"opening": (150000, 0), "refund": (2500, 1),
                         "outgoing": (-48250, 2), "after": (-9900, 2)}
    assert r.unexplained_cents == 0
    assert (r.paytrail.booked_cents, r.paytrail.payout_cents, r.paytrail.gap_cents) == (
        6000, 5900, 100)

    # On the statement day itself, nothing later counts: the books match the statement.
    back = _reconcile(db_url, operator, STATEMENT_DAY)
    assert back.expected_cents == 115549
    assert "after" not in _lines(back)
    assert back.paytrail.payout_cents == 0
    assert back.unexplained_cents == 0


def test_missing_bank_file_shows_as_unexplained(db_url: str) -> None:
    """A payment on the statement's day that the statement does not have (its file came
    from elsewhere) is exactly the unexplained rest."""
    make_world(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    _import(db_url, camt054([{"archive": "X1", "cents": 4000, "ref": "20260037",
                              "date": "2026-11-26"}], msg_id="ONLY-054"), "n.xml")
    _import(db_url, sample("camt053_001_02_statement.xml"), "statement.xml")
    r = _reconcile(db_url, operator)
    assert r.expected_cents == 115549 + 4000
    assert r.unexplained_cents == -4000


def test_without_a_statement_there_is_nothing_to_compare(db_url: str) -> None:
    make_world(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    _import(db_url, sample("camt054_001_02_reference_payments.xml"), "n.xml")
    r = _reconcile(db_url, operator)
    assert r.statement is None and r.difference_cents is None and r.explained == ()
    # 35.00 + 120.50 + 999.99 by reference; the correction without an original waits.
    assert _received(r)["reference"] == (115549, 3)
    assert r.expected_cents == 115549


def test_only_the_operator_reconciles(db_url: str) -> None:
    world = make_world(db_url)
    treasurer = make_staff(db_url, "t@example.fi", world.tree.federation, "treasurer")
    admin = make_staff(db_url, "a@example.fi", world.tree.federation, "admin")
    for token in (treasurer, admin):
        with pytest.raises(PermissionDenied), session_scope(db_url) as s:
            reconcile(s, actor(db_url, token))


def test_settlement_payouts_pending_then_on_the_statement(db_url: str) -> None:
    """Approved payouts lower the expected balance at once and the bank balance when the
    payout reaches the statement; the fees stay in the account until transferred."""
    world = make_org_tree(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    _, first_ref = standard_invoice(world)
    _, second_ref = standard_invoice(world)
    _import(db_url, camt053([
        {"archive": "S1", "cents": 5500, "ref": first_ref, "name": "Virtanen Matti"},
        {"archive": "S2", "cents": 5500, "ref": second_ref, "name": "Virtanen Matti"},
    ], 0, "2026-11-26", "STMT-1"), "stmt-1.xml")
    with session_scope(db_url) as s:
        run_id = create_run(s, None).id
    with session_scope(db_url) as s:
        approve_run(s, None, run_id)
        settlements = s.exec(select(Settlement).where(Settlement.run_id == run_id)).all()
        payouts = {x.reference: x.payout_cents for x in settlements if x.payout_cents > 0}
        fees = sum(x.fee_cents for x in settlements)
    assert len(payouts) == 3 and fees > 0
    assert sum(payouts.values()) + fees == 11000

    r = _reconcile(db_url, operator)
    assert (r.settled.cents, r.settled.count, r.fees.cents) == (11000 - fees, 3, fees)
    assert r.expected_cents == 0
    assert _lines(r) == {"fees": (fees, 0), "payouts_pending": (11000 - fees, 3)}
    assert r.unexplained_cents == 0

    _import(db_url, camt053([
        {"archive": f"P{i}", "cents": cents, "ref": reference, "debit": True,
         "name": "Membook asiakasvaratili"}
        for i, (reference, cents) in enumerate(sorted(payouts.items()))
    ], 11000, "2026-11-27", "STMT-2"), "stmt-2.xml")
    r = _reconcile(db_url, operator)
    assert r.statement is not None and r.statement.closing_cents == fees
    assert _lines(r) == {"fees": (fees, 0)}
    assert r.unexplained_cents == 0


def test_statement_of_another_account_is_not_compared(db_url: str) -> None:
    """Only the escrow account's statements (ESCROW_IBAN) count, however recent another is."""
    make_world(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    _import(db_url, sample("camt053_001_02_statement.xml"), "statement.xml")
    other = camt053([], 777700, "2026-11-27", "OTHER").replace(
        b"FI2112345600000785", b"FI4950009420028730")
    _import(db_url, other, "other-account.xml")
    r = _reconcile(db_url, operator)
    assert r.statement is not None
    assert (r.statement.filename, r.statement.closing_cents) == ("statement.xml", 219799)
    assert r.unexplained_cents == 0


def test_refund_paid_back_closes_it_in_the_reconciliation(db_url: str) -> None:
    """The gift without a reference is marked for refund, then paid back on 27.11. (the
    debit on the next statement): once the operator records that day, the refund is paid,
    not "in the account until paid back", and its debit is no unexplained outgoing one."""
    from membook_app.payments.refunds import list_refunds, mark_refund_paid
    from models import AuditEvent
    make_world(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    _import(db_url, sample("camt053_001_02_statement.xml"), "statement.xml")
    with session_scope(db_url) as s:
        gift = payment_by_source(s, "20261126593497TS0002").id
        mark_refund(s, actor(db_url, operator), gift)
    _import(db_url, camt053([{"archive": "R1", "cents": 2500, "debit": True,
                              "name": "Lahjoittaja"}], 219799, "2026-11-27", "STMT-2"),
            "stmt-2.xml")
    r = _reconcile(db_url, operator)
    assert _lines(r) == {"opening": (150000, 0), "refund": (2500, 1),
                         "outgoing": (-48250 - 2500, 3)}
    assert r.unexplained_cents == 0

    with session_scope(db_url) as s:
        op = actor(db_url, operator)
        assert [(x.payment_id, x.refunded_on) for x in list_refunds(s, op)] == [(gift, None)]
        with pytest.raises(ValidationError, match="future"):
            mark_refund_paid(s, op, gift, date(2026, 11, 29), today=date(2026, 11, 28))
        with pytest.raises(ValidationError, match="before"):
            mark_refund_paid(s, op, gift, date(2026, 11, 25))
        row = mark_refund_paid(s, op, gift, date(2026, 11, 27))
        assert row.refunded_on == date(2026, 11, 27)
    with session_scope(db_url) as s:
        op = actor(db_url, operator)
        assert mark_refund_paid(s, op, gift, date(2026, 11, 27)).refunded_on == date(2026, 11, 27)
        with pytest.raises(ValidationError, match="already"):
            mark_refund_paid(s, op, gift, date(2026, 11, 28))
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "payment.refund_paid")
                        ).all()
        assert len(events) == 1 and events[0].object_id == gift

    r = _reconcile(db_url, operator)
    assert {a.key: (a.cents, a.count) for a in r.refunds} == {
        "refunds_owed": (0, 0), "refunds_paid": (2500, 1)}
    assert r.expected_cents == 115549
    assert _lines(r) == {"opening": (150000, 0), "outgoing": (-48250, 2)}
    assert r.unexplained_cents == 0
    # On the first statement's day it was not paid back yet: still owed, still in the account.
    back = _reconcile(db_url, operator, STATEMENT_DAY)
    assert {a.key: a.cents for a in back.refunds} == {"refunds_owed": 2500, "refunds_paid": 0}
    assert _lines(back)["refund"] == (2500, 1)
    assert back.unexplained_cents == 0


def test_only_the_operator_records_a_refund_paid(db_url: str) -> None:
    from membook_app.payments.refunds import list_refunds, mark_refund_paid
    world = make_world(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    treasurer = make_staff(db_url, "t@example.fi", world.tree.federation, "treasurer")
    _import(db_url, sample("camt053_001_02_statement.xml"), "statement.xml")
    with session_scope(db_url) as s:
        gift = payment_by_source(s, "20261126593497TS0002").id
        mark_refund(s, actor(db_url, operator), gift)
    for call in (lambda s, a: list_refunds(s, a),
                 lambda s, a: mark_refund_paid(s, a, gift, date(2026, 11, 27))):
        with pytest.raises(PermissionDenied), session_scope(db_url) as s:
            call(s, actor(db_url, treasurer))
    with session_scope(db_url) as s:
        assert s.get(Payment, gift).refunded_on is None  # type: ignore[union-attr]


def test_credit_refund_stays_in_the_account_until_paid_back(db_url: str) -> None:
    """Virtanen pays 50,00 € for a 35,00 € invoice: 15,00 € of credit, refunded to him.
    Owed, the money is still in the account (nothing changes); recorded paid back on
    27.11., it counts with the refunds paid back, and the next statement's debit of it is
    no unexplained outgoing one."""
    from datetime import datetime

    from membook_app.formatting import HELSINKI
    from membook_app.payments.credit_refunds import refund_credit
    from membook_app.payments.refunds import mark_credit_refund_paid
    from models import CreditRefund
    world = make_world(db_url)
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    _import(db_url, camt053([{"archive": "C1", "cents": 5000, "ref": "20260011",
                              "name": "Virtanen Matti"}], 0, "2026-11-26", "STMT-1"),
            "stmt-1.xml")
    day = date(2026, 11, 27)
    with session_scope(db_url) as s:
        done = refund_credit(s, actor(db_url, operator), world.people["virtanen"], 1500,
                             iban="FI4250001510000023", note="")
        s.flush()
        s.get(CreditRefund, done.credit_refund_id).created_at = datetime(  # type: ignore[union-attr]
            2026, 11, 26, 12, tzinfo=HELSINKI)

    def terms(r: Reconciliation) -> tuple[int, dict[str, tuple[int, int]],
                                          dict[str, tuple[int, int]], int | None]:
        return (r.expected_cents, {a.key: (a.cents, a.count) for a in r.refunds}, _lines(r),
                r.unexplained_cents)

    owed = terms(_reconcile(db_url, operator, day))
    assert owed == (5000, {"refunds_owed": (0, 0), "refunds_paid": (0, 0)}, {}, 0)
    with session_scope(db_url) as s:
        mark_credit_refund_paid(s, actor(db_url, operator), done.credit_refund_id, day,
                                today=day)
    # Paid back, but the statement showing the debit is not imported yet.
    assert terms(_reconcile(db_url, operator, day)) == (
        3500, {"refunds_owed": (0, 0), "refunds_paid": (1500, 1)},
        {"credit_refunds_pending": (1500, 1)}, 0)
    _import(db_url, camt053([{"archive": "D1", "cents": 1500, "debit": True,
                              "name": "Virtanen Matti"}], 5000, "2026-11-27", "STMT-2"),
            "stmt-2.xml")
    after = _reconcile(db_url, operator, day)
    assert terms(after) == (3500, {"refunds_owed": (0, 0), "refunds_paid": (1500, 1)}, {}, 0)
    assert after.statement is not None and after.statement.closing_cents == 3500
    # Before the day paid back it was still in the account.
    assert terms(_reconcile(db_url, operator, STATEMENT_DAY)) == owed
