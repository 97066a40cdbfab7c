"""Credit notes on paid invoices: the money moves to the payer's credit balance and the
settlements take exactly the credited organisation's share back (docs/settlements.md,
"Credit notes on paid invoices"). Exact cents per organisation, on both databases.

The invoice: club 27,50 € + district 15,00 € + federation 12,50 € = 55,00 €.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col, select

from membook_app.billing.invoices import create_credit_note
from membook_app.db import session_scope
from membook_app.settlements.runs import approve_run, create_run
from models import Allocation, AuditEvent, Invoice, InvoiceLine, SettlementLine
from tests.db.settlement_support import (
    FEES,
    Org3,
    correct,
    make_org_tree,
    money_balance,
    pay,
    received_on_invoices,
    standard_invoice,
)


def _invoice(url: str) -> tuple[Org3, int, str]:
    w = make_org_tree(url)
    inv, ref = standard_invoice(w, fed=1250, dist=1500, club=2750)
    return w, inv, ref


def _credit(w: Org3, inv: int, org: int | None) -> None:
    """Credit `org`'s whole line, or the whole invoice when `org` is None."""
    with session_scope(w.url) as s:
        if org is None:
            create_credit_note(s, None, inv)
            return
        line = s.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == inv,
                                                InvoiceLine.organization_id == org)).one()
        create_credit_note(s, None, inv, amounts={line.position: line.amount_cents})


def _settle(url: str) -> None:
    with session_scope(url) as s:
        run = create_run(s, None)
        approve_run(s, None, run.id)  # type: ignore[arg-type]


def _settled(w: Org3) -> dict[str, int]:
    """Each organisation's settled total over every run (0 when it has nothing)."""
    with session_scope(w.url) as s:
        sums = dict(s.execute(sa.select(SettlementLine.organization_id,
                                        sa.func.sum(SettlementLine.amount_cents))
                              .group_by(SettlementLine.organization_id)).all())
    return {"club": int(sums.get(w.club, 0)), "district": int(sums.get(w.district, 0)),
            "federation": int(sums.get(w.federation, 0))}


def _state(w: Org3, inv: int) -> tuple[int, str, int]:
    """(invoice paid, invoice status, the payer's credit balance)."""
    with session_scope(w.url) as s:
        invoice = s.get(Invoice, inv)
        assert invoice is not None
        credit = s.exec(select(sa.func.coalesce(sa.func.sum(Allocation.amount_cents), 0))
                        .where(Allocation.person_id == w.person,
                               col(Allocation.invoice_id).is_(None))).one()
        payouts, fees, carried, unsettled = money_balance(s)
        assert payouts + fees + carried + unsettled == received_on_invoices(s)
        return invoice.paid_cents, invoice.status, int(credit)


def test_credit_before_payment_splits_by_what_is_still_billed(db_url: str) -> None:
    w, inv, ref = _invoice(db_url)
    _credit(w, inv, w.district)
    pay(db_url, [(ref, 4000)])
    _settle(db_url)
    assert _settled(w) == {"club": 2750, "district": 0, "federation": 1250}
    assert _state(w, inv) == (4000, "paid", 0)


def test_payment_credit_settle_gives_the_district_nothing(db_url: str) -> None:
    w, inv, ref = _invoice(db_url)
    pay(db_url, [(ref, 5500)])
    _credit(w, inv, w.district)
    assert _state(w, inv) == (4000, "paid", 1500)
    _settle(db_url)
    assert _settled(w) == {"club": 2750, "district": 0, "federation": 1250}
    with session_scope(db_url) as s:
        event = s.exec(select(AuditEvent).where(
            AuditEvent.action == "invoice.paid_moved_to_credit")).one()
        assert event.after["moved_cents"] == 1500  # type: ignore[index]
        moved = s.exec(select(Allocation).where(col(Allocation.credit_note_id).is_not(None))
                       ).one()
        assert (moved.invoice_id, moved.amount_cents) == (inv, -1500)


def test_payment_settle_credit_settle_takes_the_share_back(db_url: str) -> None:
    w, inv, ref = _invoice(db_url)
    pay(db_url, [(ref, 5500)])
    _settle(db_url)
    assert _settled(w) == {"club": 2750, "district": 1500, "federation": 1250}
    _credit(w, inv, w.district)
    _settle(db_url)
    assert _settled(w) == {"club": 2750, "district": 0, "federation": 1250}
    assert _state(w, inv) == (4000, "paid", 1500)


def test_full_credit_after_settlement_takes_everything_back(db_url: str) -> None:
    w, inv, ref = _invoice(db_url)
    pay(db_url, [(ref, 5500)])
    _settle(db_url)
    _credit(w, inv, None)
    assert _state(w, inv) == (0, "credited", 5500)
    _settle(db_url)
    assert _settled(w) == {"club": 0, "district": 0, "federation": 0}


def test_partial_payment_credit_second_payment(db_url: str) -> None:
    """The documented result: each payment is split by the invoice as it stood when it
    was made; nothing was over-paid at the credit, so nothing moved."""
    w, inv, ref = _invoice(db_url)
    pay(db_url, [(ref, 3000)])      # club 15,00, district 8,18, federation 6,82
    _credit(w, inv, w.district)
    assert _state(w, inv) == (3000, "partly_paid", 0)
    pay(db_url, [(ref, 1000)])      # club 6,88, federation 3,12
    _settle(db_url)
    assert _settled(w) == {"club": 2188, "district": 818, "federation": 994}
    assert _state(w, inv) == (4000, "paid", 0)


def test_over_paid_part_after_partial_payment_is_taken_from_the_credited(db_url: str) -> None:
    w, inv, ref = _invoice(db_url)
    pay(db_url, [(ref, 5000)])      # club 25,00, district 13,64, federation 11,36
    _credit(w, inv, w.district)     # billed 40,00: 10,00 over, back from the district
    assert _state(w, inv) == (4000, "paid", 1000)
    _settle(db_url)
    assert _settled(w) == {"club": 2500, "district": 364, "federation": 1136}


def test_bank_correction_after_the_move_undoes_everything(db_url: str) -> None:
    w, inv, ref = _invoice(db_url)
    pay(db_url, [(ref, 5500)])
    _credit(w, inv, w.district)
    correct(db_url, ref, 5500)
    paid, _, credit = _state(w, inv)
    assert (paid, credit) == (0, 0)
    _settle(db_url)
    assert _settled(w) == {"club": 0, "district": 0, "federation": 0}
    # The correction gives the district its take-back again (+15,00): that is no new
    # member payment, so each organisation paid one fee, for the one payment.
    with session_scope(db_url) as s:
        fees = dict(s.execute(sa.select(SettlementLine.organization_id,
                                        sa.func.sum(SettlementLine.fee_cents))
                              .group_by(SettlementLine.organization_id)).all())
    assert fees == {w.club: FEES["club"], w.district: FEES["district"],
                    w.federation: FEES["federation"]}


def test_two_payments_the_latest_is_moved_first(db_url: str) -> None:
    w, inv, ref = _invoice(db_url)
    pay(db_url, [(ref, 3000)])
    pay(db_url, [(ref, 2500)])
    _credit(w, inv, w.federation)   # billed 42,50 of 55,00: 12,50 back
    with session_scope(db_url) as s:
        moved = s.exec(select(Allocation).where(col(Allocation.credit_note_id).is_not(None))
                       ).all()
        payments = s.exec(select(Allocation.payment_id).where(
            Allocation.invoice_id == inv, Allocation.amount_cents > 0)
            .order_by(col(Allocation.id))).all()
    assert [(m.payment_id, m.amount_cents) for m in moved] == [(payments[-1], -1250)]
    _settle(db_url)
    # first payment: club 15,00, district 8,18, federation 6,82; second: 12,50 / 6,82 / 5,68
    assert _settled(w) == {"club": 2750, "district": 1500, "federation": 0}


def test_a_payment_the_bank_took_back_is_not_moved(db_url: str) -> None:
    w, inv, ref = _invoice(db_url)
    pay(db_url, [(ref, 4500)])
    pay(db_url, [(ref, 1000)])      # the latest payment …
    correct(db_url, ref, 1000)      # … which the bank takes back: paid 45,00
    _credit(w, inv, w.district)     # billed 40,00: 5,00 over, from the payment that stands
    with session_scope(db_url) as s:
        moved = s.exec(select(Allocation).where(col(Allocation.credit_note_id).is_not(None))
                       ).one()
        standing = s.exec(select(Allocation.payment_id).where(
            Allocation.invoice_id == inv, Allocation.amount_cents == 4500)).one()
    assert (moved.payment_id, moved.amount_cents) == (standing, -500)
    assert _state(w, inv) == (4000, "paid", 500)
    _settle(db_url)
    # 45,00 as 22,50 / 12,27 / 10,23; the 10,00 and its correction cancel; 5,00 back
    # from the district.
    assert _settled(w) == {"club": 2250, "district": 727, "federation": 1023}
