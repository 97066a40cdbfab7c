"""Report handlers and the report download route, called by those who may not see them.

The pattern of test_handler_refusals.py: the in-process state tree, the registered
(guarded) handler awaited with attacker-chosen arguments, then no figures in the state;
the Starlette route with and without (forged) session cookies.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

import membook_app.membook_app  # noqa: F401
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from membook_app.ui.admin.reports import ReportsState
from membook_app.web.report_exports import ROUTES
from models import Person
from tests.db.test_bank_import_support import TODAY, make_world, sample
from tests.factories import make_member_login, make_staff
from tests.handlers import call_handler, is_refusal, state_for

ATTACKERS = ["nobody", "forged", "member", "sibling_treasurer"]


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    w = make_world(db_url)
    with session_scope(db_url) as s:
        import_bank_file(s, None, sample("ktl_reference_payments.txt"), "ktl.txt", today=TODAY)
        person = s.get(Person, w.people["salo"])
        person.email = "salo@example.fi"  # type: ignore[union-attr]
        s.add(person)
    return {
        "url": db_url, "tree": w.tree, "nobody": "", "forged": "not-a-real-session-token",
        "member": make_member_login(db_url, "salo@example.fi"),
        "sibling_treasurer": make_staff(db_url, "tb@example.fi", w.tree.club_b, "treasurer"),
        "treasurer_a": make_staff(db_url, "ta@example.fi", w.tree.club_a, "treasurer"),
        "operator": make_staff(db_url, "op@example.fi", None, None, operator=True),
    }


def _state(world: dict[str, Any], who: str, report: str = "receivables") -> Any:
    state = state_for(ReportsState, world[who])
    state.org_id = str(world["tree"].club_a)
    state.report = report
    return state


@pytest.mark.parametrize("who", ATTACKERS)
@pytest.mark.parametrize("report", ["receivables", "payments-journal", "register-summary"])
async def test_open_report_refused(world: dict[str, Any], who: str, report: str) -> None:
    state = _state(world, who, report)
    result = await call_handler(state, "open_report", report)
    assert is_refusal(result), result
    assert state.tables == [] and state.detail_rows == []
    for handler, args in (("set_filter", ("date_to", "2026-12-31")), ("go_to_page", (2,)),
                          ("submit_dates", ({"date_from": "1.1.2026"},)),
                          ("org_changed", ())):
        assert is_refusal(await call_handler(state, handler, *args)), handler
        assert state.tables == [] and state.detail_rows == []
    assert is_refusal(await call_handler(state, "download"))


@pytest.mark.parametrize("who", ["treasurer_a", "sibling_treasurer", "member", "nobody"])
async def test_escrow_report_is_the_operators(world: dict[str, Any], who: str) -> None:
    state = _state(world, who, "escrow")
    result = await call_handler(state, "open_report", "escrow")
    # Staff are shown the index (the report is not theirs to list); others are refused.
    if who in ("treasurer_a", "sibling_treasurer"):
        assert state.report == ""
    else:
        assert is_refusal(result)
    assert state.tables == []
    state.report = "escrow"
    assert is_refusal(await call_handler(state, "download"))
    assert state.tables == []


async def test_operator_only_switch_refused_for_treasurer(world: dict[str, Any]) -> None:
    state = _state(world, "treasurer_a", "payments-journal")
    assert is_refusal(await call_handler(state, "set_all_orgs", True))
    assert state.all_orgs is False


async def test_own_treasurer_and_operator_see_figures(world: dict[str, Any]) -> None:
    """The positive control: the same handlers give figures to those who may see them."""
    state = _state(world, "treasurer_a")
    await call_handler(state, "open_report", "receivables")
    assert state.tables and state.detail_rows
    assert "escrow" not in {r.name for r in state.reports}
    operator = _state(world, "operator", "escrow")
    await call_handler(operator, "open_report", "escrow")
    assert operator.report == "escrow" and operator.tables


def _client() -> TestClient:
    return TestClient(Starlette(routes=ROUTES))


def _get(client: TestClient, world: dict[str, Any], who: str | None, name: str,
         org: object) -> Any:
    client.cookies.clear()
    cookies = {"membook_session": world[who]} if who else {}
    return client.get(f"/api/reports/{name}.xlsx", params={"org": str(org)}, cookies=cookies)


def test_download_route_refusals(world: dict[str, Any]) -> None:
    client, club_a = _client(), world["tree"].club_a
    assert _get(client, world, None, "receivables", club_a).status_code == 401
    assert _get(client, world, "forged", "receivables", club_a).status_code == 401
    for who in ("member", "sibling_treasurer"):
        response = _get(client, world, who, "receivables", club_a)
        assert response.status_code == 404, who
        assert response.content[:2] != b"PK"
    # A treasurer: not the escrow report, not every organisation, not a made-up report.
    assert _get(client, world, "treasurer_a", "escrow", club_a).status_code == 404
    assert _get(client, world, "treasurer_a", "payments-journal", "all").status_code == 404
    assert _get(client, world, "treasurer_a", "nope", club_a).status_code == 404
    bad = client.get("/api/reports/receivables.xlsx", params={"org": club_a, "to": "31.12."},
                     cookies={"membook_session": world["treasurer_a"]})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text


def test_download_route_serves_those_allowed(world: dict[str, Any]) -> None:
    client, club_a = _client(), world["tree"].club_a
    own = _get(client, world, "treasurer_a", "receivables", club_a)
    assert own.status_code == 200 and own.content[:2] == b"PK"
    assert own.headers["cache-control"] == "no-store"
    assert _get(client, world, "operator", "escrow", "all").status_code == 200
