"""The settlements report shows a draft run to the operator only.

A draft is the operator's working copy until approved (docs/settlements.md); the
settlement pages show others approved runs only, and the report, its detail rows, its
export and the page's handlers must do the same. A club treasurer asks for the club's
figures while a draft holds the club's money; after approval the same asks show it.
"""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

import membook_app.membook_app  # noqa: F401
from membook_app.db import session_scope
from membook_app.reports.registry import Filters, detail_page, run_report
from membook_app.settlements.runs import approve_run, create_run
from membook_app.ui.admin.reports import ReportsState
from membook_app.web.report_exports import ROUTES
from tests.db.settlement_support import make_org_tree, pay, standard_invoice
from tests.db.test_bank_import_support import actor
from tests.factories import make_staff
from tests.handlers import call_handler, state_for


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    """A 55 € invoice paid in full and a draft run settling it."""
    w = make_org_tree(db_url)
    _invoice, reference = standard_invoice(w)
    pay(db_url, [(reference, 5500)])
    with session_scope(db_url) as s:
        run_id = create_run(s, None).id
    return {"url": db_url, "tree": w, "run": run_id,
            "treasurer": make_staff(db_url, "ts@example.fi", w.club, "treasurer"),
            "district": make_staff(db_url, "td@example.fi", w.district, "treasurer"),
            "operator": make_staff(db_url, "op@example.fi", None, None, operator=True)}


def _seen(world: dict[str, Any], who: str, org: int | None) -> tuple[int, int, int]:
    """(settlement rows, their gross in cents, detail lines) in the report for `who`."""
    with session_scope(world["url"]) as s:
        asker = actor(world["url"], world[who])
        result = run_report(s, asker, "settlements", Filters(org))
        data = next(t for t in result.tables if t.key == "data")
        rows = [r for r in data.records() if r[0] != "Yhteensä / Total"]
        gross = sum(r[5] for r in rows)
        lines, _more = detail_page(s, asker, "settlements", Filters(org), limit=100)
    return len(rows), gross, len(lines)


def _download(world: dict[str, Any], who: str, org: int) -> list[tuple[Any, ...]]:
    client = TestClient(Starlette(routes=ROUTES))
    response = client.get("/api/reports/settlements.xlsx", params={"org": str(org)},
                          cookies={"membook_session": world[who]})
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return [row for row in book["Tiedot"].iter_rows(min_row=2, values_only=True)
            if any(v is not None for v in row)]


async def test_draft_run_hidden_from_treasurers(world: dict[str, Any]) -> None:
    tree = world["tree"]
    for who, org in (("treasurer", tree.club), ("district", tree.district)):
        assert _seen(world, who, org) == (0, 0, 0), who
        assert _download(world, who, org) == [], who
    state = state_for(ReportsState, world["treasurer"])
    state.org_id = str(tree.club)
    await call_handler(state, "open_report", "settlements")
    assert state.report == "settlements" and state.detail_rows == []
    assert all(len(t.rows) == 0 for t in state.tables)
    # The control: the operator sees the draft's three shares (club, district, federation)
    # and their lines; once approved, the treasurers see their own.
    assert _seen(world, "operator", None) == (3, 5500, 3)
    with session_scope(world["url"]) as s:
        approve_run(s, None, world["run"])
    assert _seen(world, "treasurer", tree.club) == (1, 3000, 1)
    assert _seen(world, "district", tree.district) == (2, 4500, 2)
    assert len(_download(world, "treasurer", tree.club)) == 1
    await call_handler(state, "org_changed")
    assert state.detail_rows and state.tables[0].rows
