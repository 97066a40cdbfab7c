"""Billing handlers called directly as nobody, a forged session, a member, the sibling club's
admin and a viewer: each call is refused and the database is unchanged.

Same pattern as test_handler_refusals.py: the in-process state tree, the registered
(guarded) handler awaited with attacker-chosen arguments and attacker-steered state.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import func, select

import membook_app.membook_app  # noqa: F401
from membook_app.accounts.permissions import load_actor
from membook_app.accounts.users import get_or_create_user
from membook_app.billing.fees import set_fee
from membook_app.billing.invoice_payments import invoice_payments, paper_links
from membook_app.billing.runs import commit_run
from membook_app.db import session_scope
from membook_app.errors import NotFound
from membook_app.ui.admin.fees import FeesState
from membook_app.ui.admin.invoice_runs import InvoiceRunState
from membook_app.ui.admin.invoices import (
    InvoiceDetailState,
    InvoiceListState,
    ManualInvoiceState,
)
from models import (
    AuditEvent,
    Fee,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    MembershipType,
    RunPrice,
    RunPriceLine,
)
from tests.db.test_billing_fees import billing_world
from tests.factories import make_member_login, make_staff
from tests.handlers import call_handler, is_refusal, state_for

WRITERS = ["nobody", "forged", "member", "sibling_admin", "viewer"]
READERS = ["nobody", "forged", "member", "sibling_admin"]


def _snapshot(url: str) -> tuple[int, ...]:
    with session_scope(url) as s:
        return tuple(
            s.exec(select(func.count()).select_from(table)).one()
            for table in (Fee, MembershipType, Invoice, InvoiceLine, InvoiceRun, RunPrice,
                          RunPriceLine)
        ) + (s.exec(select(func.count()).select_from(AuditEvent)
                    .where(AuditEvent.action != "person.viewed")).one(),
             s.exec(select(func.sum(Fee.amount_cents))).one() or 0)


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    w = billing_world(db_url)
    t = w.tree
    with session_scope(db_url) as s:
        commit_run(s, None, t.club_a, False, "2027", date(2027, 1, 2), date(2099, 1, 31))
        set_fee(s, None, organization_id=t.club_a, period="2028", membership_type_id=t.type_a,
                amount_cents=4000)
        invoice_id = s.exec(select(Invoice.id).where(
            Invoice.person_id == w.people["full"])).one()
        fee_id = s.exec(select(Fee.id).where(Fee.organization_id == t.club_a)).first()
    return {
        "url": db_url, "tree": t, "world": w, "invoice_id": invoice_id, "fee_id": fee_id,
        "nobody": "", "forged": "not-a-real-session-token",
        "member": make_member_login(db_url, "aino@example.fi"),
        "sibling_admin": make_staff(db_url, "b.admin@example.fi", t.club_b, "admin"),
        "viewer": make_staff(db_url, "viewer@example.fi", t.club_a, "viewer"),
        "admin_a": make_staff(db_url, "a.admin@example.fi", t.club_a, "admin"),
    }


def _fees_state(world: dict[str, Any], who: str) -> Any:
    state = state_for(FeesState, world[who])
    state.org_id, state.period = str(world["tree"].club_a), "2027"
    return state


@pytest.mark.parametrize("who", WRITERS)
async def test_save_fee_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = _fees_state(world, who)
    result = await call_handler(state, "save_fee", {"target": f"type:{world['tree'].type_a}",
                                             "amount": "1,00"})
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", WRITERS)
async def test_remove_fee_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    result = await call_handler(_fees_state(world, who), "remove_fee", world["fee_id"])
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", WRITERS)
async def test_membership_type_changes_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = _fees_state(world, who)
    result = await call_handler(state, "add_type", {"name": "Hakkeri", "category": "kunnia"})
    assert is_refusal(result), result
    result = await call_handler(state, "toggle_type", world["tree"].type_a)
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before
    with session_scope(world["url"]) as s:
        assert s.get(MembershipType, world["tree"].type_a).active


@pytest.mark.parametrize("who", READERS)
async def test_fee_page_of_other_organisation_refused(world: dict[str, Any], who: str) -> None:
    state = _fees_state(world, who)
    result = await call_handler(state, "load")
    assert is_refusal(result), result
    assert state.preview == [] and state.fees == []


def _run_state(world: dict[str, Any], who: str) -> Any:
    state = state_for(InvoiceRunState, world[who])
    state.org_id, state.period = str(world["tree"].club_a), "2028"
    state.issue_date, state.due_date = "2.1.2028", "31.1.2028"
    state.has_preview, state._preview_count = True, 1  # as if steered past the preview
    state._preview_key = state._key()
    return state


@pytest.mark.parametrize("who", WRITERS)
async def test_invoice_run_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = _run_state(world, who)
    assert is_refusal(await call_handler(state, "preview"))
    assert state.shares == []
    state = _run_state(world, who)
    result = await call_handler(state, "confirm")
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


async def test_invoice_run_positive_control(world: dict[str, Any]) -> None:
    """The club's own admin previews and confirms: one new invoice for 2028."""
    before = _snapshot(world["url"])
    state = _run_state(world, "admin_a")
    state.has_preview = False
    assert await call_handler(state, "preview") is None
    assert state.invoice_count == "2"  # Matti and Ville on the priced type
    assert await call_handler(state, "confirm") is None
    assert "2" in state.done_text
    assert _snapshot(world["url"])[2] == before[2] + 2


@pytest.mark.parametrize("who", READERS)
async def test_invoice_list_of_other_organisation_refused(world: dict[str, Any],
                                                          who: str) -> None:
    state = state_for(InvoiceListState, world[who])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "set_search", "Virtanen")
    assert is_refusal(result), result
    assert state.rows == []


@pytest.mark.parametrize("who", WRITERS)
async def test_credit_note_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = state_for(InvoiceDetailState, world[who])
    state.invoice_id = world["invoice_id"]
    result = await call_handler(state, "credit", {"reason": "hack"})
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before
    with session_scope(world["url"]) as s:
        assert s.get(Invoice, world["invoice_id"]).status == "open"


async def test_credit_note_positive_control(world: dict[str, Any]) -> None:
    state = state_for(InvoiceDetailState, world["admin_a"])
    state.invoice_id = world["invoice_id"]
    assert await call_handler(state, "credit", {"reason": "erosi"}) is None
    with session_scope(world["url"]) as s:
        assert s.get(Invoice, world["invoice_id"]).status == "credited"


@pytest.mark.parametrize("who", WRITERS)
async def test_manual_invoice_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = state_for(ManualInvoiceState, world[who])
    state.org_id = str(world["tree"].club_a)
    state.person_id = world["world"].people["full"]
    result = await call_handler(state, "create", {"desc0": "Hack", "amount0": "1,00",
                                           "org0": str(world["tree"].club_a),
                                           "due_date": "31.12.2099"})
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


async def test_member_cannot_open_someone_elses_invoice_list(world: dict[str, Any]) -> None:
    member = make_member_login(world["url"], "matti@example.fi")
    state = state_for(InvoiceListState, member)
    state.org_id = str(world["tree"].club_a)
    assert "/portal" in repr(await call_handler(state, "load"))
    assert state.rows == []


@pytest.mark.parametrize("who", ["sibling_admin", "member"])
def test_invoice_payments_and_paper_links_refused(world: dict[str, Any], who: str) -> None:
    """The staff invoice page's payments and its print links (a signed public link) are
    given only to staff who may read the invoice; to others the invoice looks missing."""
    email = {"sibling_admin": "b.admin@example.fi", "member": "aino@example.fi"}[who]
    with session_scope(world["url"]) as s:
        actor = load_actor(s, get_or_create_user(s, None, email))
        for service in (invoice_payments, paper_links):
            with pytest.raises(NotFound):
                service(s, actor, world["invoice_id"])


async def test_invoice_page_gives_readers_the_print_links(world: dict[str, Any]) -> None:
    """Positive controls: a viewer of the club may read them; the page's handler (here
    the admin's credit, which refills the page) shows them."""
    with session_scope(world["url"]) as s:
        actor = load_actor(s, get_or_create_user(s, None, "viewer@example.fi"))
        links = paper_links(s, actor, world["invoice_id"])
        assert invoice_payments(s, actor, world["invoice_id"]) == []
    assert links.pdf == links.page + ".pdf" and "/i/" in links.page
    state = state_for(InvoiceDetailState, world["admin_a"])
    state.invoice_id = world["invoice_id"]
    assert await call_handler(state, "credit", {"reason": "erosi"}) is None
    assert "/i/" in state.public_link and state.pdf_link == state.public_link + ".pdf"
