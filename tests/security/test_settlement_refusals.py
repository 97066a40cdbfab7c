"""Settlement handlers, services and the payout download refuse everyone but the operator.

Treasurers and admins of the very organisations being paid are refused too: settlements
move the escrow account's money. The pattern of test_payments_refusals.py: the registered
(guarded) handler awaited with attacker-chosen arguments, then nothing changed.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select
from starlette.testclient import TestClient

import membook_app.membook_app  # noqa: F401
from membook_app.api import api
from membook_app.db import session_scope
from membook_app.errors import PermissionDenied
from membook_app.settlements import runs
from membook_app.ui.admin.settlement_runs import SettlementRunsState
from models import Settlement, SettlementRun
from tests.db.settlement_support import make_org_tree, pay, standard_invoice
from tests.db.test_bank_import_support import actor
from tests.factories import make_staff
from tests.handlers import call_handler, is_refusal, state_for

ATTACKERS = ["nobody", "forged", "club_treasurer", "federation_admin"]


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    with session_scope(db_url) as s:
        draft = runs.create_run(s, None).id
    _, ref2 = standard_invoice(w)
    pay(db_url, [(ref2, 5500)])
    return {
        "url": db_url, "draft": draft, "nobody": "", "forged": "not-a-real-session-token",
        "club_treasurer": make_staff(db_url, "rahis@example.fi", w.club, "treasurer"),
        "federation_admin": make_staff(db_url, "admin@example.fi", w.federation, "admin"),
        "operator": make_staff(db_url, "op@example.fi", None, None, operator=True),
    }


def _snapshot(url: str) -> tuple[Any, ...]:
    with session_scope(url) as s:
        return (tuple(s.exec(select(SettlementRun.id, SettlementRun.status,
                                    SettlementRun.payout_xml)).all()),
                len(s.exec(select(Settlement.id)).all()))


HANDLERS = ("load", "preview", "create_now", "open_run", "approve", "discard")


@pytest.mark.parametrize("who", ATTACKERS)
async def test_handlers_are_operator_only(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    for handler in HANDLERS:
        state = state_for(SettlementRunsState, world[who])
        args = () if handler in ("load", "preview", "create_now") else (world["draft"],)
        result = await call_handler(state, handler, *args)
        assert is_refusal(result), (handler, result)
        assert _snapshot(world["url"]) == before
        assert state.review_rows == [] and state.preview_rows == [] and state.runs == []
        assert state.escrow_example is False


async def test_operator_reviews_and_approves(world: dict[str, Any]) -> None:
    state = state_for(SettlementRunsState, world["operator"])
    await call_handler(state, "load")
    assert state.review_id == world["draft"] and len(state.review_rows) == 3
    assert state.escrow_example is True  # the tests run with the built-in example IBAN
    await call_handler(state, "preview")
    assert len(state.preview_rows) == 3
    await call_handler(state, "approve", world["draft"])
    assert state.runs[0].download.endswith("/payout.xml")


@pytest.mark.parametrize("who", ["club_treasurer", "federation_admin"])
def test_services_refuse_staff(world: dict[str, Any], who: str) -> None:
    staff = actor(world["url"], world[who])
    with session_scope(world["url"]) as s:
        for call in (lambda: runs.preview_settlement(s, staff),
                     lambda: runs.create_run(s, staff),
                     lambda: runs.approve_run(s, staff, world["draft"]),
                     lambda: runs.discard_run(s, staff, world["draft"]),
                     lambda: runs.review_run(s, staff, world["draft"]),
                     lambda: runs.list_runs(s, staff)):
            with pytest.raises(PermissionDenied):
                call()


def test_payout_download_is_operator_only(world: dict[str, Any]) -> None:
    with session_scope(world["url"]) as s:
        xml = runs.approve_run(s, None, world["draft"])
    path = f"/api/settlement-runs/{world['draft']}/payout.xml"
    client = TestClient(api)
    assert client.get(path).status_code == 401
    for who in ("club_treasurer", "federation_admin", "forged"):
        client.cookies.set("membook_session", world[who])
        assert client.get(path).status_code == (401 if who == "forged" else 404)
    client.cookies.set("membook_session", world["operator"])
    response = client.get(path)
    assert response.status_code == 200 and response.content == xml
    assert "attachment" in response.headers["content-disposition"]
    assert client.get("/api/settlement-runs/999/payout.xml").status_code == 404


async def test_big_run_goes_to_the_worker(world: dict[str, Any],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import tasks.settlements
    from membook_app.ui.admin import settlement_runs
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(settlement_runs, "INLINE_MAX", 0)
    monkeypatch.setattr(tasks.settlements, "create_settlement_run",
                        lambda *args: queued.append(args))
    with session_scope(world["url"]) as s:
        runs.discard_run(s, None, world["draft"])
    state = state_for(SettlementRunsState, world["operator"])
    await call_handler(state, "create_now")
    assert len(queued) == 1 and "background" in state.message
    assert _snapshot(world["url"])[0] == ()
