"""Payment handlers called directly by nobody, a member, a sibling treasurer and a viewer.

The pattern of test_handler_refusals.py: the in-process state tree, the registered
(guarded) handler awaited with attacker-chosen arguments, then the money unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest

import membook_app.membook_app  # noqa: F401
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from membook_app.ui.admin.bank_import import BankImportState
from membook_app.ui.admin.payments import PaymentsState, UnmatchedState
from tests.db.test_bank_import_support import (
    TODAY,
    invoice_state,
    make_invoice,
    make_world,
    money_snapshot,
    payment_by_source,
    sample,
)
from tests.factories import make_member_login, make_staff
from tests.handlers import call_handler, is_refusal, state_for

ATTACKERS = ["nobody", "forged", "member", "sibling_treasurer", "viewer"]


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    w = make_world(db_url)
    niemi_invoice = make_invoice(db_url, w.tree.club_a, w.people["niemi"], "12344", 2000)
    with session_scope(db_url) as s:
        import_bank_file(s, None, sample("ktl_reference_payments.txt"), "ktl.txt", today=TODAY)
        payment_id = payment_by_source(s, "261126593497A005").id
    from membook_app.db import session_scope as scope
    from models import Person
    with scope(db_url) as s:
        person = s.get(Person, w.people["salo"])
        person.email = "salo@example.fi"  # type: ignore[union-attr]
        s.add(person)
    return {
        "url": db_url, "tree": w.tree, "invoice": niemi_invoice, "payment": payment_id,
        "paid_invoice": w.invoices["20260011"],
        "nobody": "", "forged": "not-a-real-session-token",
        "member": make_member_login(db_url, "salo@example.fi"),
        "sibling_treasurer": make_staff(db_url, "tb@example.fi", w.tree.club_b, "treasurer"),
        "viewer": make_staff(db_url, "va@example.fi", w.tree.club_a, "viewer"),
        "treasurer_a": make_staff(db_url, "ta@example.fi", w.tree.club_a, "treasurer"),
        "operator": make_staff(db_url, "op@example.fi", None, None, operator=True),
    }


@pytest.mark.parametrize("who", ATTACKERS)
async def test_book_refused(world: dict[str, Any], who: str) -> None:
    before = money_snapshot(world["url"])
    state = state_for(UnmatchedState, world[who])
    result = await call_handler(state, "book", world["payment"], world["invoice"])
    assert is_refusal(result), result
    assert money_snapshot(world["url"]) == before


@pytest.mark.parametrize("who", ATTACKERS)
async def test_split_refused(world: dict[str, Any], who: str) -> None:
    before = money_snapshot(world["url"])
    state = state_for(UnmatchedState, world[who])
    state.split_amounts = {str(world["invoice"]): "10,00", str(world["paid_invoice"]): "10,00"}
    result = await call_handler(state, "split", world["payment"])
    assert is_refusal(result), result
    assert money_snapshot(world["url"]) == before


@pytest.mark.parametrize("who", [*ATTACKERS, "treasurer_a"])
async def test_refund_is_operator_only(world: dict[str, Any], who: str) -> None:
    before = money_snapshot(world["url"])
    state = state_for(UnmatchedState, world[who])
    result = await call_handler(state, "refund", world["payment"])
    assert is_refusal(result), result
    assert money_snapshot(world["url"]) == before


@pytest.mark.parametrize("who", ["nobody", "forged", "member"])
async def test_queue_not_shown(world: dict[str, Any], who: str) -> None:
    state = state_for(UnmatchedState, world[who])
    result = await call_handler(state, "load")
    assert is_refusal(result), result
    assert state.queue == []
    result = await call_handler(state, "select", world["payment"])
    assert is_refusal(result), result
    assert state.candidate_rows == []


async def test_sibling_treasurer_neither_lists_nor_opens_the_payment(
        world: dict[str, Any]) -> None:
    """Club A's queued payment (its typo reference, amount and name point at club A)
    is not in club B's queue, and opening it by id is refused like a missing one."""
    state = state_for(UnmatchedState, world["sibling_treasurer"])
    assert not is_refusal(await call_handler(state, "load"))
    assert world["payment"] not in [q.id for q in state.queue]
    assert is_refusal(await call_handler(state, "select", world["payment"]))
    assert state.candidate_rows == [] and state.selected_id == 0


async def test_viewer_sees_the_queue_but_may_not_book(world: dict[str, Any]) -> None:
    state = state_for(UnmatchedState, world["viewer"])
    await call_handler(state, "load")
    assert [q.id for q in state.queue] == [world["payment"]]
    assert state.queue[0].reason == "virheellinen viite / bad reference"
    await call_handler(state, "select", world["payment"])
    assert state.candidate_rows[0].invoice_id == world["invoice"]
    assert not state.can_book and not any(c.bookable for c in state.candidate_rows)
    assert state.candidate_rows[0].status == "avoin / open"


@pytest.mark.parametrize("who", [*ATTACKERS, "treasurer_a"])
async def test_bank_page_is_operator_only(world: dict[str, Any], who: str) -> None:
    state = state_for(BankImportState, world[who])
    result = await call_handler(state, "load")
    assert is_refusal(result), result
    assert state.log_rows == []


@pytest.mark.parametrize("who", ["nobody", "forged", "member", "sibling_treasurer"])
async def test_payments_of_other_organisation_refused(world: dict[str, Any], who: str) -> None:
    state = state_for(PaymentsState, world[who])
    state.org_id = str(world["tree"].club_a)
    assert is_refusal(await call_handler(state, "load"))
    assert state.rows == []
    assert is_refusal(await call_handler(state, "export"))
    # The shared list handlers: every organisation is for the operator only, and a
    # filter change reloads through the same scoped query.
    assert is_refusal(await call_handler(state, "set_all_orgs", True))
    assert state.all_orgs is False and state.rows == []
    assert is_refusal(await call_handler(state, "set_filter", "status_filter", "matched"))
    assert state.rows == []


async def test_treasurer_books_own_invoice_and_sees_payments(world: dict[str, Any]) -> None:
    """The positive control: the right treasurer's same call books the payment."""
    state = state_for(UnmatchedState, world["treasurer_a"])
    await call_handler(state, "load")
    assert [q.id for q in state.queue] == [world["payment"]]
    await call_handler(state, "select", world["payment"])
    assert state.candidate_rows[0].invoice_id == world["invoice"]
    result = await call_handler(state, "book", world["payment"], world["invoice"])
    assert result is None and state.queue == []
    assert state.done_text == "Kirjattu / booked — kohdistettu / matched"
    with session_scope(world["url"]) as s:
        assert invoice_state(s, world["invoice"]) == ("paid", 2000)
    payments = state_for(PaymentsState, world["treasurer_a"])
    payments.org_id = str(world["tree"].club_a)
    await call_handler(payments, "load")
    assert payments.total == 5  # #1, #2, #3 and its correction #4 in club A, + the booked #5
    # The pages' words, not the stored codes.
    assert "kohdistettu / matched" in {r.status for r in payments.rows}
    assert {"viite / reference", "käsin / by hand"} <= {r.rule for r in payments.rows}
    download = await call_handler(payments, "export")
    assert "maksut.xlsx" in repr(download)
