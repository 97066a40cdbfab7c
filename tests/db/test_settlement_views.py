"""Settlement list, detail and .xlsx report on both databases, over real approved and
draft runs: what each user sees, the filters, paging, and the report's cells."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied
from membook_app.settlements.report_xlsx import settlement_report_xlsx
from membook_app.settlements.views import (
    SettlementPage,
    SettlementQuery,
    get_settlement,
    list_settlements,
    settlement_detail,
)
from models import AuditEvent
from tests.db.settlement_view_support import PAID_ON, SettledWorld, make_settled_world
from tests.db.test_bank_import_support import actor


@pytest.fixture
def world(db_url: str) -> SettledWorld:
    return make_settled_world(db_url)


def _list(w: SettledWorld, who: str, **query: object) -> SettlementPage:
    with session_scope(w.url) as s:
        return list_settlements(s, actor(w.url, w.tokens[who]), SettlementQuery(**query))  # type: ignore[arg-type]


def _ids(page: SettlementPage) -> set[int]:
    return {r.id for r in page.rows}


def test_treasurer_sees_own_approved_settlements_operator_sees_drafts(world: SettledWorld
                                                                     ) -> None:
    w = world
    own = _list(w, "club_treasurer", organization_id=w.club)
    assert _ids(own) == {w.approved[w.club]}
    row = own.rows[0]
    # 2 payments × (30.00 share − 0.45 Basic Mini fee).
    assert (row.payment_count, row.gross_cents, row.fee_cents, row.payout_cents,
            row.status, row.organization) == (2, 6000, 90, 5910, "approved", "Seura ry")
    assert own.payout_cents == 5910
    assert _ids(_list(w, "operator", organization_id=w.club)) == {
        w.approved[w.club], w.draft[w.club]}
    below = _list(w, "district_viewer", organization_id=w.district)
    assert _ids(below) == {w.approved[o] for o in (w.district, w.club, w.sibling)}
    only = _list(w, "district_viewer", organization_id=w.district,
                 include_suborganizations=False)
    assert _ids(only) == {w.approved[w.district]}
    everything = _list(w, "operator")
    assert everything.total == len(w.approved) + len(w.draft)


@pytest.mark.parametrize("org", ["sibling", "district", "federation", None])
def test_treasurer_cannot_list_outside_own_subtree(world: SettledWorld, org: str | None
                                                   ) -> None:
    target = getattr(world, org) if org else None
    with pytest.raises(PermissionDenied):
        _list(world, "club_treasurer", organization_id=target)


def test_filters_and_paging(world: SettledWorld) -> None:
    w = world
    drafts = _list(w, "operator", status="draft")
    assert _ids(drafts) == set(w.draft.values()) and len(w.draft) == 3
    assert _list(w, "district_viewer", organization_id=w.district, status="draft").total == 0
    today = datetime.now().date()
    assert _list(w, "operator", date_from=today + timedelta(days=2)).total == 0
    assert _list(w, "operator", date_to=today - timedelta(days=2)).total == 0
    assert _list(w, "operator", date_from=today - timedelta(days=1),
                 date_to=today + timedelta(days=1)).total == 7
    pages = [_list(w, "operator", page_size=2, page=n) for n in (1, 2, 3, 99)]
    assert [(p.total, p.pages, p.page, len(p.rows)) for p in pages] == [
        (7, 4, 1, 2), (7, 4, 2, 2), (7, 4, 3, 2), (7, 4, 4, 1)]
    # Newest cut-off first: the draft run's settlements lead, the tree top first.
    assert [r.id for r in pages[0].rows] == [w.draft[w.federation], w.draft[w.district]]
    assert set().union(*(_ids(p) for p in pages)) == {*w.approved.values(),
                                                       *w.draft.values()}


def test_detail_lists_every_payment_with_payer_member_and_fee(world: SettledWorld) -> None:
    w = world
    with session_scope(w.url) as s:
        detail = settlement_detail(s, actor(w.url, w.tokens["club_treasurer"]),
                                   w.approved[w.club], page_size=1, page=2)
    assert (detail.line_count, detail.pages, detail.page) == (2, 2, 2)
    assert detail.settlement.payout_cents == 5910
    with session_scope(w.url) as s:
        lines = settlement_detail(s, actor(w.url, w.tokens["club_treasurer"]),
                                  w.approved[w.club]).lines
    assert [(li.payment_date, li.payer, li.invoice_reference, li.member, li.amount_cents,
             li.fee_cents, li.kind) for li in lines] == [
        (PAID_ON, "Aaltonen Aino", w.references["aino"], "Aaltonen Aino", 3000, 45, "payment"),
        (PAID_ON, "Virta Ville", w.references["ville"], "Virta Ville", 3000, 45, "payment")]
    assert detail.lines[0] == lines[1]
    with session_scope(w.url) as s:
        district = settlement_detail(s, actor(w.url, w.tokens["district_viewer"]),
                                     w.approved[w.district])
    assert sorted(li.invoice_reference for li in district.lines) == sorted(
        w.references[k] for k in ("aino", "ville", "pekka"))
    assert {li.amount_cents for li in district.lines} == {1500}


@pytest.mark.parametrize("who,which", [
    ("sibling_treasurer", "approved"), ("club_treasurer", "draft"),
    ("district_viewer", "draft"), ("member", "approved")])
def test_hidden_settlement_is_not_found(world: SettledWorld, who: str, which: str) -> None:
    w = world
    settlement_id = getattr(w, which)[w.club]
    with session_scope(w.url) as s, pytest.raises(NotFound):
        get_settlement(s, actor(w.url, w.tokens[who]), settlement_id)
    with session_scope(w.url) as s, pytest.raises(NotFound):
        settlement_report_xlsx(s, actor(w.url, w.tokens[who]), settlement_id)
    with session_scope(w.url) as s, pytest.raises(NotFound):
        get_settlement(s, actor(w.url, w.tokens["operator"]), 999_999)


def test_report_has_numbers_money_and_real_dates(world: SettledWorld) -> None:
    w = world
    settlement_id = w.approved[w.club]
    with session_scope(w.url) as s:
        data, filename = settlement_report_xlsx(s, actor(w.url, w.tokens["club_treasurer"]),
                                                settlement_id)
        reference = get_settlement(s, actor(w.url, w.tokens["operator"]),
                                   settlement_id).reference
    assert filename == f"tilitys-{reference}.xlsx"
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Yhteenveto", "Maksut"]
    summary = {row[0].value: row[1] for row in book["Yhteenveto"].iter_rows(min_row=5)
               if row[0].value}
    assert summary["Tilitysviite / Settlement reference"].value == reference
    paid_out = summary["Maksetaan / Paid out"]
    assert paid_out.value == 59.10 and "€" in paid_out.number_format
    assert summary["Maksuja / Payments"].value == 2
    assert isinstance(summary["Katkaisupäivä / Cut-off date"].value, datetime)
    lines = book["Maksut"]
    assert [c.value for c in lines[1]] == [
        "Maksupäivä / Payment date", "Maksaja / Payer", "Laskun viite / Invoice reference",
        "Jäsen / Member", "Osuus / Share", "Palvelumaksu / Fee", "Laji / Kind"]
    first = list(lines[2])
    assert first[0].value == datetime(2026, 11, 26) and first[0].is_date
    assert (first[1].value, first[2].value, first[3].value) == (
        "Aaltonen Aino", w.references["aino"], "Aaltonen Aino")
    assert (first[4].value, first[5].value) == (30, 0.45)
    assert "€" in first[4].number_format
    assert first[6].value == "maksu / payment"
    assert lines.max_row == 3
    with session_scope(w.url) as s:
        event = s.exec(select(AuditEvent).where(
            AuditEvent.action == "settlement.report_exported")).one()
    assert (event.object_id, event.organization_id, (event.after or {})["rows"]) == (
        settlement_id, w.club, 2)


def test_cut_off_dates_are_helsinki_days(world: SettledWorld) -> None:
    """A cut-off just after midnight in Helsinki belongs to that Helsinki day."""
    w = world
    with session_scope(w.url) as s:
        row = get_settlement(s, actor(w.url, w.tokens["operator"]), w.approved[w.club])
    from membook_app.formatting import HELSINKI

    day: date = row.cut_off.astimezone(HELSINKI).date()
    assert _list(w, "operator", date_from=day, date_to=day).total == 7
    assert _list(w, "operator", date_to=day - timedelta(days=1)).total == 0
