"""/admin/settlements: the settlement list with filters, one settlement's summary and its
lines (paged on the server), and the .xlsx report download.

What each user sees is decided by `membook_app.settlements.views`: the organisations of
their subtree, approved runs only (the operator: everything).
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import fi_date, fi_datetime, money, number
from membook_app.register.validation import parse_date
from membook_app.settlements.report_xlsx import LINE_KIND, STATUS, summary_items
from membook_app.settlements.views import (
    SettlementQuery,
    list_settlements,
    settlement_detail,
)
from membook_app.ui.admin.list_filters import ListFiltersMixin
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import choice_select, page_title, pager
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import UiState, t
from membook_app.web.settlement_reports import report_url

STATUS_LABELS = {key: f"{fi} / {en}" for key, (fi, en) in STATUS.items()}

nav_item("/admin/settlements", "landmark", "Tilitykset", "Settlements", order=430)


@dataclasses.dataclass
class SettlementView:
    id: int
    cut_off: str
    organization: str
    reference: str
    status: str
    payments: str
    gross: str
    fees: str
    net: str
    payout: str


@dataclasses.dataclass
class SummaryItem:
    fi: str
    en: str
    value: str


@dataclasses.dataclass
class LineView:
    id: int
    payment_date: str
    payer: str
    invoice: str
    member: str
    amount: str
    fee: str
    kind: str


def _shown(kind: str, value: object) -> str:
    """A summary value in Finnish display form."""
    if value is None or value == "":
        return "–"
    if kind == "money":
        return money(value)  # type: ignore[arg-type]
    if kind == "int":
        return number(value)  # type: ignore[arg-type]
    if kind == "date":
        return fi_date(value)  # type: ignore[arg-type]
    return str(value)


class SettlementsState(ListFiltersMixin, StaffState):
    FILTERS = ("date_from", "date_to", "status_filter")
    date_from: str = ""
    date_to: str = ""
    status_filter: str = "all"
    total_text: str = ""
    rows: list[SettlementView] = []
    selected_id: int = 0
    summary: list[SummaryItem] = []
    report_href: str = ""
    line_page: int = 1
    line_pages: int = 1
    line_total: str = ""
    lines: list[LineView] = []

    def _query(self) -> SettlementQuery:
        every = self.all_orgs and current_actor().is_operator
        org = None if every or not self.org_id.isdigit() else int(self.org_id)
        return SettlementQuery(
            organization_id=org, include_suborganizations=self.include_sub,
            date_from=parse_date(self.date_from, "date_from"),
            date_to=parse_date(self.date_to, "date_to"),
            status=self.status_filter if self.status_filter in STATUS else None,
            page=self.page)

    def _load(self) -> None:
        with session_scope() as session:
            result = list_settlements(session, current_actor(), self._query())
        self.page, self.pages = result.page, result.pages
        self.total_text = f"{number(result.total)} · {money(result.payout_cents)}"
        self.rows = [SettlementView(
            r.id, fi_datetime(r.cut_off), r.organization, r.reference,
            STATUS_LABELS.get(r.status, r.status), number(r.payment_count),
            money(r.gross_cents), money(r.fee_cents), money(r.net_cents), money(r.payout_cents))
            for r in result.rows]

    def _open(self, settlement_id: int, page: int) -> None:
        with session_scope() as session:
            detail = settlement_detail(session, current_actor(), settlement_id, page=page)
        s = detail.settlement
        self.selected_id, self.report_href = s.id, report_url(s.id)
        self.summary = [SummaryItem(fi, en, _shown(kind, value))
                        for fi, en, kind, value in summary_items(s)]
        self.line_page, self.line_pages = detail.page, detail.pages
        self.line_total = number(detail.line_count)
        self.lines = [LineView(li.id, fi_date(li.payment_date), li.payer, li.invoice_reference,
                               li.member, money(li.amount_cents), money(li.fee_cents),
                               "{} / {}".format(*LINE_KIND.get(li.kind, (li.kind, li.kind))))
                      for li in detail.lines]

    def _close(self) -> None:
        self.selected_id, self.summary, self.lines, self.report_href = 0, [], [], ""

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        self._close()
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self.page = 1
        self._close()
        self._load()

    @rx.event
    @guarded("staff")
    def open_settlement(self, settlement_id: int) -> None:
        """Show one settlement: its summary and the first page of its lines."""
        self._open(int(settlement_id), 1)

    @rx.event
    @guarded("staff")
    def go_to_line_page(self, page: int) -> None:
        if self.selected_id:
            self._open(self.selected_id, max(1, int(page)))

    @rx.event
    @guarded("staff")
    def close_settlement(self) -> None:
        self._close()


def _date_filter(name: str, value: rx.Var, placeholder: str) -> rx.Component:
    # Applied when the field is left: a half-typed date is no filter yet.
    return rx.input(placeholder=placeholder, default_value=value, width="11em",
                    id=f"settlements-{name}",
                    on_blur=lambda v: SettlementsState.set_filter(name, v))


def _row(row: SettlementView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.cut_off), rx.table.cell(row.organization),
        rx.table.cell(row.reference), rx.table.cell(row.status),
        rx.table.cell(row.payments, text_align="right"),
        rx.table.cell(row.gross, text_align="right"),
        rx.table.cell(row.fees, text_align="right"), rx.table.cell(row.net, text_align="right"),
        rx.table.cell(row.payout, text_align="right"),
        rx.table.cell(rx.button(t("Avaa", "Open"), size="1", variant="soft",
                                on_click=SettlementsState.open_settlement(row.id))),
        key=row.id, id=f"settlement-{row.id}",
        background=rx.cond(SettlementsState.selected_id == row.id, rx.color("accent", 3), ""),
    )


def _summary_item(item: SummaryItem) -> rx.Component:
    return rx.hstack(
        rx.text(rx.cond(UiState.lang == "en", item.en, item.fi), weight="medium", width="18em"),
        rx.text(item.value),
    )


def _line(row: LineView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.payment_date), rx.table.cell(row.payer), rx.table.cell(row.invoice),
        rx.table.cell(row.member), rx.table.cell(row.amount, text_align="right"),
        rx.table.cell(row.fee, text_align="right"), rx.table.cell(row.kind), key=row.id,
    )


def _headers(*labels: rx.Var) -> rx.Component:
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(x) for x in labels]))


def _detail() -> rx.Component:
    s = SettlementsState
    return rx.vstack(
        rx.hstack(
            rx.heading(t("Tilitys", "Settlement"), size="4"),
            rx.spacer(),
            rx.link(t("Lataa raportti (.xlsx)", "Download the report (.xlsx)"),
                    href=s.report_href, id="settlement-report", is_external=False),
            rx.button(t("Sulje", "Close"), size="1", variant="soft",
                      on_click=s.close_settlement),
            width="100%", align="center",
        ),
        rx.vstack(rx.foreach(s.summary, _summary_item), spacing="1", id="settlement-summary"),
        pager(t("Maksuja", "Payments"), " ", s.line_total, page=s.line_page,
              pages=s.line_pages, go_to=s.go_to_line_page, id_prefix="settlement-lines"),
        rx.box(rx.table.root(
            _headers(t("Maksupäivä", "Payment date"), t("Maksaja", "Payer"),
                     t("Laskun viite", "Invoice reference"), t("Jäsen", "Member"),
                     t("Osuus", "Share"), t("Palvelumaksu", "Fee"), t("Laji", "Kind")),
            rx.table.body(rx.foreach(s.lines, _line)),
            size="1", variant="surface", id="settlement-lines-table",
        ), overflow_x="auto", width="100%"),
        width="100%", spacing="2",
    )


@admin_page("/admin/settlements", "tilitykset / settlements", on_load=[SettlementsState.load],
            on_org_change=SettlementsState.org_changed)
def settlements_view() -> rx.Component:
    s = SettlementsState
    return rx.vstack(
        page_title(t("Tilitykset", "Settlements")),
        rx.flex(
            rx.text(t("Katkaisupäivä", "Cut-off date"), size="2"),
            _date_filter("date_from", s.date_from, "alkaen p.k.vvvv"),
            _date_filter("date_to", s.date_to, "asti p.k.vvvv"),
            choice_select(s.status_filter, STATUS_LABELS,
                          lambda v: SettlementsState.set_filter("status_filter", v),
                          id="settlements-status"),
            rx.hstack(rx.switch(checked=s.include_sub, on_change=s.set_include_sub),
                      rx.text(t("Alayhdistykset mukaan", "Include sub-organisations"), size="2"),
                      align="center"),
            rx.cond(s.is_operator, rx.hstack(
                rx.switch(checked=s.all_orgs, on_change=s.set_all_orgs),
                rx.text(t("Kaikki yhdistykset", "All organisations"), size="2"),
                align="center")),
            gap="0.75em", wrap="wrap", align="center", width="100%",
        ),
        pager(t("Yhteensä", "Total"), " ", s.total_text, page=s.page, pages=s.pages,
              go_to=s.go_to_page, id_prefix="settlements"),
        rx.box(rx.table.root(
            _headers(t("Katkaisu", "Cut-off"), t("Yhdistys", "Organisation"),
                     t("Viite", "Reference"), t("Tila", "Status"), t("Maksuja", "Payments"),
                     t("Osuudet", "Shares"), t("Palvelumaksut", "Fees"), t("Netto", "Net"),
                     t("Maksetaan", "Paid out"), ""),
            rx.table.body(rx.foreach(s.rows, _row)),
            size="1", variant="surface", id="settlements-table",
        ), overflow_x="auto", width="100%"),
        rx.cond(s.selected_id != 0, _detail()),
        spacing="3", width="100%",
    )
