"""Settlement and escrow handlers, and the report download, called by nobody, a forged
token, a member and a sibling club's treasurer (the escrow page also by treasurers).

The pattern of test_handler_refusals.py: the in-process state tree, the registered
(guarded) handler awaited with attacker-chosen arguments; nothing is shown and nothing
is written (the report download is audited, so the audit trail must stay the same).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

import membook_app.membook_app  # noqa: F401
from membook_app.db import session_scope
from membook_app.ui.admin.escrow import EscrowState
from membook_app.ui.admin.settlements import SettlementsState
from membook_app.web.settlement_reports import ROUTES, report_url
from models import AuditEvent
from tests.db.settlement_view_support import SettledWorld, make_settled_world
from tests.handlers import call_handler, is_refusal, state_for

SIGNED_OUT = ["nobody", "forged", "member"]
ATTACKERS = [*SIGNED_OUT, "sibling_treasurer"]


@pytest.fixture
def world(db_url: str) -> SettledWorld:
    return make_settled_world(db_url)


def _audit_count(url: str) -> int:
    with session_scope(url) as s:
        return len(s.exec(select(AuditEvent.id)).all())


def _settlements(w: SettledWorld, who: str) -> Any:
    state = state_for(SettlementsState, w.tokens[who])
    state.org_id = str(w.club)  # the attacker points the page at club A
    return state


LIST_CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("load", ()), ("org_changed", ("",)), ("set_filter", ("status_filter", "approved")),
    ("set_include_sub", (False,)), ("go_to_page", (2,))]


@pytest.mark.parametrize("who", ATTACKERS)
async def test_list_of_other_club_refused(world: SettledWorld, who: str) -> None:
    for handler, args in LIST_CALLS:
        state = _settlements(world, who)
        assert is_refusal(await call_handler(state, handler, *args)), handler
        assert state.rows == [] and state.total_text == "", handler


@pytest.mark.parametrize("who", [*ATTACKERS, "club_treasurer"])
async def test_all_organisations_is_operator_only(world: SettledWorld, who: str) -> None:
    state = _settlements(world, who)
    assert is_refusal(await call_handler(state, "set_all_orgs", True))
    assert state.rows == [] and state.all_orgs is False


@pytest.mark.parametrize("who", ATTACKERS)
async def test_detail_of_other_club_refused(world: SettledWorld, who: str) -> None:
    before = _audit_count(world.url)
    state = _settlements(world, who)
    assert is_refusal(await call_handler(state, "open_settlement", world.approved[world.club]))
    assert state.selected_id == 0 and state.lines == [] and state.summary == []
    # A page request for a settlement the state was made to hold shows nothing either.
    state.selected_id = world.approved[world.club]
    assert is_refusal(await call_handler(state, "go_to_line_page", 1))
    assert state.lines == []
    assert _audit_count(world.url) == before


@pytest.mark.parametrize("who", SIGNED_OUT)
async def test_close_needs_a_signed_in_staff_user(world: SettledWorld, who: str) -> None:
    state = _settlements(world, who)
    assert is_refusal(await call_handler(state, "close_settlement"))


async def test_treasurer_cannot_open_a_draft(world: SettledWorld) -> None:
    state = _settlements(world, "club_treasurer")
    assert is_refusal(await call_handler(state, "open_settlement", world.draft[world.club]))
    assert state.selected_id == 0 and state.lines == []


async def test_own_treasurer_sees_list_and_detail(world: SettledWorld) -> None:
    """The positive control: the same calls by club A's treasurer show its settlement."""
    state = _settlements(world, "club_treasurer")
    assert await call_handler(state, "load") is None
    assert [r.id for r in state.rows] == [world.approved[world.club]]
    assert await call_handler(state, "open_settlement", world.approved[world.club]) is None
    assert state.report_href == report_url(world.approved[world.club])
    assert [li.member for li in state.lines] == ["Aaltonen Aino", "Virta Ville"]
    assert any(i.en == "Paid out" and i.value == "59,10\xa0€" for i in state.summary)


@pytest.mark.parametrize("who", [*ATTACKERS, "club_treasurer", "district_viewer"])
async def test_escrow_page_is_operator_only(world: SettledWorld, who: str) -> None:
    state = state_for(EscrowState, world.tokens[who])
    assert is_refusal(await call_handler(state, "load"))
    assert is_refusal(await call_handler(state, "set_as_of", "26.11.2026"))
    assert state.terms == [] and state.expected == "" and state.explained == []


async def test_operator_sees_escrow(world: SettledWorld) -> None:
    state = state_for(EscrowState, world.tokens["operator"])
    assert await call_handler(state, "load") is None
    # 55.00 + 55.00 + 35.00 + 55.00 received; the approved run paid out (and kept as fees)
    # all of the first three, so the late payment is what the account should hold.
    assert state.expected == "55,00\xa0€" and state.has_statement is False
    assert {t.key for t in state.terms} >= {"reference", "settled", "fees"}


def test_report_download_refused(world: SettledWorld) -> None:
    client = TestClient(Starlette(routes=ROUTES))
    url = report_url(world.approved[world.club])
    before = _audit_count(world.url)

    def get(who: str, target: str = url) -> Any:
        client.cookies.clear()
        token = world.tokens[who]
        return client.get(target, cookies={"membook_session": token} if token else {})

    assert get("nobody").status_code == 401
    assert get("forged").status_code == 401
    for who in ("member", "sibling_treasurer"):
        response = get(who)
        assert response.status_code == 404, who
        assert b"PK" not in response.content[:2]
    assert get("club_treasurer", report_url(world.draft[world.club])).status_code == 404
    assert get("club_treasurer", report_url(999_999)).status_code == 404
    assert _audit_count(world.url) == before

    own = get("club_treasurer")
    assert own.status_code == 200, own.text
    assert own.content[:2] == b"PK"
    assert own.headers["cache-control"] == "no-store"
    assert "tilitys-RF" in own.headers["content-disposition"]
    assert get("operator", report_url(world.draft[world.club])).status_code == 200


async def test_filters_on_the_page(world: SettledWorld) -> None:
    """The operator's filters reach the list; a bad date is a clear message, not data."""
    state = _settlements(world, "operator")
    await call_handler(state, "set_all_orgs", True)
    assert len(state.rows) == len(world.approved) + len(world.draft)
    await call_handler(state, "set_filter", "status_filter", "draft")
    assert {r.id for r in state.rows} == set(world.draft.values())
    result = await call_handler(state, "set_filter", "date_from", "32.1.2026")
    assert "p.k.vvvv" in repr(result)
    assert await call_handler(state, "set_filter", "date_from", "1.1.2026") is None
    assert await call_handler(state, "set_filter", "org_id", "1") is None
    assert state.org_id == str(world.club)  # only the filter names are settable
    escrow = state_for(EscrowState, world.tokens["operator"])
    assert await call_handler(escrow, "set_as_of", "26.11.2026") is None
    assert escrow.day == "26.11.2026"


def _refund_payment(w: SettledWorld) -> int:
    """A payment without a reference, marked by the operator to be paid back."""
    from membook_app.payments.unmatched import mark_refund
    from models import Payment
    from tests.db.settlement_support import pay
    from tests.db.test_bank_import_support import actor
    pay(w.url, [{"archive": "REFUND-1", "cents": 1234, "ustrd": "lahjoitus"}])
    with session_scope(w.url) as s:
        payment = s.exec(select(Payment).where(Payment.status == "unmatched")).one()
        mark_refund(s, actor(w.url, w.tokens["operator"]), payment.id)  # type: ignore[arg-type]
        return payment.id  # type: ignore[return-value]


def _refunded_on(w: SettledWorld, payment_id: int) -> Any:
    from models import Payment
    with session_scope(w.url) as s:
        return s.get(Payment, payment_id).refunded_on  # type: ignore[union-attr]


@pytest.mark.parametrize("who", [*ATTACKERS, "club_treasurer", "district_viewer"])
async def test_refund_paid_back_is_operator_only(world: SettledWorld, who: str) -> None:
    payment_id = _refund_payment(world)
    before = _audit_count(world.url)
    state = state_for(EscrowState, world.tokens[who])
    assert is_refusal(await call_handler(state, "set_refund_day", "1.1.2020"))
    assert is_refusal(await call_handler(state, "refund_paid", payment_id))
    assert state.refunds == [] and state.refund_day == ""
    assert _refunded_on(world, payment_id) is None and _audit_count(world.url) == before


async def test_operator_records_a_refund_paid_back(world: SettledWorld) -> None:
    from datetime import date
    payment_id = _refund_payment(world)
    state = state_for(EscrowState, world.tokens["operator"])
    assert await call_handler(state, "load") is None
    assert [(r.payment_id, r.amount, r.paid_on) for r in state.refunds] == [
        (payment_id, "12,34\xa0€", "")]
    result = await call_handler(state, "set_refund_day", "1.1.2099")
    assert result is None
    assert "tulevaisuudessa" in repr(await call_handler(state, "refund_paid", payment_id))
    assert _refunded_on(world, payment_id) is None
    await call_handler(state, "set_refund_day", "27.11.2026")
    assert await call_handler(state, "refund_paid", payment_id) is None
    assert _refunded_on(world, payment_id) == date(2026, 11, 27)
    assert state.refunds[0].paid_on == "27.11.2026"


@pytest.mark.parametrize("who", ["member", "club_treasurer", "district_viewer"])
def test_refund_services_refuse_all_but_the_operator(world: SettledWorld, who: str) -> None:
    """The services check again, whoever calls them (a signed-in member or staff)."""
    from datetime import date

    from membook_app.errors import PermissionDenied
    from membook_app.payments.refunds import list_refunds, mark_refund_paid
    from tests.db.test_bank_import_support import actor
    payment_id = _refund_payment(world)
    before = _audit_count(world.url)
    for call in (lambda s, a: list_refunds(s, a),
                 lambda s, a: mark_refund_paid(s, a, payment_id, date(2026, 11, 27))):
        with pytest.raises(PermissionDenied), session_scope(world.url) as s:
            call(s, actor(world.url, world.tokens[who]))
    assert _refunded_on(world, payment_id) is None and _audit_count(world.url) == before
