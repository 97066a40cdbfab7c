"""/admin/bank: upload a bank file by hand, and the import log (operator only).

The daily inbox task imports the same way (`payments/inbox.py`); both end in the log
with their counts and totals, who imported and when, and refused files with the reason.
"""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.banking.statement import BankFileError
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.formatting import fi_datetime, money, number
from membook_app.payments.bank_import import import_log, run_import
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

UPLOAD_ID = "bank-upload"
MAX_BYTES = 50 * 1024 * 1024
OUTCOMES = {"imported": "tuotu / imported", "refused": "hylätty / refused",
            "duplicate": "jo tuotu / already imported"}

nav_item("/admin/bank", "landmark", "Pankkitiedostot", "Bank files", order=400,
         operator_only=True)


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
    def load(self) -> None:
        """The latest imports and refusals."""
        self._load()

    @rx.event
    @guarded("operator")
    async def upload(self, files: list[rx.UploadFile]) -> None:
        """Import the uploaded file in one transaction and show what happened."""
        actor = current_actor()
        self.result_text, self.error_text = "", ""
        if not files:
            raise ValidationError("Valitse tiedosto", "Choose a file", field="file")
        upload = files[0]
        data = await upload.read()
        if len(data) > MAX_BYTES:
            raise ValidationError("Tiedosto on liian suuri", "The file is too large")
        name = (upload.name or "pankkitiedosto").rsplit("/", 1)[-1]
        try:
            result = run_import(actor, data, name, source="upload")
        except BankFileError as exc:
            self.error_text = f"Tiedosto hylättiin, mitään ei tuotu / File refused, nothing " \
                              f"imported: {exc}"
        else:
            self.result_text = result.summary()
        self._load()


def _log_row(row: ImportLogView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.at), rx.table.cell(row.filename), rx.table.cell(row.outcome),
        rx.table.cell(row.source), rx.table.cell(row.format), rx.table.cell(row.who),
        rx.table.cell(row.payments), rx.table.cell(row.duplicates), rx.table.cell(row.matched),
        rx.table.cell(row.unmatched), rx.table.cell(row.credit), rx.table.cell(row.debit),
        rx.table.cell(rx.text(row.message, size="1")),
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
                      on_click=BankImportState.upload(rx.upload_files(upload_id=UPLOAD_ID))),
            align="center", wrap="wrap",
        ),
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
