"""/admin/bank: upload a bank file by hand, and the import log (operator only).

The daily inbox task imports the same way (`payments/inbox.py`); both end in the log
with their counts and totals, who imported and when, and refused files with the reason.

A big file (a year-end statement, a migration) takes seconds to import, so the upload
handler starts the import on a worker thread — the server's event loop keeps serving
everyone else — and a background event shows how many payments are done until it ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets

import reflex as rx

from membook_app.banking.statement import BankFileError
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.formatting import fi_datetime, money, number
from membook_app.payments.bank_import import ImportResult, import_log, run_import
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

UPLOAD_ID = "bank-upload"
MAX_BYTES = 50 * 1024 * 1024
OUTCOMES = {"imported": "tuotu / imported", "refused": "hylätty / refused",
            "duplicate": "jo tuotu / already imported"}

POLL_SECONDS = 0.5

log = logging.getLogger(__name__)

nav_item("/admin/bank", "landmark", "Pankkitiedostot", "Bank files", order=400,
         operator_only=True)


@dataclasses.dataclass
class _Upload:
    """One upload being imported on a worker thread; the thread writes, the page reads."""

    done_payments: int = 0
    result: ImportResult | None = None
    error: str = ""
    finished: bool = False


# Running uploads by a random key kept in the uploader's private state. The upload and
# its watcher run on the same server process (one socket), so a dict is enough.
_UPLOADS: dict[str, _Upload] = {}


def _import_in_thread(upload: _Upload, actor: object, data: bytes, name: str) -> None:
    try:
        upload.result = run_import(actor, data, name, source="upload",  # type: ignore[arg-type]
                                   progress=lambda n: setattr(upload, "done_payments", n))
    except BankFileError as exc:
        upload.error = f"Tiedosto hylättiin, mitään ei tuotu / File refused, nothing " \
                       f"imported: {exc}"
    except Exception:  # the page must end its wait whatever happened
        log.exception("bank file upload %s failed", name)
        upload.error = ("Tuonti epäonnistui, mitään ei tuotu / The import failed, nothing "
                        "was imported")
    finally:
        upload.finished = True


@dataclasses.dataclass
class ImportLogView:
    key: str
    at: str
    filename: str
    outcome: str
    source: str
    format: str
    who: str
    payments: str
    duplicates: str
    matched: str
    unmatched: str
    credit: str
    debit: str
    message: str


class BankImportState(StaffState):
    log_rows: list[ImportLogView] = []
    result_text: str = ""
    error_text: str = ""
    importing: bool = False
    progress_text: str = ""
    _upload_key: str = ""

    def _load(self) -> None:
        with session_scope() as session:
            rows = import_log(session, current_actor())
        self.log_rows = [
            ImportLogView(f"log-{i}", fi_datetime(r.at), r.filename, OUTCOMES.get(r.outcome,
                          r.outcome), r.source, r.format, r.who, number(r.payment_count),
                          number(r.duplicate_count), number(r.matched_count),
                          number(r.unmatched_count), money(r.credit_cents),
                          money(r.debit_cents), r.message)
            for i, r in enumerate(rows)]

    @rx.event
    @guarded("operator")
    def load(self) -> object:
        """The latest imports and refusals; a reload finds a running upload again."""
        self._load()
        if self.importing:
            if self._upload_key in _UPLOADS:
                return BankImportState.watch_upload
            self._upload_key, self.importing, self.progress_text = "", False, ""
        return None

    @rx.event
    @guarded("operator")
    async def upload(self, files: list[rx.UploadFile]) -> object:
        """Start importing the uploaded file (one transaction) and watch it to the end."""
        actor = current_actor()
        if self.importing:
            raise ValidationError("Edellinen tuonti on vielä kesken",
                                  "The previous import is still running")
        self.result_text, self.error_text = "", ""
        if not files:
            raise ValidationError("Valitse tiedosto", "Choose a file", field="file")
        upload = files[0]
        data = await upload.read()
        if len(data) > MAX_BYTES:
            raise ValidationError("Tiedosto on liian suuri", "The file is too large")
        name = (upload.name or "pankkitiedosto").rsplit("/", 1)[-1]
        key = secrets.token_urlsafe(12)
        job = _UPLOADS[key] = _Upload()
        asyncio.get_running_loop().run_in_executor(None, _import_in_thread, job, actor, data,
                                                   name)
        self._upload_key, self.importing = key, True
        self.progress_text = f"Tuodaan {name} … / Importing {name} …"
        return BankImportState.watch_upload

    @rx.event(background=True)
    @guarded("operator")
    async def watch_upload(self) -> None:
        """Show the running import's progress, then its summary or why it was refused."""
        async with self:
            key = self._upload_key
        job = _UPLOADS.get(key)
        if job is None:
            return
        while True:
            async with self:
                if self._upload_key != key:
                    return
                if not job.finished:
                    self.progress_text = (f"{number(job.done_payments)} maksua käsitelty / "
                                          "payments processed")
                else:
                    _UPLOADS.pop(key, None)
                    self._upload_key, self.importing, self.progress_text = "", False, ""
                    self.error_text = job.error
                    self.result_text = job.result.summary() if job.result else ""
                    self._load()
                    return
            await asyncio.sleep(POLL_SECONDS)


def _log_row(row: ImportLogView) -> rx.Component:
    # Short cells stay on one line and the message gets room of its own: squeezed into
    # what was left of the width, it wrapped word by word into rows a screen tall.
    def short(value: rx.Var, align: str = "left") -> rx.Component:
        return rx.table.cell(value, white_space="nowrap", text_align=align)

    return rx.table.row(
        short(row.at), short(row.filename), short(row.outcome), short(row.source),
        short(row.format), short(row.who),
        *[short(value, "right") for value in (row.payments, row.duplicates, row.matched,
                                              row.unmatched, row.credit, row.debit)],
        rx.table.cell(rx.text(row.message, size="1"), min_width="26em"),
        key=row.key,
    )


@admin_page("/admin/bank", "pankkitiedostot / bank files", on_load=[BankImportState.load])
def bank_import_view() -> rx.Component:
    """Upload on top, the log below."""
    return rx.vstack(
        page_title(t("Pankkitiedostot", "Bank files")),
        rx.text(t("KTL-viitesiirrot sekä camt.054- ja camt.053-tiedostot. Sama tiedosto tai "
                  "sama maksu (arkistointitunnus) kirjataan vain kerran. Päivittäinen tuonti "
                  "lukee kansion VAR_DIR/bank-inbox pankkipäivinä.",
                  "KTL reference payments and camt.054 / camt.053 files. The same file or the "
                  "same payment (archive id) is booked once only. The daily import reads the "
                  "folder VAR_DIR/bank-inbox on banking days."), size="2"),
        rx.hstack(
            rx.upload.root(
                rx.button(t("Valitse tiedosto", "Choose a file"), variant="soft", type="button"),
                rx.text(rx.selected_files(UPLOAD_ID).join(", "), size="2"),
                id=UPLOAD_ID, max_files=1, multiple=False, no_keyboard=True,
                border=f"1px dashed {rx.color('gray', 7)}", padding="0.75em",
                border_radius="8px",
            ),
            rx.button(t("Tuo", "Import"), id="bank-upload-button",
                      loading=BankImportState.importing,
                      on_click=BankImportState.upload(rx.upload_files(upload_id=UPLOAD_ID))),
            align="center", wrap="wrap",
        ),
        rx.cond(BankImportState.importing,
                rx.hstack(rx.spinner(size="2"),
                          rx.text(BankImportState.progress_text, size="2",
                                  id="bank-import-progress"), align="center")),
        rx.cond(BankImportState.result_text != "",
                rx.callout(BankImportState.result_text, color_scheme="green",
                           id="bank-import-result")),
        rx.cond(BankImportState.error_text != "",
                rx.callout(BankImportState.error_text, color_scheme="red",
                           id="bank-import-error")),
        rx.heading(t("Tuontiloki", "Import log"), size="4"),
        rx.box(
            rx.table.root(
                rx.table.header(rx.table.row(*[
                    rx.table.column_header_cell(label) for label in (
                        t("Aika", "When"), t("Tiedosto", "File"), t("Tulos", "Outcome"),
                        t("Lähde", "Source"), t("Muoto", "Format"), t("Kuka", "Who"),
                        t("Maksuja", "Payments"), t("Kaksoiskpl.", "Duplicates"),
                        t("Kohdistettu", "Matched"), t("Kohdistamatta", "Unmatched"),
                        t("Tuloja", "Credits"), t("Menoja", "Debits"), t("Viesti", "Message"))
                ])),
                rx.table.body(rx.foreach(BankImportState.log_rows, _log_row)),
                size="1", variant="surface", id="bank-import-log",
            ),
            overflow_x="auto", width="100%",
        ),
        spacing="3", width="100%",
    )
