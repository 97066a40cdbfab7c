"""The member register table: server-side pages, search, filters, sort and a count."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import fi_date, number
from membook_app.register.custom_fields import list_fields
from membook_app.register.memberships import membership_types
from membook_app.register.search import RegisterQuery, register_page
from membook_app.ui.admin.list_filters import PagingMixin
from membook_app.ui.admin.shell import StaffState, admin_page
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

STATUS_LABELS = {"active": "aktiivinen", "resigned": "eronnut", "ended": "päättynyt",
                 "deemed_resigned": "katsottu eronneeksi"}


@dataclasses.dataclass
class RegisterRowView:
    person_id: int
    member_number: str
    name: str
    email: str
    phone: str
    city: str
    organization: str
    type_name: str
    status: str
    start_date: str


@dataclasses.dataclass
class TypeOption:
    id: str
    name: str


class RegisterState(PagingMixin, StaffState):
    """One page of rows at a time; filters live here, rows come from SQL."""

    search: str = ""
    type_filter: str = "all"
    status_filter: str = "active"
    sort: str = "name"
    descending: bool = False
    page_size: int = 50
    rows: list[RegisterRowView] = []
    total: int = 0
    types: list[TypeOption] = []
    custom_fields: list[TypeOption] = []
    cf_filter: str = "none"
    cf_value: str = ""

    @rx.var
    def total_text(self) -> str:
        return number(self.total)

    def _load(self) -> None:
        actor = current_actor()
        if not self.org_id:
            self.rows, self.total, self.pages = [], 0, 1
            return
        with session_scope() as session:
            result = register_page(session, actor, RegisterQuery(
                organization_id=int(self.org_id),
                include_suborganizations=self.include_sub,
                search=self.search[:100],
                type_id=int(self.type_filter) if self.type_filter.isdigit() else None,
                status=None if self.status_filter == "all" else self.status_filter,
                sort=self.sort, descending=self.descending,
                page=self.page, page_size=self.page_size,
                custom_field_id=int(self.cf_filter) if self.cf_filter.isdigit() else None,
                custom_value=self.cf_value[:100],
            ))
            self.types = [TypeOption(str(m.id), m.name)
                          for m in membership_types(session, int(self.org_id))]
            self.custom_fields = [TypeOption(str(f.id), f.label) for f in list_fields(
                session, int(self.org_id), include_ancestors=True)]
        self.total, self.pages, self.page = result.total, result.pages, result.page
        self.rows = [
            RegisterRowView(r.person_id, str(r.member_number), f"{r.last_name} {r.first_name}",
                            r.email or "", r.phone or "", r.city or "", r.organization,
                            r.type_name, STATUS_LABELS.get(r.status, r.status),
                            fi_date(r.start_date))
            for r in result.rows
        ]

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        """Reload the current page (after sign-in, an organisation switch or a filter)."""
        if self.type_filter not in ("all", *(o.id for o in self.types)):
            self.type_filter = "all"
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        """A new organisation: its own types, first page."""
        self.type_filter, self.page = "all", 1
        self.cf_filter, self.cf_value = "none", ""
        self._load()

    @rx.event
    @guarded("staff")
    def set_cf_filter(self, value: str) -> None:
        """Filter by a custom field (its value typed beside it; "-" finds empty ones)."""
        self.cf_filter, self.page = (value if value.isdigit() else "none"), 1
        self._load()

    @rx.event
    @guarded("staff")
    def set_cf_value(self, value: str) -> None:
        self.cf_value, self.page = value[:100], 1
        self._load()

    @rx.event
    @guarded("staff")
    def set_search(self, value: str) -> None:
        self.search, self.page = value[:100], 1
        self._load()

    @rx.event
    @guarded("staff")
    def set_type_filter(self, value: str) -> None:
        self.type_filter, self.page = value, 1
        self._load()

    @rx.event
    @guarded("staff")
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value if value in (*STATUS_LABELS, "all") else "active"
        self.page = 1
        self._load()

    @rx.event
    @guarded("staff")
    def sort_by(self, column: str) -> None:
        """Click a header: sort by it, a second click reverses."""
        if column == self.sort:
            self.descending = not self.descending
        else:
            self.sort, self.descending = column, False
        self._load()



def _header_cell(label: rx.Var, column: str | None) -> rx.Component:
    if column is None:
        return rx.table.column_header_cell(label)
    arrow = rx.cond(RegisterState.sort == column,
                    rx.cond(RegisterState.descending, " ↓", " ↑"), "")
    return rx.table.column_header_cell(
        rx.text(label, arrow, cursor="pointer", on_click=RegisterState.sort_by(column)))


def _row(row: RegisterRowView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.member_number),
        rx.table.cell(rx.link(row.name, href=f"/admin/person?id={row.person_id}")),
        rx.table.cell(row.email),
        rx.table.cell(row.phone),
        rx.table.cell(row.city),
        rx.table.cell(row.organization),
        rx.table.cell(row.type_name),
        rx.table.cell(row.status),
        rx.table.cell(row.start_date),
    )


def filters() -> rx.Component:
    """Search box and filter controls above the table."""
    return rx.flex(
        rx.input(placeholder="Hae nimellä, sähköpostilla tai jäsennumerolla / Search",
                 value=RegisterState.search, on_change=RegisterState.set_search.debounce(300),
                 id="register-search", min_width="18em", flex="1"),
        rx.select.root(
            rx.select.trigger(id="type-filter"),
            rx.select.content(
                rx.select.item("Kaikki jäsenlajit / All types", value="all"),
                rx.foreach(RegisterState.types, lambda o: rx.select.item(o.name, value=o.id)),
            ),
            value=RegisterState.type_filter, on_change=RegisterState.set_type_filter,
        ),
        rx.select.root(
            rx.select.trigger(id="status-filter"),
            rx.select.content(
                rx.select.item("Aktiiviset / Active", value="active"),
                rx.select.item("Eronneet / Resigned", value="resigned"),
                rx.select.item("Päättyneet / Ended", value="ended"),
                rx.select.item("Katsottu eronneeksi / Deemed resigned", value="deemed_resigned"),
                rx.select.item("Kaikki / All", value="all"),
            ),
            value=RegisterState.status_filter, on_change=RegisterState.set_status_filter,
        ),
        rx.cond(RegisterState.custom_fields.length() > 0, rx.hstack(
            rx.select.root(
                rx.select.trigger(id="cf-filter"),
                rx.select.content(
                    rx.select.item("Lisätieto / Custom field: –", value="none"),
                    rx.foreach(RegisterState.custom_fields,
                               lambda o: rx.select.item(o.name, value=o.id)),
                ),
                value=RegisterState.cf_filter, on_change=RegisterState.set_cf_filter,
            ),
            rx.cond(RegisterState.cf_filter != "none", rx.input(
                placeholder="arvo / value (- = tyhjä / empty)", value=RegisterState.cf_value,
                on_change=RegisterState.set_cf_value.debounce(300), id="cf-value",
                width="12em")),
            align="center")),
        rx.hstack(
            rx.switch(checked=RegisterState.include_sub, on_change=RegisterState.set_include_sub,
                      id="include-sub"),
            rx.text(t("Alayhdistykset mukaan", "Include sub-organisations"), size="2"),
            align="center",
        ),
        gap="0.75em", wrap="wrap", align="center", width="100%",
    )


def pager() -> rx.Component:
    """Total count and page controls."""
    return rx.hstack(
        rx.text(t("Yhteensä", "Total"), " ", RegisterState.total_text, id="register-total"),
        rx.spacer(),
        rx.button("‹", variant="soft", disabled=RegisterState.page <= 1,
                  on_click=RegisterState.go_to_page(RegisterState.page - 1), id="prev-page"),
        rx.text(RegisterState.page, " / ", RegisterState.pages),
        rx.button("›", variant="soft", disabled=RegisterState.page >= RegisterState.pages,
                  on_click=RegisterState.go_to_page(RegisterState.page + 1), id="next-page"),
        width="100%", align="center",
    )


@admin_page("/admin/members", "jäsenrekisteri / register", on_load=[RegisterState.load],
            on_org_change=RegisterState.org_changed)
def register_view() -> rx.Component:
    """The register: who belongs to the selected organisation (and below)."""
    return rx.vstack(
        rx.hstack(
            page_title(t("Jäsenrekisteri", "Member register")), rx.spacer(),
            rx.link(rx.button(rx.icon("download", size=16), t("Vie Exceliin", "Export"),
                              variant="soft"), href="/admin/export", id="register-export"),
            width="100%", align="center",
        ),
        filters(),
        pager(),
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(
                    _header_cell(t("Nro", "No."), "member_number"),
                    _header_cell(t("Nimi", "Name"), "name"),
                    _header_cell(t("Sähköposti", "Email"), None),
                    _header_cell(t("Puhelin", "Phone"), None),
                    _header_cell(t("Kotikunta", "City"), "city"),
                    _header_cell(t("Yhdistys", "Organisation"), "organization"),
                    _header_cell(t("Jäsenlaji", "Type"), None),
                    _header_cell(t("Tila", "Status"), None),
                    _header_cell(t("Alkaen", "Since"), "start_date"),
                )),
                rx.table.body(rx.foreach(RegisterState.rows, _row)),
                size="1", variant="surface", id="register-table",
            ),
            overflow_x="auto", width="100%",
        ),
        spacing="3", width="100%",
    )
