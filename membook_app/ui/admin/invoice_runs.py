"""Invoice runs: choose the period and dates → preview table → confirm; big runs as a job."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, timedelta

import reflex as rx

from membook_app.billing.runs import (
    INLINE_MAX,
    commit_run,
    list_runs,
    preview_run,
    start_run_job,
)
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.formatting import fi_date, fi_datetime, money, number
from membook_app.jobs import job_status
from membook_app.register import validation as v
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

nav_item("/admin/invoice-runs", "play", "Laskutusajot", "Invoice runs", order=41)
POLL_SECONDS = 0.5


@dataclasses.dataclass
class ShareView:
    organization: str
    amount: str
    lines: str


@dataclasses.dataclass
class SkipView:
    label: str
    count: str
    sample: str


@dataclasses.dataclass
class RunView:
    id: int
    period: str
    created: str
    due: str
    invoices: str
    total: str


class InvoiceRunState(StaffState):
    period: str = str(date.today().year + 1)
    issue_date: str = fi_date(date.today())
    due_date: str = fi_date(date.today() + timedelta(days=21))
    include_sub: bool = True
    has_preview: bool = False
    invoice_count: str = ""
    total: str = ""
    shares: list[ShareView] = []
    skipped: list[SkipView] = []
    done_text: str = ""
    running: bool = False
    progress: int = 0
    runs: list[RunView] = []
    _preview_count: int = 0
    _preview_key: str = ""
    _job_id: int = 0
    _dates_set: bool = False

    def _dates(self) -> tuple[date, date]:
        issue = v.parse_date(self.issue_date, "issue_date")
        due = v.parse_date(self.due_date, "due_date")
        if issue is None or due is None:
            raise ValidationError("Anna laskun päivä ja eräpäivä (p.k.vvvv)",
                                  "Give the issue and due dates (d.m.yyyy)", field="due_date")
        return issue, due

    def _key(self) -> str:
        return f"{self.org_id}|{self.include_sub}|{self.period}|{self.issue_date}|{self.due_date}"

    def _load_runs(self) -> None:
        if not self.org_id:
            self.runs = []
            return
        with session_scope() as session:
            self.runs = [RunView(r.id, r.period, fi_datetime(r.created_at), fi_date(r.due_date),  # type: ignore[arg-type]
                                 number(r.invoice_count), money(r.total_cents))
                         for r in list_runs(session, current_actor(), int(self.org_id))]

    def _clear(self) -> None:
        self.has_preview, self.shares, self.skipped = False, [], []
        self._preview_key, self._preview_count = "", 0

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        if not self._dates_set:  # class defaults date from the server's start, not today
            today = date.today()
            self.period, self.issue_date = str(today.year + 1), fi_date(today)
            self.due_date, self._dates_set = fi_date(today + timedelta(days=21)), True
        self._clear()
        self.done_text = ""
        self._load_runs()

    @rx.event
    @guarded("staff")
    def set_field(self, name: str, value: str) -> None:
        """Period and dates; any change invalidates the preview."""
        if name not in ("period", "issue_date", "due_date"):
            raise ValidationError("Tuntematon kenttä", "Unknown field")
        setattr(self, name, str(value)[:20])
        self._clear()

    @rx.event
    @guarded("staff")
    def set_include_sub(self, value: bool) -> None:
        self.include_sub = bool(value)
        self._clear()

    @rx.event
    @guarded("staff")
    def preview(self) -> None:
        """Count, totals per organisation share, and who is skipped and why."""
        issue, due = self._dates()
        self.done_text = ""
        with session_scope() as session:
            pv = preview_run(session, current_actor(), int(self.org_id or 0), self.include_sub,
                             self.period, issue, due)
        self.invoice_count, self.total = number(pv.invoice_count), money(pv.total_cents)
        self.shares = [ShareView(s.organization, money(s.amount_cents), number(s.line_count))
                       for s in pv.shares]
        groups = [*pv.skipped, *([pv.paper] if pv.paper.count else [])]
        self.skipped = [SkipView(f"{g.label_fi} / {g.label_en}", number(g.count),
                                 ", ".join(g.sample) + (" …" if g.count > len(g.sample) else ""))
                        for g in groups]
        self.has_preview = True
        self._preview_key, self._preview_count = self._key(), pv.invoice_count

    @rx.event
    @guarded("staff")
    def confirm(self):  # type: ignore[no-untyped-def]
        """Write the run (checked again inside its transaction); big runs go to the worker."""
        if not self.has_preview or self._preview_key != self._key():
            raise ValidationError("Esikatsele ensin", "Preview first")
        if self.running:
            raise ValidationError("Ajo on jo käynnissä", "A run is already in progress")
        issue, due = self._dates()
        actor = current_actor()
        org_id = int(self.org_id or 0)
        if self._preview_count <= INLINE_MAX:
            with session_scope() as session:
                result = commit_run(session, actor, org_id, self.include_sub, self.period,
                                    issue, due)
            self._finish(result.created, result.total_cents)
            return None
        with session_scope() as session:
            job_id = start_run_job(session, actor, org_id, self.include_sub, self.period,
                                   issue, due)
        from tasks.invoice_runs import commit_invoice_run

        commit_invoice_run(job_id)
        self._job_id, self.running, self.progress = job_id, True, 0
        return InvoiceRunState.watch

    def _finish(self, created: int, total_cents: int) -> None:
        self._clear()
        self.done_text = (f"Laskuja luotu / invoices created: {number(created)}, "
                          f"{money(total_cents)}")
        self._load_runs()

    @rx.event(background=True)
    @guarded("staff")
    async def watch(self) -> None:
        """Poll the run's job and move the progress bar until it ends."""
        actor = current_actor()
        async with self:
            job_id = self._job_id
        if not job_id:
            return
        while True:
            with session_scope() as session:
                status = job_status(session, actor, job_id)
            async with self:
                if self._job_id != job_id:
                    return
                self.progress = status.progress
                if status.status in ("done", "failed"):
                    self.running, self._job_id = False, 0
                    if status.status == "done":
                        result = status.result or {}
                        self._finish(int(result.get("created", 0)),  # type: ignore[call-overload]
                                     int(result.get("total_cents", 0)))  # type: ignore[call-overload]
                    else:
                        self.done_text = status.message
                    return
            await asyncio.sleep(POLL_SECONDS)


def _labelled(label: rx.Var, name: str, value: rx.Var, width: str = "9em") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="1"),
        rx.input(value=value, on_change=lambda val: InvoiceRunState.set_field(name, val),
                 id=f"run-{name}", width=width),
        spacing="1",
    )


def _share_row(s: ShareView) -> rx.Component:
    return rx.table.row(rx.table.cell(s.organization), rx.table.cell(s.lines),
                        rx.table.cell(s.amount, text_align="right"))


def _skip_row(s: SkipView) -> rx.Component:
    return rx.table.row(rx.table.cell(s.label), rx.table.cell(s.count),
                        rx.table.cell(rx.text(s.sample, size="1")))


def _run_row(r: RunView) -> rx.Component:
    return rx.table.row(rx.table.cell(r.id), rx.table.cell(r.period), rx.table.cell(r.created),
                        rx.table.cell(r.due), rx.table.cell(r.invoices),
                        rx.table.cell(r.total, text_align="right"),
                        rx.table.cell(rx.link(t("Laskut", "Invoices"),
                                              href=f"/admin/invoices?period={r.period}")))


@admin_page("/admin/invoice-runs", "laskutusajot / invoice runs", on_load=[InvoiceRunState.load],
            on_org_change=InvoiceRunState.load)
def invoice_runs_view() -> rx.Component:
    return rx.vstack(
        page_title(t("Laskutusajo", "Invoice run")),
        rx.hstack(
            _labelled(t("Kausi", "Period"), "period", InvoiceRunState.period, "7em"),
            _labelled(t("Laskun päivä", "Issue date"), "issue_date", InvoiceRunState.issue_date),
            _labelled(t("Eräpäivä", "Due date"), "due_date", InvoiceRunState.due_date),
            rx.hstack(rx.switch(checked=InvoiceRunState.include_sub,
                                on_change=InvoiceRunState.set_include_sub, id="run-include-sub"),
                      rx.text(t("Alayhdistykset mukaan", "Include sub-organisations"), size="2"),
                      align="center"),
            rx.button(t("Esikatsele", "Preview"), on_click=InvoiceRunState.preview,
                      id="run-preview"),
            align="end", wrap="wrap", spacing="3",
        ),
        rx.cond(InvoiceRunState.has_preview, rx.vstack(
            rx.heading(t("Esikatselu", "Preview"), size="4"),
            rx.text(t("Laskuja", "Invoices"), ": ", InvoiceRunState.invoice_count, " · ",
                    t("yhteensä", "total"), " ", InvoiceRunState.total, id="run-summary"),
            rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("Osuus", "Share")),
                    rx.table.column_header_cell(t("Rivejä", "Lines")),
                    rx.table.column_header_cell(t("Summa", "Amount")))),
                rx.table.body(rx.foreach(InvoiceRunState.shares, _share_row)),
                size="1", id="run-shares"),
            rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("Ohitettu tai huomioitava", "Skipped or note")),
                    rx.table.column_header_cell(t("Määrä", "Count")),
                    rx.table.column_header_cell(t("Esim.", "E.g.")))),
                rx.table.body(rx.foreach(InvoiceRunState.skipped, _skip_row)),
                size="1", id="run-skipped"),
            rx.button(t("Vahvista ja luo laskut", "Confirm and create invoices"),
                      on_click=InvoiceRunState.confirm, color_scheme="green",
                      disabled=InvoiceRunState.running, id="run-confirm"),
            width="100%",
        )),
        rx.cond(InvoiceRunState.running,
                rx.vstack(rx.text(t("Laskuja kirjoitetaan…", "Writing invoices…")),
                          rx.progress(value=InvoiceRunState.progress, width="20em"))),
        rx.cond(InvoiceRunState.done_text != "",
                rx.callout(InvoiceRunState.done_text, id="run-done")),
        rx.heading(t("Aiemmat ajot", "Earlier runs"), size="4", margin_top="1em"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(x) for x in (
                "#", t("Kausi", "Period"), t("Luotu", "Created"), t("Eräpäivä", "Due"),
                t("Laskuja", "Invoices"), t("Yhteensä", "Total"), rx.text(""))])),
            rx.table.body(rx.foreach(InvoiceRunState.runs, _run_row)),
            size="1"),
        spacing="3", width="100%", max_width="70em",
    )
