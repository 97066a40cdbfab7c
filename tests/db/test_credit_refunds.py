"""Paying a payer's credit back (`payments.credit_refunds`) and recording it paid back
(`payments.refunds`), on both databases.

Niemi (the `two_clubs` fixture) has 7,00 € of credit: 2,00 € from an over-payment to a club
A invoice (payment OVER-A) and 5,00 € from one to club B (OVER-B), booked the same day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from membook_app.db import session_scope
from membook_app.errors import PermissionDenied, ValidationError
from membook_app.formatting import HELSINKI
from membook_app.payments.credit_refunds import refund_credit, refund_defaults
from membook_app.payments.credit_use import apply_credit
from membook_app.payments.refunds import list_refunds, mark_credit_refund_paid
from membook_app.settlements.runs import create_run
from models import Allocation, AuditEvent, CreditRefund, Payment, Settlement, SettlementLine
from tests.db.test_bank_import_support import balance
from tests.db.test_credit_use import snapshot
from tests.db.test_person_balance import two_clubs  # noqa: F401 — the fixture

IBAN = "FI21 1234 5600 0007 85"


def _payment_id(db_url: str, archive: str) -> int:
    with session_scope(db_url) as s:
        return s.exec(select(Payment.id).where(Payment.source_id == archive)).one()  # type: ignore[return-value]


def _refund(db_url: str, who: Any, person_id: int, cents: int, iban: str = IBAN,
            note: str = "") -> Any:
    with session_scope(db_url) as s:
        return refund_credit(s, who, person_id, cents, iban=iban, note=note)


def _credit(db_url: str, person_id: int) -> int:
    with session_scope(db_url) as s:
        return balance(s, person_id)


def test_refund_of_all_credit_oldest_payment_first(two_clubs: dict[str, Any],  # noqa: F811
                                                   db_url: str) -> None:
    w = two_clubs
    over_a, over_b = _payment_id(db_url, "OVER-A"), _payment_id(db_url, "OVER-B")
    done = _refund(db_url, w["operator"], w["niemi"], 700, note="maksoi kahdesti")
    assert (done.amount_cents, done.iban, done.parts) == (
        700, "FI2112345600000785", ((over_a, 200), (over_b, 500)))
    assert _credit(db_url, w["niemi"]) == 0
    with session_scope(db_url) as s:
        rows = s.exec(select(Allocation).where(Allocation.rule == "credit_refund")
                      .order_by(Allocation.id)).all()
        assert [(a.payment_id, a.invoice_id, a.person_id, a.amount_cents, a.kind,
                 a.credit_refund_id, a.created_by_user_id) for a in rows] == [
            (over_a, None, w["niemi"], -200, "refund", done.credit_refund_id,
             w["operator"].user_id),
            (over_b, None, w["niemi"], -500, "refund", done.credit_refund_id,
             w["operator"].user_id)]
        refund = s.get(CreditRefund, done.credit_refund_id)
        assert (refund.person_id, refund.amount_cents, refund.note, refund.paid_on) == (  # type: ignore[union-attr]
            w["niemi"], 700, "maksoi kahdesti", None)
        event = s.exec(select(AuditEvent).where(
            AuditEvent.action == "payment.credit_refund")).one()
        assert event.after["payments"] == [  # type: ignore[index]
            {"payment_id": over_a, "cents": 200}, {"payment_id": over_b, "cents": 500}]
        # Refunded credit is gone: it can pay no invoice any more.
        with pytest.raises(ValidationError, match="no credit"):
            apply_credit(s, w["operator"], w["niemi"], w["invoices"]["a_open"])


def test_part_of_the_credit_then_no_more_than_is_left(two_clubs: dict[str, Any],  # noqa: F811
                                                      db_url: str) -> None:
    w = two_clubs
    over_a, over_b = _payment_id(db_url, "OVER-A"), _payment_id(db_url, "OVER-B")
    assert _refund(db_url, w["operator"], w["niemi"], 350).parts == ((over_a, 200),
                                                                      (over_b, 150))
    assert _credit(db_url, w["niemi"]) == 350
    before = snapshot(db_url)
    with pytest.raises(ValidationError, match="exceeds the payer's credit"):
        _refund(db_url, w["operator"], w["niemi"], 351)
    for bad in (0, -100, True, "350"):
        with pytest.raises(ValidationError):
            _refund(db_url, w["operator"], w["niemi"], bad)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="IBAN") as refused:
        _refund(db_url, w["operator"], w["niemi"], 100, iban="FI21 1234 5600 0007 86")
    assert refused.value.field == "iban" and "IBAN ei kelpaa" in str(refused.value)
    with pytest.raises(ValidationError, match="note"):
        _refund(db_url, w["operator"], w["niemi"], 100, note="x" * 501)
    assert snapshot(db_url) == before
    # The rest of the credit still pays an invoice.
    with session_scope(db_url) as s:
        assert apply_credit(s, w["operator"], w["niemi"],
                            w["invoices"]["a_open"]).amount_cents == 350
    assert _credit(db_url, w["niemi"]) == 0


def test_only_the_operator_refunds_credit(two_clubs: dict[str, Any],  # noqa: F811
                                          db_url: str) -> None:
    w = two_clubs
    before = snapshot(db_url)
    for who in ("member", "district", "treasurer_a", "treasurer_b"):
        with pytest.raises(PermissionDenied), session_scope(db_url) as s:
            refund_credit(s, w[who], w["niemi"], 100, iban=IBAN, note="")
        with pytest.raises(PermissionDenied), session_scope(db_url) as s:
            refund_defaults(s, w[who], w["niemi"])
    assert snapshot(db_url) == before
    with session_scope(db_url) as s:
        assert s.exec(select(sa.func.count()).select_from(CreditRefund)).one() == 0


def test_defaults_are_the_whole_credit_and_the_latest_payer_iban(
        two_clubs: dict[str, Any], db_url: str) -> None:  # noqa: F811
    w = two_clubs
    with session_scope(db_url) as s:
        assert refund_defaults(s, w["operator"], w["niemi"]) == (700, "")
        for archive, iban in (("OVER-A", "FI4250001510000023"),
                              ("OVER-B", "FI2112345600000785")):
            payment = s.exec(select(Payment).where(Payment.source_id == archive)).one()
            payment.payer_iban = iban
            s.add(payment)
    with session_scope(db_url) as s:
        assert refund_defaults(s, w["operator"], w["niemi"]) == (700, "FI2112345600000785")


def test_marked_paid_back_once(two_clubs: dict[str, Any], db_url: str) -> None:  # noqa: F811
    w = two_clubs
    done = _refund(db_url, w["operator"], w["niemi"], 500)
    with session_scope(db_url) as s:  # made on 26.11. for a fixed calendar
        s.get(CreditRefund, done.credit_refund_id).created_at = datetime(  # type: ignore[union-attr]
            2026, 11, 26, 12, tzinfo=HELSINKI)
    op = w["operator"]
    with session_scope(db_url) as s:
        rows = list_refunds(s, op)
        assert [(r.payment_id, r.credit_refund_id, r.amount_cents, r.payer_name, r.payer_iban,
                 r.booking_date, r.refunded_on) for r in rows] == [
            (None, done.credit_refund_id, 500, "Niemi Pekka", "FI2112345600000785",
             date(2026, 11, 26), None)]
        with pytest.raises(ValidationError, match="future"):
            mark_credit_refund_paid(s, op, done.credit_refund_id, date(2026, 11, 28),
                                    today=date(2026, 11, 27))
        with pytest.raises(ValidationError, match="before"):
            mark_credit_refund_paid(s, op, done.credit_refund_id, date(2026, 11, 25),
                                    today=date(2026, 11, 27))
    for who in ("member", "district", "treasurer_a"):
        with pytest.raises(PermissionDenied), session_scope(db_url) as s:
            mark_credit_refund_paid(s, w[who], done.credit_refund_id, date(2026, 11, 27))
        with pytest.raises(PermissionDenied), session_scope(db_url) as s:
            list_refunds(s, w[who])
    with session_scope(db_url) as s:
        row = mark_credit_refund_paid(s, op, done.credit_refund_id, date(2026, 11, 27),
                                      today=date(2026, 11, 27))
        assert row.refunded_on == date(2026, 11, 27)
    with session_scope(db_url) as s:
        with pytest.raises(ValidationError, match="already recorded as paid back"):
            mark_credit_refund_paid(s, op, done.credit_refund_id, date(2026, 11, 27),
                                    today=date(2026, 11, 27))
        refund = s.get(CreditRefund, done.credit_refund_id)
        assert (refund.paid_on, refund.paid_by_user_id) == (  # type: ignore[union-attr]
            date(2026, 11, 27), op.user_id)
        assert len(s.exec(select(AuditEvent).where(
            AuditEvent.action == "payment.credit_refund_paid")).all()) == 1
        assert [r.refunded_on for r in list_refunds(s, op)] == [date(2026, 11, 27)]
    assert _credit(db_url, w["niemi"]) == 200


def test_the_next_settlement_run_is_unaffected(two_clubs: dict[str, Any],  # noqa: F811
                                               db_url: str) -> None:
    """The over-paid invoices (8,00 € and 10,00 €) are settled; the refund allocations
    have no invoice and are never split."""
    w = two_clubs
    _refund(db_url, w["operator"], w["niemi"], 300)
    with session_scope(db_url) as s:
        run_id = create_run(s, None).id
        refund_ids = s.exec(select(Allocation.id).where(Allocation.kind == "refund")).all()
        lines = s.exec(select(SettlementLine).join(
            Settlement, Settlement.id == SettlementLine.settlement_id).where(
            Settlement.run_id == run_id)).all()
        assert sum(x.amount_cents for x in lines) == 800 + 1000
        assert not {x.allocation_id for x in lines} & set(refund_ids)
        assert len(refund_ids) == 2



def test_the_payments_journal_counts_a_credit_refund_as_refunded(
        two_clubs: dict[str, Any], db_url: str) -> None:  # noqa: F811
    """The refund leaves the payer's balance and joins the refunds: still no difference."""
    from membook_app.reports.registry import Filters, run_report

    w = two_clubs

    def recon() -> dict[str, int]:
        with session_scope(db_url) as s:
            frame = run_report(s, w["operator"], "payments-journal", Filters(None)).tables[0].frame
            return dict(zip(frame["key"], (int(v) for v in frame["amount"]), strict=True))

    before = recon()
    _refund(db_url, w["operator"], w["niemi"], 700)
    after = recon()
    assert after["total"] == before["total"] and after["difference"] == 0 == before["difference"]
    assert after["refunded"] == before["refunded"] + 700
    assert after["allocated"] == before["allocated"] - 700
    assert after["to_invoices"] == before["to_invoices"]
    assert after["to_credit"] == before["to_credit"] - 700
