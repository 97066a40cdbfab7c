"""Import members from Excel or CSV: upload, map the columns, dry run, confirm.

The page keeps only display rows in state: the uploaded file itself is stored
privately under var/uploads (never in Reflex's public upload folder) and named
by a random id kept in a backend-only var. Small files are checked and written
in the request; big ones run as a Huey job whose progress a background event
polls (`job_status`), so 10,000 rows never hold the websocket.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.formatting import number
from membook_app.jobs import job_status
from membook_app.register import importer
from membook_app.register.importer_jobs import (
    INLINE_ROWS,
    read_upload,
    save_upload,
    start_import_job,
)
from membook_app.register.importer_read import read_table
from membook_app.register.organizations import get_organization
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import UiState, t

UPLOAD_ID = "import-upload"
SKIP = "-"
MAX_ERRORS_SHOWN = 500
POLL_SECONDS = 0.5

nav_item("/admin/import", "upload", "Tuo jäseniä", "Import members", order=30)


@dataclasses.dataclass
class ColumnView:
    index: int
    header: str
    sample: str
    field: str


@dataclasses.dataclass
class FieldOption:
    key: str
    label: str


@dataclasses.dataclass
class ErrorView:
    dom_id: str
    row: int
    column: str
    value: str
    reason_fi: str
    reason_en: str


class ImportState(StaffState):
    """One import at a time per tab: the columns, the report and the job's progress."""

    file_name: str = ""
    columns: list[ColumnView] = []
    options: list[FieldOption] = []
    checked: bool = False
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    error_rows: int = 0
    errors: list[ErrorView] = []
    limit_fi: str = ""
    limit_en: str = ""
    running: bool = False
    progress: int = 0
    problem: str = ""
    done_text: str = ""
    _upload_id: str = ""
    _row_count: int = 0
    _job_id: int = 0
    _job_writes: bool = False
    _for_org: str = ""

    @rx.var
    def can_confirm(self) -> bool:
        return (self.checked and self.error_rows == 0 and not self.limit_fi
                and not self.running and (self.new + self.updated) > 0)

    def _clear_report(self) -> None:
        self.checked, self.rows, self.new, self.updated, self.unchanged = False, 0, 0, 0, 0
        self.error_rows, self.errors, self.limit_fi, self.limit_en = 0, [], "", ""
        self.problem, self.done_text, self.progress = "", "", 0

    def _reset(self) -> None:
        self._clear_report()
        self.file_name, self.columns, self.options, self.running = "", [], [], False
        self._upload_id, self._row_count, self._job_id, self._for_org = "", 0, 0, ""

    def _org_id(self) -> int:
        if not self.org_id.isdigit():
            raise ValidationError("Valitse yhdistys", "Choose an organisation")
        if self._for_org and self._for_org != self.org_id:
            self._reset()
            raise ValidationError("Yhdistys vaihtui; lataa tiedosto uudelleen",
                                  "The organisation changed; upload the file again")
        return int(self.org_id)

    def _fill(self, report: importer.ImportReport) -> None:
        self.checked = True
        self.rows, self.new, self.updated = report.rows, report.new, report.updated
        self.unchanged, self.error_rows = report.unchanged, report.error_rows
        self.limit_fi, self.limit_en = report.limit_fi, report.limit_en
        self.errors = [ErrorView(f"import-error-{e.row}-{i}", e.row, e.column, e.value, e.fi,
                                 e.en)
                       for i, e in enumerate(report.errors[:MAX_ERRORS_SHOWN])]
        if report.written:
            self.done_text = (f"Tuonti valmis: {number(report.new)} uutta, "
                              f"{number(report.updated)} päivitettyä, "
                              f"{number(report.unchanged)} ennallaan. / Import done.")
            self.checked = False
            self.columns, self._upload_id = [], ""

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        """Opening the page starts afresh unless a job is still running."""
        if not self.running:
            self._reset()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self._reset()

    @rx.event
    @guarded("staff")
    async def upload(self, files: list[rx.UploadFile]) -> None:
        """Read the file, store it privately and propose a column mapping."""
        actor = current_actor()
        self._reset()
        org_id = self._org_id()
        with session_scope() as session:
            actor.require("register.write", get_organization(session, org_id))
        if not files:
            raise ValidationError("Valitse tiedosto", "Choose a file", field="file")
        upload = files[0]
        data = await upload.read()
        filename = upload.name or "tiedosto"
        table = read_table(data, filename)
        upload_id = save_upload(data, filename)
        with session_scope() as session:
            custom = importer.organization_fields(session, org_id)
        mapping = importer.auto_mapping(table.headers, custom)
        self.options = [FieldOption(SKIP, "— ei tuoda / skip —")] + [
            FieldOption(key, fi if fi == en else f"{fi} / {en}")
            for key, fi, en in importer.field_choices(custom)]
        samples = []
        for index in range(len(table.headers)):
            values = [importer.shown(r[index]) for r in table.rows[:50]
                      if r[index] not in (None, "")]
            samples.append(", ".join(values[:3])[:80])
        self.columns = [ColumnView(i, h, samples[i], mapping[i] or SKIP)
                        for i, h in enumerate(table.headers)]
        self.file_name, self._upload_id = filename, upload_id
        self._row_count, self._for_org = len(table.rows), str(org_id)

    @rx.event
    @guarded("staff")
    def set_mapping(self, index: int, key: str) -> None:
        """Choose the field of one column (each field once)."""
        index = int(index)
        if not 0 <= index < len(self.columns) or key not in {o.key for o in self.options}:
            raise ValidationError("Tuntematon kenttä", "Unknown field")
        columns = list(self.columns)
        if key != SKIP:
            columns = [dataclasses.replace(c, field=SKIP) if c.field == key else c
                       for c in columns]
        columns[index] = dataclasses.replace(columns[index], field=key)
        self.columns = columns
        self._clear_report()

    def _mapping(self) -> list[str]:
        return ["" if c.field == SKIP else c.field for c in self.columns]

    def _start(self, write: bool):  # type: ignore[no-untyped-def]
        actor = current_actor()
        org_id = self._org_id()
        if not self._upload_id:
            raise ValidationError("Lataa ensin tiedosto", "Upload a file first", field="file")
        if self.running:
            raise ValidationError("Työ on jo käynnissä", "A job is already running")
        self._clear_report()
        if self._row_count <= INLINE_ROWS:
            table = read_upload(self._upload_id)
            with session_scope() as session:
                report = importer.dry_run(session, actor, org_id, table, self._mapping())
                if write and report.ok:
                    report = importer.run_import(session, actor, org_id, table, self._mapping(),
                                                 filename=self.file_name)
            self._fill(report)
            return None
        with session_scope() as session:
            job = start_import_job(session, actor, org_id, self._upload_id, self.file_name,
                                   self._mapping(), write=write)
            job_id = job.id
        from tasks.imports import import_members

        import_members(job_id)
        self._job_id, self._job_writes, self.running, self.progress = job_id, write, True, 0
        return ImportState.watch

    @rx.event
    @guarded("staff")
    def check(self):  # type: ignore[no-untyped-def]
        """The dry run: validate every row and compare with the register; write nothing."""
        return self._start(write=False)

    @rx.event
    @guarded("staff")
    def confirm(self):  # type: ignore[no-untyped-def]
        """Write everything in one transaction (checked again inside it), or nothing."""
        return self._start(write=True)

    @rx.event(background=True)
    @guarded("staff")
    async def watch(self) -> None:
        """Poll the job and move the progress bar until it ends."""
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
                if status.status == "done":
                    self.running = False
                    self._fill(importer.ImportReport.from_dict(status.result or {}))
                    return
                if status.status == "failed":
                    self.running, self.problem = False, status.message
                    return
            await asyncio.sleep(POLL_SECONDS)

    @rx.event
    @guarded("staff")
    def start_over(self) -> None:
        self._reset()


def _lang(fi: rx.Var | str, en: rx.Var | str) -> rx.Var:
    return rx.cond(UiState.lang == "en", en, fi)


def _column_row(c: ColumnView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.text(c.header, weight="medium")),
        rx.table.cell(rx.text(c.sample, size="1", color_scheme="gray")),
        rx.table.cell(rx.select.root(
            rx.select.trigger(id=f"map-{c.index}", min_width="14em"),
            rx.select.content(rx.foreach(ImportState.options,
                                         lambda o: rx.select.item(o.label, value=o.key))),
            value=c.field,
            on_change=lambda key: ImportState.set_mapping(c.index, key),
        )),
    )


def _error_row(e: ErrorView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(e.row), rx.table.cell(e.column), rx.table.cell(e.value),
        rx.table.cell(rx.text(_lang(e.reason_fi, e.reason_en), color_scheme="red")),
        id=e.dom_id,
    )


def _count(label: rx.Var, value: rx.Var, dom_id: str) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                     rx.heading(value, size="5", id=dom_id), spacing="0")


def _report() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            _count(t("Rivejä", "Rows"), ImportState.rows, "import-rows"),
            _count(t("Uusia", "New"), ImportState.new, "import-new"),
            _count(t("Päivitettäviä", "Updated"), ImportState.updated, "import-updated"),
            _count(t("Ennallaan", "Unchanged"), ImportState.unchanged, "import-unchanged"),
            _count(t("Virheellisiä rivejä", "Rows with errors"), ImportState.error_rows,
                   "import-error-count"),
            spacing="6", wrap="wrap",
        ),
        rx.cond(ImportState.limit_fi != "", rx.callout(
            _lang(ImportState.limit_fi, ImportState.limit_en), icon="triangle_alert",
            color_scheme="red", id="import-limit")),
        rx.cond(ImportState.error_rows > 0, rx.vstack(
            rx.text(t("Korjaa virheet tiedostoon ja lataa se uudelleen; mitään ei tallenneta "
                      "ennen kuin jokainen rivi kelpaa.",
                      "Fix the errors in the file and upload it again; nothing is written "
                      "until every row is valid."), size="2"),
            rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("Rivi", "Row")),
                    rx.table.column_header_cell(t("Sarake", "Column")),
                    rx.table.column_header_cell(t("Arvo", "Value")),
                    rx.table.column_header_cell(t("Syy", "Reason")),
                )),
                rx.table.body(rx.foreach(ImportState.errors, _error_row)),
                size="1", variant="surface", id="import-errors", width="100%",
            ),
            width="100%",
        )),
        rx.button(t("Tuo jäsenet", "Import members"), id="import-confirm",
                  disabled=~ImportState.can_confirm, on_click=ImportState.confirm),
        width="100%", spacing="3",
    )


@admin_page("/admin/import", "jäsenten tuonti / import", on_load=[ImportState.load],
            on_org_change=ImportState.org_changed)
def import_view() -> rx.Component:
    """Upload → columns → dry run → confirm."""
    return rx.vstack(
        page_title(t("Tuo jäseniä Excelistä tai CSV:stä", "Import members from Excel or CSV")),
        rx.text(t("Tiedoston ensimmäisellä rivillä ovat sarakkeiden otsikot. Päivämäärät muodossa "
                  "p.k.vvvv tai vvvv-kk-pp. Tuonti lisää jäsenet valittuun yhdistykseen.",
                  "The first row of the file holds the column headers. Dates as d.m.yyyy or "
                  "yyyy-mm-dd. Members are added to the selected organisation."), size="2"),
        rx.hstack(
            rx.upload.root(
                rx.button(t("Valitse tiedosto (.xlsx, .csv)", "Choose a file (.xlsx, .csv)"),
                          variant="soft", type="button"),
                rx.text(rx.selected_files(UPLOAD_ID).join(", "), size="2", id="import-selected"),
                id=UPLOAD_ID, max_files=1, multiple=False, no_keyboard=True,
                accept={"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                        [".xlsx"], "text/csv": [".csv"], "text/plain": [".csv", ".txt"]},
                border=f"1px dashed {rx.color('gray', 7)}", padding="0.75em",
                border_radius="8px",
            ),
            rx.button(t("Lataa", "Upload"), id="import-upload-button",
                      on_click=ImportState.upload(rx.upload_files(upload_id=UPLOAD_ID))),
            align="center", wrap="wrap",
        ),
        rx.cond(ImportState.file_name != "", rx.vstack(
            rx.text(t("Tiedosto", "File"), ": ", ImportState.file_name, id="import-file",
                    weight="medium"),
            rx.table.root(
                rx.table.header(rx.table.row(
                    rx.table.column_header_cell(t("Sarake tiedostossa", "Column in the file")),
                    rx.table.column_header_cell(t("Esimerkkejä", "Examples")),
                    rx.table.column_header_cell(t("Kenttä", "Field")),
                )),
                rx.table.body(rx.foreach(ImportState.columns, _column_row)),
                size="1", id="import-columns",
            ),
            rx.button(t("Tarkista (koeajo)", "Check (dry run)"), id="import-check",
                      on_click=ImportState.check, disabled=ImportState.running),
            width="100%", spacing="3",
        )),
        rx.cond(ImportState.running, rx.vstack(
            rx.text(t("Käsitellään…", "Working…"), " ", ImportState.progress, " %"),
            rx.progress(value=ImportState.progress, max=100, id="import-progress",
                        width="100%"),
            width="100%",
        )),
        rx.cond(ImportState.problem != "", rx.callout(ImportState.problem, icon="triangle_alert",
                                                      color_scheme="red", id="import-problem")),
        rx.cond(ImportState.checked, _report()),
        rx.cond(ImportState.done_text != "", rx.callout(
            ImportState.done_text, icon="check", color_scheme="green", id="import-done")),
        spacing="4", width="100%", max_width="60em",
    )
