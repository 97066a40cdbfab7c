"""Paying an open invoice from the payer's credit balance (`payments.credit_use`).

Niemi (the `two_clubs` fixture) has 2,00 € of credit from an over-payment to a club A
invoice and 5,00 € from one to a club B invoice, and an open invoice in each club. Every
refusal leaves the database exactly as it was; the next settlement splits the moved money
like any payment, with no second fee for an organisation already charged for it.
"""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from membook_app.accounts.permissions import Actor
from membook_app.banking.references import make_national
from membook_app.billing.invoices import create_credit_note
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.payments.credit_use import apply_credit, credit_offers, usable_credit
from membook_app.payments.views import person_balance
from membook_app.settlements.runs import approve_run, create_run
from models import Allocation, AuditEvent, Invoice, Payment, Settlement, SettlementLine
from tests.db.settlement_support import FEES, make_org_tree, pay
from tests.db.settlement_support import make_invoice as make_lined_invoice
from tests.db.test_bank_import_support import TODAY, actor, invoice_state, make_invoice
from tests.db.test_person_balance import REFS, two_clubs  # noqa: F401 — the fixture
from tests.factories import make_staff


def _apply(db_url: str, who: Actor, person_id: int, invoice_id: int,
           amount: int | None = None) -> Any:
    with session_scope(db_url) as s:
        return apply_credit(s, who, person_id, invoice_id, amount, today=TODAY)


def _credit(db_url: str, world: dict[str, Any]) -> int:
    with session_scope(db_url) as s:
        return person_balance(s, world["operator"], world["niemi"]).credit_cents


def _state(db_url: str, invoice_id: int) -> tuple[str, int]:
    with session_scope(db_url) as s:
        return invoice_state(s, invoice_id)


def _payment_id(db_url: str, archive: str) -> int:
    with session_scope(db_url) as s:
        return s.exec(select(Payment.id).where(Payment.source_id == archive)).one()  # type: ignore[return-value]


def snapshot(db_url: str) -> tuple[Any, ...]:
    """Every allocation, every invoice's money state and the money audit events (opening
    a person's record or granting a role writes others)."""
    money_event = sa.or_(col(AuditEvent.action).startswith("invoice."),
                         col(AuditEvent.action).startswith("payment."))
    with session_scope(db_url) as s:
        return (tuple(s.exec(select(Allocation.id, Allocation.amount_cents)
                             .order_by(Allocation.id)).all()),
                tuple(s.exec(select(Invoice.id, Invoice.status, Invoice.paid_cents)
                             .order_by(Invoice.id)).all()),
                tuple(s.exec(select(AuditEvent.id).where(money_event)).all()))


def test_operator_uses_all_credit_oldest_payment_first(two_clubs: dict[str, Any],  # noqa: F811
                                                       db_url: str) -> None:
    w = two_clubs
    use = _apply(db_url, w["operator"], w["niemi"], w["invoices"]["a_open"])
    over_a, over_b = _payment_id(db_url, "OVER-A"), _payment_id(db_url, "OVER-B")
    assert (use.amount_cents, use.status, use.parts) == (700, "partly_paid",
                                                         ((over_a, 200), (over_b, 500)))
    assert _state(db_url, w["invoices"]["a_open"]) == ("partly_paid", 700)
    assert _credit(db_url, w) == 0
    with session_scope(db_url) as s:
        moved = s.exec(select(Allocation).where(Allocation.rule == "from_credit")
                       .order_by(Allocation.id)).all()
        assert [(a.payment_id, a.invoice_id, a.person_id, a.amount_cents, a.kind)
                for a in moved] == [
            (over_a, None, w["niemi"], -200, "credit"),
            (over_a, w["invoices"]["a_open"], None, 200, "invoice"),
            (over_b, None, w["niemi"], -500, "credit"),
            (over_b, w["invoices"]["a_open"], None, 500, "invoice")]
        assert {a.created_by_user_id for a in moved} == {w["operator"].user_id}
        event = s.exec(select(AuditEvent).where(
            AuditEvent.action == "invoice.paid_from_credit")).one()
        assert event.object_id == w["invoices"]["a_open"]
        assert event.after["amount_cents"] == 700  # type: ignore[index]
        assert event.after["payments"] == [  # type: ignore[index]
            {"payment_id": over_a, "cents": 200}, {"payment_id": over_b, "cents": 500}]
    # Nothing is left to use: a second try is refused and changes nothing.
    before = snapshot(db_url)
    with pytest.raises(ValidationError):
        _apply(db_url, w["operator"], w["niemi"], w["invoices"]["b_open"])
    assert snapshot(db_url) == before


def test_treasurer_pays_an_invoice_in_full_from_own_clubs_credit(
        two_clubs: dict[str, Any], db_url: str) -> None:  # noqa: F811
    w = two_clubs
    small = make_invoice(db_url, w["tree"].club_a, w["niemi"], make_national("5011"), 150)
    with session_scope(db_url) as s:
        assert credit_offers(s, w["treasurer_a"], w["niemi"]) == {
            w["invoices"]["a_open"]: 200, small: 150}
        assert credit_offers(s, w["district"], w["niemi"]) == {}  # a viewer may not pay
    use = _apply(db_url, w["treasurer_a"], w["niemi"], small)
    assert (use.amount_cents, use.status) == (150, "paid")
    assert _state(db_url, small) == ("paid", 150)
    assert _credit(db_url, w) == 700 - 150
    with session_scope(db_url) as s:
        assert usable_credit(s, w["treasurer_a"], w["niemi"]) == [
            (_payment_id(db_url, "OVER-A"), 50)]


def test_partial_amount_and_no_overdraw(two_clubs: dict[str, Any],  # noqa: F811
                                        db_url: str) -> None:
    w = two_clubs
    use = _apply(db_url, w["treasurer_b"], w["niemi"], w["invoices"]["b_open"], 120)
    assert (use.amount_cents, use.status) == (120, "partly_paid")
    assert _state(db_url, w["invoices"]["b_open"]) == ("partly_paid", 120)
    assert _credit(db_url, w) == 700 - 120
    use = _apply(db_url, w["treasurer_b"], w["niemi"], w["invoices"]["b_open"])
    assert use.amount_cents == 380  # the rest of club B's credit
    assert _state(db_url, w["invoices"]["b_open"]) == ("partly_paid", 500)
    before = snapshot(db_url)
    for amount in (1, None):
        with pytest.raises(ValidationError):
            _apply(db_url, w["treasurer_b"], w["niemi"], w["invoices"]["b_open"], amount)
    assert snapshot(db_url) == before
    assert _credit(db_url, w) == 200  # club A's, untouched


def _credit_note(db_url: str, invoice_id: int) -> int:
    with session_scope(db_url) as s:
        return create_credit_note(s, None, invoice_id).id  # type: ignore[return-value]


def test_refusals_change_nothing(two_clubs: dict[str, Any], db_url: str) -> None:  # noqa: F811
    w = two_clubs
    a_open, niemi = w["invoices"]["a_open"], w["niemi"]
    others = make_invoice(db_url, w["tree"].club_a, w["virtanen"], make_national("5012"), 900)
    note = _credit_note(db_url, make_invoice(db_url, w["tree"].club_a, niemi,
                                             make_national("5014"), 400))
    small = make_invoice(db_url, w["tree"].club_a, niemi, make_national("5013"), 150)
    viewer_a = actor(db_url, make_staff(db_url, "va@example.fi", w["tree"].club_a, "viewer"))
    cases: list[tuple[Actor, int, int | None, type[Exception]]] = [
        (w["member"], a_open, None, NotFound),  # a member does not use the office's tools
        (w["district"], a_open, None, PermissionDenied),  # viewer
        (viewer_a, a_open, 100, PermissionDenied),
        (w["treasurer_b"], a_open, 100, NotFound),  # the sibling club's invoice
        (w["treasurer_a"], a_open, 300, ValidationError),  # 5,00 € came through club B
        (w["treasurer_a"], others, 100, ValidationError),  # Virtanen pays it, not Niemi
        (w["operator"], note, 100, ValidationError),  # a credit note
        (w["operator"], w["invoices"]["a_over"], 100, ValidationError),  # paid
        (w["operator"], small, 151, ValidationError),  # more than the invoice asks
        (w["operator"], a_open, 701, ValidationError),  # more than the credit
        (w["operator"], a_open, 0, ValidationError),
        (w["operator"], a_open, -100, ValidationError),
        (w["operator"], 999_999, None, NotFound),
    ]
    before = snapshot(db_url)
    for who, invoice_id, amount, error in cases:
        with pytest.raises(error):
            _apply(db_url, who, niemi, invoice_id, amount)
        assert snapshot(db_url) == before, (who.email, invoice_id, amount)
    with pytest.raises(ValidationError):  # the credit is Niemi's, not Virtanen's
        _apply(db_url, w["operator"], w["virtanen"], others, 100)
    assert snapshot(db_url) == before


def _lines(db_url: str, run_id: int) -> dict[int, tuple[int, int]]:
    """Organisation → (gross, fees) of the run's lines."""
    found: dict[int, tuple[int, int]] = {}
    with session_scope(db_url) as s:
        for line in s.exec(select(SettlementLine).join(
                Settlement, Settlement.id == SettlementLine.settlement_id)
                .where(Settlement.run_id == run_id)).all():
            gross, fees = found.get(line.organization_id, (0, 0))
            found[line.organization_id] = (gross + line.amount_cents, fees + line.fee_cents)
    return found


@pytest.mark.parametrize("settled_first", [True, False])
def test_next_settlement_splits_the_moved_money(db_url: str, settled_first: bool) -> None:
    """Credit from a club-only payment pays a club + district + federation invoice: the
    club, already charged its fee for that payment, is not charged again."""
    w = make_org_tree(db_url)
    treasurer = actor(db_url, make_staff(db_url, "t@example.fi", w.club, "treasurer"))
    _, first = make_lined_invoice(w, [(w.club, 3000)])
    pay(db_url, [(first, 3500)])  # 5,00 € over
    if settled_first:
        with session_scope(db_url) as s:
            first_run = create_run(s, None).id
            approve_run(s, None, first_run)  # type: ignore[arg-type]
        assert _lines(db_url, first_run) == {w.club: (3000, FEES["club"])}  # type: ignore[arg-type]
    second, _ = make_lined_invoice(w, [(w.club, 1000), (w.district, 500),
                                       (w.federation, 500)])
    assert _apply(db_url, treasurer, w.person, second).amount_cents == 500
    with session_scope(db_url) as s:
        run_id = create_run(s, None).id
    moved = {w.club: (250, 0), w.district: (125, FEES["district"]),
             w.federation: (125, FEES["federation"])}
    if not settled_first:
        moved[w.club] = (3000 + 250, FEES["club"])  # one fee for the one payment
    assert _lines(db_url, run_id) == moved  # type: ignore[arg-type]
