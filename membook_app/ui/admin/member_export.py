"""Export the register to Excel or CSV with the register page's current filters.

Opening the page copies the filters the register table has in this tab
(search, type, status, sub-organisations); the admin picks the columns and
the format. The file is written under var/exports (inline when small, by the
Huey worker when big, with a progress bar) and downloaded from the
authenticated route `/api/exports/<job id>` — never through the websocket.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.formatting import number
from membook_app.jobs import job_status
from membook_app.register.exporter import (
    INLINE_EXPORT_ROWS,
    column_choices,
    run_export_job,
    start_export_job,
)
from membook_app.register.memberships import membership_types
from membook_app.register.search import RegisterQuery
from membook_app.ui.admin.register import STATUS_LABELS, RegisterState, TypeOption
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

POLL_SECONDS = 0.5

nav_item("/admin/export", "download", "Vie Exceliin", "Export to Excel", order=35)


@dataclasses.dataclass
class ColumnChoice:
    key: str
    label: str
    checked: bool


class ExportState(StaffState):
    search: str = ""
    type_filter: str = "all"
    status_filter: str = "active"
    include_sub: bool = True
    cf_filter: str = ""
    cf_value: str = ""
    fmt: str = "xlsx"
    columns: list[ColumnChoice] = []
    types: list[TypeOption] = []
    running: bool = False
    progress: int = 0
    problem: str = ""
    download_url: str = ""
    done_text: str = ""
    _job_id: int = 0

    def _query(self) -> RegisterQuery:
        if not self.org_id.isdigit():
            raise ValidationError("Valitse yhdistys", "Choose an organisation")
        return RegisterQuery(
            organization_id=int(self.org_id), include_suborganizations=self.include_sub,
            search=self.search[:100],
            type_id=int(self.type_filter) if self.type_filter.isdigit() else None,
            status=None if self.status_filter == "all" else self.status_filter,
            **self._custom_filter())

    def _custom_filter(self) -> dict[str, object]:
        # The register's custom-field filter, when its RegisterQuery has one.
        known = set(RegisterQuery.__dataclass_fields__)
        if "custom_field_id" not in known or not self.cf_filter.isdigit():
            return {}
        return {"custom_field_id": int(self.cf_filter), "custom_value": self.cf_value[:100]}

    def _load_choices(self) -> None:
        actor = current_actor()
        query = self._query()
        with session_scope() as session:
            from membook_app.register.organizations import get_organization

            actor.require("register.read", get_organization(session, query.organization_id))
            choices = column_choices(session, query)
            self.types = [TypeOption(str(m.id), m.name)
                          for m in membership_types(session, query.organization_id)]
        previous = {c.key: c.checked for c in self.columns}
        self.columns = [ColumnChoice(c.key, c.fi, previous.get(c.key, True)) for c in choices]
        if self.type_filter not in ("all", *(o.id for o in self.types)):
            self.type_filter = "all"

    @rx.event
    @guarded("staff")
    async def load(self) -> None:
        """Take the register page's current filters, then offer the columns."""
        register = await self.get_state(RegisterState)
        self.search, self.type_filter = register.search, register.type_filter
        self.status_filter, self.include_sub = register.status_filter, register.include_sub
        self.cf_filter = str(getattr(register, "cf_filter", "") or "")
        self.cf_value = str(getattr(register, "cf_value", "") or "")
        self.problem, self.download_url, self.done_text = "", "", ""
        self._load_choices()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self.type_filter, self.download_url, self.done_text = "all", "", ""
        self._load_choices()

    @rx.event
    @guarded("staff")
    def set_search(self, value: str) -> None:
        self.search = value[:100]

    @rx.event
    @guarded("staff")
    def set_type_filter(self, value: str) -> None:
        self.type_filter = value if value in ("all", *(o.id for o in self.types)) else "all"

    @rx.event
    @guarded("staff")
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value if value in (*STATUS_LABELS, "all") else "active"

    @rx.event
    @guarded("staff")
    def set_include_sub(self, value: bool) -> None:
        self.include_sub = bool(value)
        self._load_choices()

    @rx.event
    @guarded("staff")
    def set_fmt(self, value: str) -> None:
        self.fmt = "csv" if value == "csv" else "xlsx"

    @rx.event
    @guarded("staff")
    def toggle_column(self, key: str, checked: bool) -> None:
        self.columns = [dataclasses.replace(c, checked=bool(checked)) if c.key == key else c
                        for c in self.columns]

    @rx.event
    @guarded("staff")
    def start(self):  # type: ignore[no-untyped-def]
        """Make the file: right away when small, by the worker when big."""
        actor = current_actor()
        if self.running:
            raise ValidationError("Vienti on jo käynnissä", "An export is already running")
        keys = [c.key for c in self.columns if c.checked]
        if not keys:
            raise ValidationError("Valitse ainakin yksi sarake", "Choose at least one column")
        self.problem, self.download_url, self.done_text, self.progress = "", "", "", 0
        with session_scope() as session:
            job, rows = start_export_job(session, actor, self._query(), keys, self.fmt)
            job_id = job.id
        self._job_id = job_id
        if rows <= INLINE_EXPORT_ROWS:
            summary = run_export_job(job_id)
            return self._finished(job_id, summary)
        from tasks.exports import export_members

        export_members(job_id)
        self.running = True
        return ExportState.watch

    def _finished(self, job_id: int, summary: dict | None):  # type: ignore[no-untyped-def,type-arg]
        if summary is None:
            self.problem = "Vienti epäonnistui / export failed"
            return None
        self.download_url = f"/api/exports/{job_id}"
        self.done_text = f"{number(summary.get('rows', 0))} riviä / rows"
        return rx.download(url=self.download_url, filename=summary.get("filename", ""))

    @rx.event(background=True)
    @guarded("staff")
    async def watch(self):  # type: ignore[no-untyped-def]
        """Poll the worker's job and offer the file when it is ready."""
        actor = current_actor()
        async with self:
            job_id = self._job_id
        if not job_id:
            return None
        while True:
            with session_scope() as session:
                status = job_status(session, actor, job_id)
            async with self:
                if self._job_id != job_id:
                    return None
                self.progress = status.progress
                if status.status == "done":
                    self.running = False
                    return self._finished(job_id, status.result or {})
                if status.status == "failed":
                    self.running, self.problem = False, status.message
                    return None
            await asyncio.sleep(POLL_SECONDS)


def _column(c: ColumnChoice) -> rx.Component:
    return rx.hstack(
        rx.checkbox(checked=c.checked, on_change=lambda v: ExportState.toggle_column(c.key, v),
                    id=f"col-{c.key}"),
        rx.text(c.label, size="2"), align="center", spacing="1", min_width="13em",
    )


@admin_page("/admin/export", "vienti / export", on_load=[ExportState.load],
            on_org_change=ExportState.org_changed)
def export_view() -> rx.Component:
    return rx.vstack(
        page_title(t("Vie jäsenrekisteri Exceliin", "Export the register to Excel")),
        rx.flex(
            rx.input(placeholder="Haku / Search", value=ExportState.search,
                     on_change=ExportState.set_search.debounce(300), id="export-search",
                     min_width="14em"),
            rx.select.root(
                rx.select.trigger(id="export-type"),
                rx.select.content(
                    rx.select.item("Kaikki jäsenlajit / All types", value="all"),
                    rx.foreach(ExportState.types, lambda o: rx.select.item(o.name, value=o.id)),
                ),
                value=ExportState.type_filter, on_change=ExportState.set_type_filter,
            ),
            rx.select.root(
                rx.select.trigger(id="export-status"),
                rx.select.content(
                    rx.select.item("Aktiiviset / Active", value="active"),
                    rx.select.item("Eronneet / Resigned", value="resigned"),
                    rx.select.item("Päättyneet / Ended", value="ended"),
                    rx.select.item("Kaikki / All", value="all"),
                ),
                value=ExportState.status_filter, on_change=ExportState.set_status_filter,
            ),
            rx.hstack(
                rx.switch(checked=ExportState.include_sub, on_change=ExportState.set_include_sub,
                          id="export-include-sub"),
                rx.text(t("Alayhdistykset mukaan", "Include sub-organisations"), size="2"),
                align="center",
            ),
            gap="0.75em", wrap="wrap", align="center", width="100%",
        ),
        rx.text(t("Sarakkeet", "Columns"), weight="medium"),
        rx.flex(rx.foreach(ExportState.columns, _column), wrap="wrap", gap="0.5em",
                id="export-columns"),
        rx.radio_group.root(
            rx.hstack(
                rx.radio_group.item(value="xlsx", id="export-xlsx"), rx.text("Excel (.xlsx)"),
                rx.radio_group.item(value="csv", id="export-csv"),
                rx.text("CSV (Excel, ;)"), align="center",
            ),
            value=ExportState.fmt, on_change=ExportState.set_fmt,
        ),
        rx.button(t("Tee tiedosto", "Make the file"), id="export-start",
                  on_click=ExportState.start, disabled=ExportState.running),
        rx.cond(ExportState.running, rx.progress(value=ExportState.progress, max=100,
                                                 width="100%", id="export-progress")),
        rx.cond(ExportState.problem != "", rx.callout(ExportState.problem, color_scheme="red",
                                                      icon="triangle_alert")),
        rx.cond(ExportState.download_url != "", rx.hstack(
            rx.link(t("Lataa tiedosto", "Download the file"), href=ExportState.download_url,
                    id="export-download", is_external=False),
            rx.text(ExportState.done_text, size="2", id="export-done"),
            align="center")),
        spacing="3", width="100%", max_width="60em",
    )
