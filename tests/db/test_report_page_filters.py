"""The reports page's date filters: a date applies when it is whole, on leaving the field
or pressing Enter; a half-typed one ("1.1.2", which once ran as year 2) shows its error
beside the field and leaves the report as it was."""

from __future__ import annotations

from typing import Any

import pytest

import membook_app.membook_app  # noqa: F401
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from membook_app.ui.admin.reports import DATE_ERROR, ReportsState
from tests.db.test_bank_import_support import TODAY, make_world, sample
from tests.factories import make_staff
from tests.handlers import call_handler, is_refusal, state_for


@pytest.fixture
async def page(db_url: str) -> Any:
    """Club A's treasurer on the payments journal, which reads both dates."""
    w = make_world(db_url)
    with session_scope(db_url) as s:
        import_bank_file(s, None, sample("ktl_reference_payments.txt"), "ktl.txt", today=TODAY)
    state = state_for(ReportsState, make_staff(db_url, "ta@example.fi", w.tree.club_a,
                                               "treasurer"))
    state.org_id = str(w.tree.club_a)
    assert not is_refusal(await call_handler(state, "open_report", "payments-journal"))
    assert state.uses_from and state.uses_to and state.detail_rows
    return state


async def test_half_typed_date_is_refused_beside_its_field(page: Any) -> None:
    before = [t.rows for t in page.tables]
    for text in ("1.1.2", "1.1.20261", "2026-1-1", "31.2.2026", "huomenna"):
        assert not is_refusal(await call_handler(page, "set_filter", "date_from", text))
        assert page.from_error == DATE_ERROR and page.date_from == "", text
        assert page.to_error == ""
    assert [t.rows for t in page.tables] == before


async def test_whole_dates_apply_on_blur_and_enter(page: Any) -> None:
    await call_handler(page, "set_filter", "date_from", "1.1.2")
    # Leaving the field with a whole Finnish date applies it and clears the error; a date
    # after all the payments leaves no rows.
    await call_handler(page, "set_filter", "date_from", f"1.1.{TODAY.year + 1}")
    assert page.from_error == "" and page.date_from == f"1.1.{TODAY.year + 1}"
    assert page.detail_rows == []
    # Enter submits the field's form: an ISO date, and an emptied field.
    await call_handler(page, "submit_dates", {"date_from": ""})
    assert page.date_from == "" and page.detail_rows
    await call_handler(page, "submit_dates", {"date_to": "2000-01-31"})
    assert page.date_to == "2000-01-31" and page.detail_rows == []
    await call_handler(page, "submit_dates", {"date_to": "31.1.20"})
    assert page.to_error == DATE_ERROR and page.date_to == "2000-01-31"
    # Unknown names are ignored; the bucket filter still applies through set_filter.
    await call_handler(page, "submit_dates", {"org_id": "1", "date_to": ""})
    assert page.date_to == "" and page.to_error == "" and page.detail_rows
