"""The operator's view of the outbox: with no SMTP configured, this is where mail is read."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import fi_datetime
from membook_app.mail.listing import list_outbox, read_message
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


class OutboxState(StaffState):
    messages: list[OutboxView] = []
    open_subject: str = ""
    open_body: str = ""
    open_to: str = ""

    @rx.event
    @guarded("operator")
    def load(self) -> None:
        """The latest messages, newest first."""
        with session_scope() as session:
            rows = list_outbox(session, current_actor())
        self.messages = [OutboxView(r.id, r.to_address, r.subject, r.status,
                                    fi_datetime(r.created_at), r.last_error) for r in rows]

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
                rx.table.cell(m.status, " ", m.error),
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
