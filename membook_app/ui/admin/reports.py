"""/admin/reports: the reports index and one report at a time (`?r=NAME`).

Every report comes from the one registry (`membook_app.reports.registry`): the page shows
its filters, its shaped tables and a page of its detail rows, and downloads the .xlsx
from the authenticated route `/api/reports/NAME.xlsx` (never through the websocket).
Rows in state are display strings, a page at a time.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import urlencode

import reflex as rx

from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.register.validation import parse_date
from membook_app.reports.receivables import BUCKETS
from membook_app.reports.registry import (
    Filters,
    detail_page,
    display,
    get_report,
    reports_for,
    resolve,
    run_report,
)
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import choice_select, page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import UiState, t

DETAIL_PAGE = 50
# The date fields and where each one's error shows.
DATE_ERRORS = {"date_from": "from_error", "date_to": "to_error"}
DATE_ERROR = ("Päivämäärä muodossa p.k.vvvv tai vvvv-kk-pp / "
              "Date as d.m.yyyy or yyyy-mm-dd")

nav_item("/admin/reports", "chart-bar", "Raportit", "Reports", order=450)


@dataclasses.dataclass
class ReportLink:
    name: str
    fi: str
    en: str
    href: str


@dataclasses.dataclass
class TableView:
    key: str
    fi: str
    en: str
    headers: list[str]
    rows: list[list[str]]


def _lang(fi: rx.Var | str, en: rx.Var | str) -> rx.Var:
    return rx.cond(UiState.lang == "en", en, fi)


class ReportsState(StaffState):
    reports: list[ReportLink] = []
    report: str = ""
    title_fi: str = ""
    title_en: str = ""
    notes: list[str] = []
    uses_from: bool = False
    uses_to: bool = False
    date_from: str = ""
    date_to: str = ""
    from_error: str = ""
    to_error: str = ""
    all_orgs: bool = False
    has_buckets: bool = False
    bucket: str = "all"
    tables: list[TableView] = []
    detail_fi: str = ""
    detail_en: str = ""
    detail_headers: list[str] = []
    detail_rows: list[list[str]] = []
    detail_page: int = 1
    detail_more: bool = False

    def _filters(self) -> Filters:
        org = None if (self.all_orgs and self.is_operator) or not self.org_id.isdigit() \
            else int(self.org_id)
        return Filters(org, parse_date(self.date_from, "date_from") if self.uses_from else None,
                       parse_date(self.date_to, "date_to") if self.uses_to else None,
                       self.bucket if self.bucket != "all" else None)

    def _load(self) -> None:
        actor = current_actor()
        self.reports = [ReportLink(r.name, r.fi, r.en, f"/admin/reports?r={r.name}")
                        for r in reports_for(actor)]
        if self.report not in {r.name for r in self.reports}:
            self.report, self.tables, self.detail_rows, self.detail_headers = "", [], [], []
            return
        definition = get_report(self.report)
        self.title_fi, self.title_en = definition.fi, definition.en
        self.notes = list(definition.notes)
        self.uses_from, self.uses_to = "from" in definition.filters, "to" in definition.filters
        self.has_buckets = bool(definition.buckets)
        if self.bucket not in dict(definition.buckets):
            self.bucket = "all"
        filters = self._filters()
        with session_scope() as session:
            result = run_report(session, actor, self.report, filters)
            rows, more = detail_page(session, actor, self.report, filters,
                                     offset=(self.detail_page - 1) * DETAIL_PAGE,
                                     limit=DETAIL_PAGE)
        self.tables = [TableView(tb.key, tb.fi, tb.en, [c.header for c in tb.columns],
                                 tb.display_rows()) for tb in result.tables]
        self.detail_fi, self.detail_en = definition.detail_fi, definition.detail_en
        self.detail_headers = [c.header for c in definition.detail_columns]
        self.detail_rows = [[display(v, c.kind) for v, c in zip(
            row, definition.detail_columns, strict=True)] for row in rows]
        self.detail_more = more

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        """Open the index, or the report named in `?r=`."""
        self.report = self.router.url.query_parameters.get("r", "")[:40]
        self.detail_page = 1
        self._load()

    @rx.event
    @guarded("staff")
    def open_report(self, name: str) -> None:
        """Open one report from the index (an unknown or forbidden name shows the index)."""
        self.report, self.detail_page = str(name)[:40], 1
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self.detail_page = 1
        self._load()

    def _date_ok(self, name: str, value: str) -> bool:
        """Whether a date field's text is a whole date (or empty), with its error shown
        beside the field when it is not."""
        try:
            parse_date(value, name)
        except ValidationError:
            setattr(self, DATE_ERRORS[name], DATE_ERROR)
            return False
        setattr(self, DATE_ERRORS[name], "")
        return True

    def _apply(self, changes: dict[str, str]) -> None:
        """Apply the valid filter values and re-run the report when one changed; a date
        that is not whole (d.m.yyyy or yyyy-mm-dd) applies nothing and shows its error."""
        changes = {k: str(v)[:20].strip() for k, v in changes.items()
                   if k in ("date_from", "date_to", "bucket")}
        valid = [self._date_ok(k, v) for k, v in changes.items() if k in DATE_ERRORS]
        if not all(valid):
            return
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changes:  # left the field without changing it: the report stands
            return
        for key, value in changes.items():
            setattr(self, key, value)
        self.detail_page = 1
        self._load()

    @rx.event
    @guarded("staff")
    def set_filter(self, name: str, value: str) -> None:
        """One filter: a date field when it is left, or the bucket (only these names)."""
        self._apply({str(name): value})

    @rx.event
    @guarded("staff")
    def submit_dates(self, form_data: dict[str, str]) -> None:
        """Enter in a date field: the same as leaving it."""
        self._apply(dict(form_data) if isinstance(form_data, dict) else {})

    @rx.event
    @guarded("operator")
    def set_all_orgs(self, value: bool) -> None:
        self.all_orgs, self.detail_page = bool(value), 1
        self._load()

    @rx.event
    @guarded("staff")
    def go_to_page(self, page: int) -> None:
        self.detail_page = max(1, int(page))
        self._load()

    @rx.event
    @guarded("staff")
    def download(self) -> rx.event.EventSpec:
        """The .xlsx through the authenticated route (checked here first, to say why not)."""
        filters = self._filters()
        with session_scope() as session:
            resolve(session, current_actor(), get_report(self.report), filters)
        params = {"org": "all" if filters.organization_id is None else filters.organization_id}
        for key, value in (("from", filters.date_from), ("to", filters.date_to)):
            if value is not None:
                params[key] = value.isoformat()
        if filters.bucket:
            params["bucket"] = filters.bucket
        return rx.download(url=f"/api/reports/{self.report}.xlsx?{urlencode(params)}",
                           filename=f"{self.report}.xlsx")


def _table(headers: rx.Var, rows: rx.Var, table_id: str | rx.Var) -> rx.Component:
    return rx.box(rx.table.root(
        rx.table.header(rx.table.row(rx.foreach(
            headers, lambda h: rx.table.column_header_cell(rx.text(h, size="1"))))),
        rx.table.body(rx.foreach(rows, lambda row: rx.table.row(rx.foreach(
            row, lambda cell: rx.table.cell(cell, white_space="nowrap"))))),
        size="1", variant="surface", id=table_id,
    ), overflow_x="auto", width="100%")


def _shaped(table: TableView) -> rx.Component:
    return rx.vstack(
        rx.heading(_lang(table.fi, table.en), size="3"),
        _table(table.headers, table.rows, "report-table-" + table.key),
        width="100%", spacing="2",
    )


def _date_input(name: str, value: rx.Var, error: rx.Var, placeholder: rx.Var) -> rx.Component:
    """A date filter applied when the field is left or Enter is pressed (a form of one
    field submits on Enter): a half-typed date is no filter yet. Its error beside it."""
    return rx.form(rx.hstack(
        rx.input(placeholder=placeholder, default_value=value, width="13em", name=name,
                 id=f"report-{name}", on_blur=lambda v: ReportsState.set_filter(name, v)),
        rx.cond(error != "", rx.text(error, size="1", color_scheme="red",
                                     id=f"report-{name}-error")),
        align="center"), on_submit=ReportsState.submit_dates, reset_on_submit=False,
        width="auto")


def _filters() -> rx.Component:
    return rx.flex(
        rx.cond(ReportsState.uses_from,
                _date_input("date_from", ReportsState.date_from, ReportsState.from_error,
                            t("alkaen p.k.vvvv", "from d.m.yyyy"))),
        rx.cond(ReportsState.uses_to,
                _date_input("date_to", ReportsState.date_to, ReportsState.to_error,
                            t("asti p.k.vvvv", "until d.m.yyyy"))),
        rx.cond(ReportsState.has_buckets, choice_select(
            ReportsState.bucket, dict(BUCKETS),
            lambda v: ReportsState.set_filter("bucket", v), id="report-bucket")),
        rx.cond(ReportsState.is_operator, rx.hstack(
            rx.switch(checked=ReportsState.all_orgs, on_change=ReportsState.set_all_orgs),
            rx.text(t("Kaikki yhdistykset", "All organisations"), size="2"), align="center")),
        rx.button(rx.icon("download", size=16), t("Lataa Excel", "Download Excel"),
                  on_click=ReportsState.download, variant="soft", id="report-download"),
        gap="0.75em", wrap="wrap", align="center", width="100%",
    )


def _index() -> rx.Component:
    return rx.vstack(
        page_title(t("Raportit", "Reports")),
        rx.foreach(ReportsState.reports, lambda r: rx.link(
            _lang(r.fi, r.en), href=r.href, id="report-link-" + r.name,
            on_click=ReportsState.open_report(r.name).prevent_default)),
        spacing="2", width="100%",
    )


def _report() -> rx.Component:
    return rx.vstack(
        rx.link(t("← Raportit", "← Reports"), href="/admin/reports", size="2",
                on_click=ReportsState.open_report("").prevent_default),
        page_title(_lang(ReportsState.title_fi, ReportsState.title_en)),
        _filters(),
        rx.foreach(ReportsState.notes, lambda n: rx.text(n, size="1", color_scheme="gray")),
        rx.foreach(ReportsState.tables, _shaped),
        rx.cond(ReportsState.detail_headers.length() > 0, rx.vstack(
            rx.hstack(
                rx.heading(_lang(ReportsState.detail_fi, ReportsState.detail_en), size="3"),
                rx.spacer(),
                rx.button("‹", variant="soft", disabled=ReportsState.detail_page <= 1,
                          on_click=ReportsState.go_to_page(ReportsState.detail_page - 1)),
                rx.text(ReportsState.detail_page),
                rx.button("›", variant="soft", disabled=~ReportsState.detail_more,
                          on_click=ReportsState.go_to_page(ReportsState.detail_page + 1)),
                width="100%", align="center"),
            _table(ReportsState.detail_headers, ReportsState.detail_rows, "report-detail"),
            width="100%", spacing="2")),
        spacing="3", width="100%",
    )


@admin_page("/admin/reports", "raportit / reports", on_load=[ReportsState.load],
            on_org_change=ReportsState.org_changed)
def reports_view() -> rx.Component:
    return rx.cond(ReportsState.report == "", _index(), _report())
