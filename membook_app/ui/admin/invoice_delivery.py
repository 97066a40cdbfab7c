"""Sending invoices by email (/admin/invoice-mail): choose, preview, send, watch the bar.

The treasurer picks the organisation's unsent invoices or one invoice run; the page
shows how many would be mailed and how many payers have no address (those go on
paper). Sending records a Job and queues the worker task; the bar follows the job
and the outbox. Sending again is always safe: every invoice is mailed at most once.
"""

from __future__ import annotations

import asyncio
import dataclasses

import reflex as rx

from membook_app.billing import delivery
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

POLL_SECONDS = 0.5
UNSENT = "unsent"

nav_item("/admin/invoice-mail", "send", "Laskujen lähetys", "Send invoices", order=52)


@dataclasses.dataclass
class ScopeOption:
    value: str
    label: str


class InvoiceMailState(StaffState):
    scope: str = UNSENT
    runs: list[ScopeOption] = []
    to_send: int = 0
    message_count: int = 0
    without_email: int = 0
    already_sent: int = 0
    stuck: int = 0
    running: bool = False
    progress: int = 0
    status_text: str = ""
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    sending: int = 0
    problem: str = ""
    attach_pdf: bool = False
    _job_id: int = 0

    def _run_id(self) -> int | None:
        return int(self.scope) if self.scope.isdigit() else None

    def _load(self) -> None:
        if not self.org_id:
            return
        actor, org_id = current_actor(), int(self.org_id)
        with session_scope() as session:
            runs = delivery.mail_runs(session, actor, org_id)
            if self.scope != UNSENT and self.scope not in {str(r.id) for r in runs}:
                self.scope = UNSENT
            preview = delivery.preview_mail(session, actor, org_id, self._run_id())
            self.stuck = delivery.stuck_messages(session, actor, org_id)
        self.runs = [ScopeOption(str(r.id), r.label) for r in runs]
        self.to_send, self.without_email = preview.to_send, preview.without_email
        self.message_count = preview.messages
        self.already_sent = preview.already_sent

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        """The numbers for the current choice."""
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self.scope, self.problem, self.status_text = UNSENT, "", ""
        self._load()

    @rx.event
    @guarded("staff")
    def set_scope(self, value: str) -> None:
        """All unsent invoices of the organisation, or one run's."""
        self.scope = value if value == UNSENT or value.isdigit() else UNSENT
        self._load()

    @rx.event
    @guarded("staff")
    def set_attach_pdf(self, value: bool) -> None:
        """Also attach each invoice as a PDF (off by default: the link is enough)."""
        self.attach_pdf = bool(value)

    @rx.event
    @guarded("staff")
    def send(self):  # type: ignore[no-untyped-def]
        """Record the send job (the service checks billing.write) and queue it."""
        if self.running:
            raise ValidationError("Lähetys on jo käynnissä", "Sending is already running")
        if not self.org_id:
            raise ValidationError("Valitse yhdistys", "Choose an organisation")
        with session_scope() as session:
            job = delivery.start_mail_job(session, current_actor(), int(self.org_id),
                                          self._run_id(), attach_pdf=self.attach_pdf)
            job_id = job.id
        from tasks.invoice_mail import send_invoice_mail

        send_invoice_mail(job_id)
        self._job_id, self.running, self.progress, self.problem = job_id, True, 0, ""  # type: ignore[assignment]
        self.status_text = "Jonossa / Queued"
        return InvoiceMailState.watch

    @rx.event(background=True)
    @guarded("staff")
    async def watch(self) -> None:
        """Follow the job and the outbox until every message has been tried."""
        actor = current_actor()
        async with self:
            job_id = self._job_id
        if not job_id:
            return
        while True:
            with session_scope() as session:
                status, counts = delivery.job_mail_status(session, actor, job_id)
            async with self:
                if self._job_id != job_id:
                    return
                self.progress = status.progress
                self.sent, self.failed = counts["sent"], counts["failed"]
                self.waiting, self.sending = counts["queued"], counts["sending"]
                self.status_text = status.message
                if status.status in ("done", "failed"):
                    self.running = False
                    if status.status == "failed":
                        self.problem = status.message
                    self._load()
                    return
            await asyncio.sleep(POLL_SECONDS)


def _stat(label: rx.Var, value: rx.Var, ident: str) -> rx.Component:
    return rx.vstack(rx.text(label, size="1", color_scheme="gray"),
                     rx.text(value, size="5", weight="bold", id=ident), spacing="0")


@admin_page("/admin/invoice-mail", "laskujen lähetys / send invoices",
            on_load=[InvoiceMailState.load], on_org_change=InvoiceMailState.org_changed)
def invoice_mail_view() -> rx.Component:
    return rx.vstack(
        page_title(t("Laskujen lähetys sähköpostilla", "Send invoices by email")),
        rx.text(t("Jokainen maksaja saa viestin, jossa on linkki laskuun (viivakoodi, QR-koodi "
                  "ja PDF). Sama lasku lähtee vain kerran, vaikka lähettäisit uudelleen.",
                  "Each payer gets a message with a link to the invoice (barcode, QR code and "
                  "PDF). An invoice is mailed only once, even if you send again."),
                size="2", color_scheme="gray"),
        rx.select.root(
            rx.select.trigger(id="mail-scope", min_width="24em"),
            rx.select.content(
                rx.select.item("Kaikki lähettämättömät / All unsent", value=UNSENT),
                rx.foreach(InvoiceMailState.runs,
                           lambda r: rx.select.item(r.label, value=r.value)),
            ),
            value=InvoiceMailState.scope, on_change=InvoiceMailState.set_scope,
        ),
        rx.hstack(
            _stat(t("Lähetetään", "To send"), InvoiceMailState.to_send.to_string(), "to-send"),
            _stat(t("Viestejä (yksi maksajaa kohden)", "Messages (one per payer)"),
                  InvoiceMailState.message_count.to_string(), "messages"),
            _stat(t("Ei sähköpostia (paperilla)", "No email (on paper)"),
                  InvoiceMailState.without_email.to_string(), "without-email"),
            _stat(t("Jo lähetetty", "Already sent"), InvoiceMailState.already_sent.to_string(),
                  "already-sent"),
            spacing="6", wrap="wrap",
        ),
        rx.checkbox(t("Liitä laskut myös PDF-tiedostoina", "Also attach the invoices as PDF"),
                    id="mail-attach-pdf", checked=InvoiceMailState.attach_pdf,
                    on_change=InvoiceMailState.set_attach_pdf),
        rx.button(t("Lähetä laskut", "Send the invoices"), id="mail-send",
                  on_click=InvoiceMailState.send,
                  disabled=InvoiceMailState.running | (InvoiceMailState.to_send == 0)),
        rx.cond(InvoiceMailState.running | (InvoiceMailState.progress > 0), rx.vstack(
            rx.progress(value=InvoiceMailState.progress, max=100, width="100%",
                        id="mail-progress"),
            rx.text(InvoiceMailState.status_text, size="2"),
            rx.hstack(
                _stat(t("Lähetetty", "Sent"), InvoiceMailState.sent.to_string(), "mail-sent"),
                _stat(t("Odottaa / uusitaan", "Waiting / retrying"),
                      InvoiceMailState.waiting.to_string(), "mail-waiting"),
                _stat(t("Epäonnistui", "Failed"), InvoiceMailState.failed.to_string(),
                      "mail-failed"),
                spacing="6", wrap="wrap",
            ),
            width="100%",
        )),
        rx.cond(InvoiceMailState.stuck > 0, rx.callout(
            t("Osa viesteistä jäi lähetystilaan (työ keskeytyi kesken lähetyksen). Niitä ei "
              "lähetetä automaattisesti uudelleen, koska maksaja on voinut jo saada viestin: "
              "ylläpito lähettää ne uudelleen tai merkitsee lähetetyiksi Lähtevät viestit "
              "-sivulla.",
              "Some messages were left 'sending' (the worker stopped mid-send). They are not "
              "resent automatically because the payer may already have them: the operator "
              "sends them again or marks them as sent on the Outbox page."),
            color_scheme="orange", icon="triangle_alert", id="mail-stuck")),
        rx.cond(InvoiceMailState.problem != "", rx.callout(
            InvoiceMailState.problem, color_scheme="red", icon="triangle_alert")),
        spacing="4", width="100%", max_width="60em",
    )

