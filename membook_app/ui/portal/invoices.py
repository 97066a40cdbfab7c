"""My invoices in the portal: open amount, status, the invoice page and "Maksa verkossa"."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.billing.my_invoices import my_invoices
from membook_app.db import session_scope
from membook_app.formatting import fi_date, money
from membook_app.ui.guard import SessionState, current_actor, guarded
from membook_app.ui.i18n import lang_switch, t

STATUS = {"open": "avoin / open", "partly_paid": "osittain maksettu / partly paid",
          "paid": "maksettu / paid", "credited": "hyvitetty / credited",
          "overdue": "erääntynyt / overdue"}


@dataclasses.dataclass
class InvoiceCard:
    reference: str
    title: str
    organization: str
    due: str
    total: str
    open_amount: str
    status: str
    payable: bool
    invoice_href: str
    pay_href: str


class MyInvoicesState(SessionState):
    """Only the signed-in member's invoices ever enter this state."""

    invoices: list[InvoiceCard] = []

    @rx.event
    @guarded("member")
    def load(self) -> None:
        with session_scope() as session:
            rows = my_invoices(session, current_actor())
        self.invoices = [
            InvoiceCard(r.reference, r.description or r.member_name, r.organization,
                        fi_date(r.due_date), money(r.total_cents), money(r.open_cents),
                        STATUS.get(r.status, r.status), r.open_cents > 0,
                        f"/i/{r.token}", f"/pay/{r.token}")
            for r in rows
        ]


def _card(inv: InvoiceCard) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(rx.text(inv.title, weight="medium"), rx.spacer(),
                  rx.badge(inv.status), width="100%", align="center"),
        rx.text(inv.organization, " · ", t("viite", "reference"), " ", inv.reference,
                size="2", color_scheme="gray"),
        rx.text(t("Eräpäivä", "Due"), " ", inv.due, " · ", t("Summa", "Total"), " ", inv.total,
                " · ", t("Avoinna", "Open"), " ", rx.text.strong(inv.open_amount), size="2"),
        # The invoice and payment pages are server-rendered routes outside the Reflex
        # app: Reflex compiles anchors to React Router links, and `reloadDocument`
        # makes the browser load them instead of the client router (which would 404).
        rx.hstack(
            rx.el.a(rx.button(t("Avaa lasku", "Open invoice"), variant="soft", size="3"),
                    href=inv.invoice_href, custom_attrs={"reloadDocument": True}),
            rx.cond(inv.payable, rx.el.a(
                rx.button(t("Maksa verkossa", "Pay online"), size="3"),
                href=inv.pay_href, class_name="pay-online-button",
                custom_attrs={"reloadDocument": True})),
            wrap="wrap",
        ),
        width="100%",
    ), width="100%", class_name="invoice-card")


@rx.page(route="/portal/invoices", title="Membook – laskut / invoices",
         on_load=MyInvoicesState.load)
def my_invoices_page() -> rx.Component:
    """One column of cards: usable on a phone."""
    return rx.container(rx.vstack(
        rx.hstack(rx.link(t("← Omat tiedot", "← My details"), href="/portal"), rx.spacer(),
                  lang_switch(), width="100%", align="center"),
        rx.heading(t("Laskut", "Invoices"), size="6"),
        rx.cond(MyInvoicesState.invoices.length() == 0,
                rx.text(t("Ei laskuja.", "No invoices."), color_scheme="gray")),
        rx.foreach(MyInvoicesState.invoices, _card),
        spacing="3", width="100%", padding_y="1em",
    ), size="2")
