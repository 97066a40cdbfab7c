"""Who may read a member's balance, through the service and the two pages showing it.

A member reads only their own (the portal takes the id from the session, never the
client); a sibling club's treasurer is refused a person of the other club; staff of one
club see only their club's share of a person who belongs to two (on both databases).
"""

from __future__ import annotations

from typing import Any

import pytest
from reflex.istate.data import ReflexURL, RouterData
from sqlmodel import select

import membook_app.membook_app  # noqa: F401
from membook_app.banking.references import make_national
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied
from membook_app.formatting import fi_date
from membook_app.payments.bank_import import helsinki_today
from membook_app.payments.views import person_balance
from membook_app.ui.admin.escrow import EscrowState
from membook_app.ui.admin.person import PersonState
from membook_app.ui.portal.me import PortalState
from models import CreditRefund, Payment, Person
from tests.db.test_bank_import_support import actor, invoice_state, make_invoice
from tests.db.test_credit_use import snapshot
from tests.db.test_person_balance import REFS, two_clubs  # noqa: F401 — the fixture
from tests.factories import make_member_login, make_staff
from tests.handlers import call_handler, is_refusal, state_for


def _login(db_url: str, person_id: int, email: str) -> str:
    with session_scope(db_url) as s:
        person = s.get(Person, person_id)
        person.email = email  # type: ignore[union-attr]
        s.add(person)
    return make_member_login(db_url, email)


def test_a_member_reads_only_their_own_balance(two_clubs: dict[str, Any],  # noqa: F811
                                               db_url: str) -> None:
    other = actor(db_url, _login(db_url, two_clubs["virtanen"], "matti@example.fi"))
    with session_scope(db_url) as s:
        assert person_balance(s, other, two_clubs["virtanen"]).open_cents == 0
        with pytest.raises((NotFound, PermissionDenied)):
            person_balance(s, other, two_clubs["niemi"])
        with pytest.raises((NotFound, PermissionDenied)):
            person_balance(s, two_clubs["member"], two_clubs["virtanen"])


def test_a_sibling_treasurer_is_refused(two_clubs: dict[str, Any],  # noqa: F811
                                        db_url: str) -> None:
    """Virtanen belongs to club A only: club B's treasurer cannot read his balance."""
    make_invoice(db_url, two_clubs["tree"].club_a, two_clubs["virtanen"],
                 make_national("5010"), 4500)
    with session_scope(db_url) as s:
        with pytest.raises((NotFound, PermissionDenied)):
            person_balance(s, two_clubs["treasurer_b"], two_clubs["virtanen"])
        assert person_balance(s, two_clubs["treasurer_a"], two_clubs["virtanen"]).open_cents == (
            4500)


def _person_page(token: str, person_id: int) -> Any:
    state = state_for(PersonState, token)
    state.router = RouterData(url=ReflexURL(f"http://localhost/admin/person?id={person_id}"))
    return state


async def test_person_page_shows_the_clubs_share_and_refuses_the_sibling(
        two_clubs: dict[str, Any], db_url: str) -> None:  # noqa: F811
    tree = two_clubs["tree"]
    token_a = make_staff(db_url, "ta2@example.fi", tree.club_a, "treasurer")
    page = _person_page(token_a, two_clubs["niemi"])
    await call_handler(page, "load")
    assert (page.credit, page.open_total, page.net) == ("2,00\xa0€", "20,00\xa0€",
                                                        "-18,00\xa0€")
    assert [i.reference for i in page.open_invoices] == [REFS["a"]]
    token_b = make_staff(db_url, "tb2@example.fi", tree.club_b, "treasurer")
    refused = _person_page(token_b, two_clubs["virtanen"])  # in club A only
    assert is_refusal(await call_handler(refused, "load"))
    assert refused.credit == "" and refused.open_invoices == []


async def test_portal_shows_the_members_own_balance(two_clubs: dict[str, Any],  # noqa: F811
                                                    db_url: str) -> None:
    page = state_for(PortalState, make_member_login(db_url, "pekka@example.fi"))
    await call_handler(page, "load")
    assert (page.open_total, page.credit, page.net, page.owes) == (
        "50,00\xa0€", "7,00\xa0€", "43,00\xa0€", True)


async def _loaded(db_url: str, token: str, person_id: int) -> Any:
    page = _person_page(token, person_id)
    await call_handler(page, "load")
    return page


async def test_person_page_pays_an_invoice_from_credit(two_clubs: dict[str, Any],  # noqa: F811
                                                       db_url: str) -> None:
    """Club A's treasurer is offered club A's invoice with club A's credit (2,00 €)."""
    a_open = two_clubs["invoices"]["a_open"]
    page = await _loaded(db_url, make_staff(db_url, "ta3@example.fi", two_clubs["tree"].club_a,
                                            "treasurer"), two_clubs["niemi"])
    assert [(o.invoice_id, o.amount) for o in page.credit_offers] == [(str(a_open), "2,00")]
    await call_handler(page, "pay_from_credit", {"invoice_id": str(a_open), "amount": "1,50"})
    assert (page.credit_error, page.credit_message) == (
        "", "Maksettu saldosta / paid from credit 1,50\xa0€")
    assert (page.credit, page.open_total) == ("0,50\xa0€", "18,50\xa0€")
    assert [o.amount for o in page.credit_offers] == ["0,50"]
    with session_scope(db_url) as s:
        assert invoice_state(s, a_open) == ("partly_paid", 150)


async def test_pay_from_credit_refusals_change_nothing(two_clubs: dict[str, Any],  # noqa: F811
                                                       db_url: str) -> None:
    tree, niemi = two_clubs["tree"], two_clubs["niemi"]
    a_open = str(two_clubs["invoices"]["a_open"])
    form = {"invoice_id": a_open, "amount": "1,00"}
    before = snapshot(db_url)
    # Not staff at all: the guard sends them away before anything is read.
    for token in ("", "forged", make_member_login(db_url, "pekka@example.fi")):
        page = _person_page(token, niemi)
        page.person_id = niemi
        assert is_refusal(await call_handler(page, "pay_from_credit", form))
    # Staff who may not pay club A's invoice: the service refuses (an error toast).
    for token in (make_staff(db_url, "dv@example.fi", tree.district, "viewer"),
                  make_staff(db_url, "tb3@example.fi", tree.club_b, "treasurer")):
        page = await _loaded(db_url, token, niemi)
        assert is_refusal(await call_handler(page, "pay_from_credit", form))
        assert page.credit_message == ""
    assert snapshot(db_url) == before
    # Club A's treasurer with bad input: the reason beside the balance, nothing written.
    page = await _loaded(db_url, make_staff(db_url, "ta4@example.fi", tree.club_a, "treasurer"),
                         niemi)
    for bad in ({"invoice_id": a_open, "amount": "3,00"},  # 5,00 € came through club B
                {"invoice_id": a_open, "amount": "0"},
                {"invoice_id": a_open, "amount": "-1,00"},
                {"invoice_id": a_open, "amount": "12,345"},
                {"invoice_id": a_open, "amount": "kaksi"},
                {"invoice_id": "x", "amount": "1,00"},
                {"invoice_id": str(two_clubs["invoices"]["a_over"]), "amount": "1,00"}):
        await call_handler(page, "pay_from_credit", bad)
        assert page.credit_error and page.credit_message == "", bad
    assert snapshot(db_url) == before


def _credit_refunds(db_url: str) -> tuple[Any, ...]:
    with session_scope(db_url) as s:
        return tuple(s.exec(select(CreditRefund.id, CreditRefund.paid_on)).all())


async def test_operator_refunds_credit_from_the_person_page(two_clubs: dict[str, Any],  # noqa: F811
                                                            db_url: str) -> None:
    """The form is prefilled with the whole credit and the latest payer IBAN; the refund
    lowers the credit, then the escrow page lists it and marks it paid back once."""
    with session_scope(db_url) as s:
        over_b = s.exec(select(Payment).where(Payment.source_id == "OVER-B")).one()
        over_b.payer_iban = "FI4250001510000023"
        s.add(over_b)
    operator = make_staff(db_url, "op2@example.fi", None, None, operator=True)
    page = await _loaded(db_url, operator, two_clubs["niemi"])
    assert (page.refund_amount, page.refund_iban) == ("7,00", "FI4250001510000023")
    await call_handler(page, "refund_from_credit",
                       {"amount": "2,50", "iban": "FI42 5000 1510 0000 23", "note": "kahdesti"})
    assert (page.credit_error, page.credit_message) == (
        "", "Saldoa palautettavana / credit to refund 2,50\xa0€ → FI4250001510000023")
    assert (page.credit, page.refund_amount) == ("4,50\xa0€", "4,50")
    escrow = state_for(EscrowState, operator)
    await call_handler(escrow, "load")
    [row] = escrow.refunds
    assert (row.payer, row.iban, row.amount, row.message, row.paid_on) == (
        "Niemi Pekka", "FI4250001510000023", "2,50\xa0€", "kahdesti", "")
    escrow.refund_day = fi_date(helsinki_today())
    await call_handler(escrow, "credit_refund_paid", row.credit_refund_id)
    assert escrow.refunds[0].paid_on == fi_date(helsinki_today())
    assert "already" in repr(await call_handler(escrow, "credit_refund_paid",
                                                row.credit_refund_id))
    assert _credit_refunds(db_url) == ((row.credit_refund_id, helsinki_today()),)


async def test_refund_credit_refusals_change_nothing(two_clubs: dict[str, Any],  # noqa: F811
                                                     db_url: str) -> None:
    tree, niemi = two_clubs["tree"], two_clubs["niemi"]
    form = {"amount": "1,00", "iban": "FI4250001510000023", "note": ""}
    before = (snapshot(db_url), _credit_refunds(db_url))
    for token in ("", "forged", make_member_login(db_url, "pekka@example.fi"),
                  make_staff(db_url, "dv2@example.fi", tree.district, "viewer"),
                  make_staff(db_url, "ta5@example.fi", tree.club_a, "treasurer"),
                  make_staff(db_url, "ad5@example.fi", tree.club_a, "admin")):
        page = _person_page(token, niemi)
        page.person_id = niemi
        assert is_refusal(await call_handler(page, "refund_from_credit", form))
        assert page.credit_message == ""
        escrow = state_for(EscrowState, token)
        assert is_refusal(await call_handler(escrow, "credit_refund_paid", 1))
    assert (snapshot(db_url), _credit_refunds(db_url)) == before
    # The operator with bad input: the reason beside the balance, nothing written.
    page = await _loaded(db_url, make_staff(db_url, "op3@example.fi", None, None,
                                            operator=True), niemi)
    for bad in ({**form, "amount": "7,01"}, {**form, "amount": "0"},
                {**form, "amount": "kaksi"}, {**form, "iban": "FI42 5000 1510 0000 24"},
                {**form, "iban": ""}):
        await call_handler(page, "refund_from_credit", bad)
        assert page.credit_error and page.credit_message == "", bad
    assert (snapshot(db_url), _credit_refunds(db_url)) == before
