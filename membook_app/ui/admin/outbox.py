"""The operator's view of the outbox: with no SMTP configured, this is where mail is read."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import fi_datetime
from membook_app.mail.listing import list_outbox, read_message
from membook_app.mail.recovery import settle_stuck, stuck_ids
from membook_app.ui.admin.shell import StaffState, admin_page
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t


@dataclasses.dataclass
class OutboxView:
    id: int
    to_address: str
    subject: str
    status: str
    created: str
    error: str
    stuck: bool


MAIL_STATUS_LABELS = {
    "queued": "jonossa / queued", "sending": "lähetetään / sending",
    "sent": "lähetetty / sent", "failed": "epäonnistui / failed",
}


class OutboxState(StaffState):
    messages: list[OutboxView] = []
    open_subject: str = ""
    open_body: str = ""
    open_to: str = ""
    notice: str = ""

    def _load(self) -> None:
        with session_scope() as session:
            rows = list_outbox(session, current_actor())
            stuck = stuck_ids(session, current_actor())
        self.messages = [OutboxView(r.id, r.to_address, r.subject,
                                    MAIL_STATUS_LABELS.get(r.status, r.status),
                                    fi_datetime(r.created_at), r.last_error, r.id in stuck)
                         for r in rows]

    @rx.event
    @guarded("operator")
    def load(self) -> None:
        """The latest messages, newest first."""
        self._load()

    @rx.event
    @guarded("operator")
    def settle(self, message_id: int, action: str) -> None:
        """A message stuck in 'sending': send it again, or record that it went out."""
        with session_scope() as session:
            status = settle_stuck(session, current_actor(), int(message_id), str(action))
        self.notice = (f"Viesti {int(message_id)}: jonossa uudelleen / queued again"
                       if status == "queued" else
                       f"Viesti {int(message_id)}: merkitty lähetetyksi / marked as sent")
        self._load()

    @rx.event
    @guarded("operator")
    def open(self, message_id: int) -> None:
        """Show one message's text."""
        with session_scope() as session:
            message = read_message(session, current_actor(), int(message_id))
            self.open_subject, self.open_to = message.subject, message.to_address
            self.open_body = message.text_body


@admin_page("/admin/outbox", "lähtevät viestit / outbox", on_load=[OutboxState.load])
def outbox_view() -> rx.Component:
    """List on top, the opened message below."""
    return rx.vstack(
        page_title(t("Lähtevät viestit", "Outbox")),
        rx.text(t("Lähetystilaan jumiin jääneet viestit (työ keskeytyi kesken lähetyksen) eivät "
                  "lähde uudelleen itsestään, koska vastaanottaja on voinut jo saada ne: "
                  "tarkista SMTP-palvelimen lokista ja valitse lähetetäänkö uudelleen.",
                  "Messages stuck in 'sending' (the worker stopped mid-send) are not resent "
                  "by themselves, as the recipient may already have them: check the SMTP "
                  "server's log and choose whether to send again."), size="2"),
        rx.cond(OutboxState.notice != "", rx.callout(OutboxState.notice, color_scheme="green",
                                                     id="outbox-notice")),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(t("Aika", "Time")),
                rx.table.column_header_cell(t("Vastaanottaja", "To")),
                rx.table.column_header_cell(t("Aihe", "Subject")),
                rx.table.column_header_cell(t("Tila", "Status")),
            )),
            rx.table.body(rx.foreach(OutboxState.messages, lambda m: rx.table.row(
                rx.table.cell(m.created), rx.table.cell(m.to_address),
                rx.table.cell(rx.link(m.subject, on_click=OutboxState.open(m.id),
                                      cursor="pointer")),
                rx.table.cell(m.status, " ", m.error, rx.cond(m.stuck, rx.hstack(
                    rx.button(t("Lähetä uudelleen", "Send again"), size="1", variant="soft",
                              on_click=OutboxState.settle(m.id, "resend"),
                              id=f"resend-{m.id}"),
                    rx.button(t("Merkitse lähetetyksi", "Mark as sent"), size="1",
                              variant="outline", on_click=OutboxState.settle(m.id, "mark_sent"),
                              id=f"mark-sent-{m.id}"),
                    spacing="2", wrap="wrap"))),
            ))),
            size="1", width="100%", id="outbox-table",
        ),
        rx.cond(OutboxState.open_subject != "", rx.card(
            rx.text(OutboxState.open_to, size="2", color_scheme="gray"),
            rx.heading(OutboxState.open_subject, size="3"),
            rx.text(OutboxState.open_body, white_space="pre-wrap", id="outbox-body"),
            width="100%",
        )),
        width="100%", spacing="3",
    )
