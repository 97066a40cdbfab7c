"""Paytrail's payout to the escrow account is reconciled, never booked to invoices again."""

from __future__ import annotations

from datetime import date

from sqlmodel import select

from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from models import Allocation, Payment
from tests.db.test_bank_import_support import camt054, invoice_state, make_world


def test_paytrail_payout_is_neither_matched_nor_queued(db_url: str) -> None:
    world = make_world(db_url, {"20260011": ("virtanen", "a", 3500)})
    data = camt054([
        # A payout whose settlement reference happens to be a valid invoice reference.
        {"archive": "PSP1", "cents": 3500, "ref": "20260011", "name": "Paytrail Oyj"},
        {"archive": "M1", "cents": 1000, "ref": "20260011", "name": "Virtanen Matti"},
    ])
    with session_scope(db_url) as s:
        result = import_bank_file(s, None, data, "notification.xml", today=date(2026, 11, 27))
    assert (result.matched_count, result.unmatched_count) == (1, 0)
    with session_scope(db_url) as s:
        payout = s.exec(select(Payment).where(Payment.source_id == "PSP1")).one()
        assert (payout.status, payout.match_rule) == ("psp_settlement", "paytrail_settlement")
        assert s.exec(select(Allocation).where(Allocation.payment_id == payout.id)).all() == []
        assert invoice_state(s, world.invoices["20260011"]) == ("partly_paid", 1000)
