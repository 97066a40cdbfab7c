"""/admin/payments (the payments list with filters and Excel export) and /admin/unmatched
(the queue of payments no reference could place, with candidates and the decisions)."""

from __future__ import annotations

import dataclasses
from datetime import date

import reflex as rx

from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.formatting import fi_date, money
from membook_app.payments.labels import (
    INVOICE_STATUSES,
    MATCH_RULES,
    PAYMENT_SOURCES,
    PAYMENT_STATUSES,
    label,
)
from membook_app.payments.unmatched import (
    book_payment,
    candidates,
    list_unmatched,
    mark_refund,
    split_payment,
)
from membook_app.payments.views import PaymentQuery, export_payments_xlsx, list_payments
from membook_app.ui.admin.list_filters import ListFiltersMixin
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

STATUSES = PAYMENT_STATUSES
SOURCES = PAYMENT_SOURCES

nav_item("/admin/payments", "wallet", "Maksut", "Payments", order=410)
nav_item("/admin/unmatched", "inbox", "Kohdistamattomat", "Unmatched", order=420)


def _parse_date(value: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        if "." in value:
            day, month, year = (int(p) for p in value.split("."))
            return date(year, month, day)
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError("Päivämäärä muodossa p.k.vvvv", "Date as d.m.yyyy",
                              field="date") from exc


def _cents(value: str) -> int:
    text = value.strip().replace("€", "").replace(" ", "").replace(",", ".")
    try:
        whole, _, frac = text.partition(".")
        if len(frac) > 2 or not (whole or frac):
            raise ValueError(text)
        return int(whole or 0) * 100 + int((frac + "00")[:2])
    except ValueError as exc:
        raise ValidationError(f"Summa ei kelpaa: {value}", f"Not an amount: {value}") from exc


@dataclasses.dataclass
class PaymentView:
    id: int
    booking_date: str
    amount: str
    source: str
    source_id: str
    reference: str
    payer: str
    status: str
    rule: str
    invoices: str
    organizations: str


class PaymentsState(ListFiltersMixin, StaffState):
    FILTERS = ("date_from", "date_to", "status_filter", "source_filter")
    date_from: str = ""
    date_to: str = ""
    status_filter: str = "all"
    source_filter: str = "all"
    total: int = 0
    total_sum: str = ""
    rows: list[PaymentView] = []

    def _query(self, page_size: int = 50) -> PaymentQuery:
        org = None if (self.all_orgs and self.is_operator) or not self.org_id.isdigit() \
            else int(self.org_id)
        return PaymentQuery(
            organization_id=org, include_suborganizations=self.include_sub,
            date_from=_parse_date(self.date_from), date_to=_parse_date(self.date_to),
            status=self.status_filter if self.status_filter in STATUSES else None,
            source=self.source_filter if self.source_filter in SOURCES else None,
            page=self.page, page_size=page_size)

    def _load(self) -> None:
        with session_scope() as session:
            result = list_payments(session, current_actor(), self._query())
        self.page, self.pages, self.total = result.page, result.pages, result.total
        self.total_sum = money(result.total_cents)
        self.rows = [PaymentView(r.id, fi_date(r.booking_date), money(r.amount_cents),
                                 SOURCES.get(r.source, r.source), r.source_id, r.reference or "",
                                 r.payer_name or "", label(STATUSES, r.status),
                                 label(MATCH_RULES, r.match_rule), r.invoices,
                                 r.organizations)
                     for r in result.rows]

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self.page = 1
        self._load()

    @rx.event
    @guarded("staff")
    def export(self) -> rx.event.EventSpec:
        """All filtered payments as an Excel file."""
        with session_scope() as session:
            data = export_payments_xlsx(session, current_actor(), self._query())
        return rx.download(data=data, filename="maksut.xlsx")


def _filter_input(name: str, value: rx.Var, placeholder: str) -> rx.Component:
    return rx.input(placeholder=placeholder, value=value, width="9em", id=f"payments-{name}",
                    on_change=lambda v: PaymentsState.set_filter(name, v))


def _select(name: str, value: rx.Var, options: dict[str, str]) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=f"payments-{name}"),
        rx.select.content(rx.select.item("Kaikki / All", value="all"),
                          *[rx.select.item(label, value=key) for key, label in options.items()]),
        value=value, on_change=lambda v: PaymentsState.set_filter(name, v),
    )


def _payment_row(row: PaymentView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.booking_date), rx.table.cell(row.amount, text_align="right"),
        rx.table.cell(row.source), rx.table.cell(row.reference), rx.table.cell(row.payer),
        rx.table.cell(row.status), rx.table.cell(row.rule), rx.table.cell(row.invoices),
        rx.table.cell(row.organizations), rx.table.cell(rx.text(row.source_id, size="1")),
        key=row.id,
    )


@admin_page("/admin/payments", "maksut / payments", on_load=[PaymentsState.load],
            on_org_change=PaymentsState.org_changed)
def payments_view() -> rx.Component:
    return rx.vstack(
        page_title(t("Maksut", "Payments")),
        rx.flex(
            _filter_input("date_from", PaymentsState.date_from, "alkaen p.k.vvvv"),
            _filter_input("date_to", PaymentsState.date_to, "asti p.k.vvvv"),
            _select("status_filter", PaymentsState.status_filter, STATUSES),
            _select("source_filter", PaymentsState.source_filter, SOURCES),
            rx.hstack(rx.switch(checked=PaymentsState.include_sub,
                                on_change=PaymentsState.set_include_sub),
                      rx.text(t("Alayhdistykset mukaan", "Include sub-organisations"), size="2"),
                      align="center"),
            rx.cond(PaymentsState.is_operator, rx.hstack(
                rx.switch(checked=PaymentsState.all_orgs, on_change=PaymentsState.set_all_orgs),
                rx.text(t("Kaikki maksut (myös kohdistamattomat)",
                          "All payments (unmatched too)"), size="2"), align="center")),
            rx.button(t("Vie Exceliin", "Export to Excel"), on_click=PaymentsState.export,
                      variant="soft", id="payments-export"),
            gap="0.75em", wrap="wrap", align="center", width="100%",
        ),
        rx.hstack(
            rx.text(t("Yhteensä", "Total"), " ", PaymentsState.total, " · ",
                    PaymentsState.total_sum, id="payments-total"),
            rx.spacer(),
            rx.button("‹", variant="soft", disabled=PaymentsState.page <= 1,
                      on_click=PaymentsState.go_to_page(PaymentsState.page - 1)),
            rx.text(PaymentsState.page, " / ", PaymentsState.pages),
            rx.button("›", variant="soft", disabled=PaymentsState.page >= PaymentsState.pages,
                      on_click=PaymentsState.go_to_page(PaymentsState.page + 1)),
            width="100%", align="center",
        ),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(label) for label in (
                t("Kirjattu", "Booked"), t("Summa", "Amount"), t("Lähde", "Source"),
                t("Viite", "Reference"), t("Maksaja", "Payer"), t("Tila", "Status"),
                t("Sääntö", "Rule"), t("Laskut", "Invoices"), t("Yhdistys", "Organisation"),
                t("Arkistointitunnus", "Archive id"))])),
            rx.table.body(rx.foreach(PaymentsState.rows, _payment_row)),
            size="1", variant="surface", id="payments-table",
        ), overflow_x="auto", width="100%"),
        spacing="3", width="100%",
    )


# --- the unmatched queue ---------------------------------------------------------------

@dataclasses.dataclass
class QueueView:
    id: int
    booking_date: str
    amount: str
    reference: str
    payer: str
    message: str
    reason: str


@dataclasses.dataclass
class CandidateView:
    invoice_id: int
    reference: str
    organization: str
    payer: str
    total: str
    open: str
    due: str
    status: str
    reasons: str
    score: int
    bookable: bool


class UnmatchedState(StaffState):
    queue: list[QueueView] = []
    selected_id: int = 0
    candidate_rows: list[CandidateView] = []
    split_amounts: dict[str, str] = {}
    note: str = ""
    done_text: str = ""
    can_book: bool = False  # some candidate is the actor's to book to (viewers: never)

    def _load(self) -> None:
        with session_scope() as session:
            rows = list_unmatched(session, current_actor())
        self.queue = [QueueView(r.payment_id, fi_date(r.booking_date), money(r.amount_cents),
                                r.reference or "", r.payer_name or "", r.message or "",
                                label(MATCH_RULES, r.match_rule))
                      for r in rows]
        if self.selected_id not in {q.id for q in self.queue}:
            self.selected_id, self.candidate_rows, self.split_amounts = 0, [], {}
            self.can_book = False

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        self._load()

    @rx.event
    @guarded("staff")
    def select(self, payment_id: int) -> None:
        """Open a payment: its ranked candidate invoices with the reasons."""
        with session_scope() as session:
            found = candidates(session, current_actor(), int(payment_id))
        self.selected_id, self.split_amounts, self.done_text = int(payment_id), {}, ""
        self.candidate_rows = [
            CandidateView(c.invoice_id, c.reference, c.organization, c.payer_name,
                          money(c.total_cents), money(c.open_cents), fi_date(c.due_date),
                          label(INVOICE_STATUSES, c.status),
                          "; ".join(f"{r.fi} / {r.en}" for r in c.reasons), c.score, c.bookable)
            for c in found]
        self.can_book = any(c.bookable for c in found)

    @rx.event
    @guarded("staff")
    def set_note(self, value: str) -> None:
        self.note = value[:500]

    @rx.event
    @guarded("staff")
    def set_split_amount(self, invoice_id: int, value: str) -> None:
        self.split_amounts = {**self.split_amounts, str(int(invoice_id)): value[:20]}

    @rx.event
    @guarded("staff")
    def book(self, payment_id: int, invoice_id: int) -> None:
        """Book the whole payment to one invoice (excess to the payer's credit)."""
        with session_scope() as session:
            result = book_payment(session, current_actor(), int(payment_id), int(invoice_id),
                                  note=self.note)
        self.done_text = f"Kirjattu / booked — {label(STATUSES, result.status)}"
        self.note = ""
        self._load()

    @rx.event
    @guarded("staff")
    def split(self, payment_id: int) -> None:
        """Split the payment by the amounts typed next to the candidates."""
        parts = [(int(k), _cents(v)) for k, v in self.split_amounts.items() if v.strip()]
        with session_scope() as session:
            split_payment(session, current_actor(), int(payment_id), parts, note=self.note)
        self.done_text = "Jaettu / split"
        self.note = ""
        self._load()

    @rx.event
    @guarded("operator")
    def refund(self, payment_id: int) -> None:
        """Mark the payment to be paid back (the operator pays refunds)."""
        with session_scope() as session:
            mark_refund(session, current_actor(), int(payment_id), note=self.note)
        self.done_text = "Merkitty palautettavaksi / marked to refund"
        self.note = ""
        self._load()


def _queue_row(row: QueueView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.booking_date), rx.table.cell(row.amount, text_align="right"),
        rx.table.cell(row.reference), rx.table.cell(row.payer), rx.table.cell(row.message),
        rx.table.cell(row.reason),
        rx.table.cell(rx.button(t("Avaa", "Open"), size="1", variant="soft",
                                on_click=UnmatchedState.select(row.id))),
        key=row.id, id=f"unmatched-{row.id}",
        background=rx.cond(UnmatchedState.selected_id == row.id, rx.color("accent", 3), ""),
    )


def _candidate_row(row: CandidateView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(row.reference), rx.table.cell(row.payer), rx.table.cell(row.organization),
        rx.table.cell(row.total), rx.table.cell(row.open), rx.table.cell(row.due),
        rx.table.cell(row.status), rx.table.cell(rx.text(row.reasons, size="1")),
        rx.table.cell(rx.cond(row.bookable, rx.button(
            t("Kirjaa tälle", "Book here"), size="1",
            on_click=UnmatchedState.book(UnmatchedState.selected_id, row.invoice_id)))),
        rx.table.cell(rx.cond(row.bookable, rx.input(
            placeholder="0,00", width="6em",
            on_change=lambda v: UnmatchedState.set_split_amount(row.invoice_id, v)))),
        key=row.invoice_id,
    )


@admin_page("/admin/unmatched", "kohdistamattomat / unmatched", on_load=[UnmatchedState.load])
def unmatched_view() -> rx.Component:
    return rx.vstack(
        page_title(t("Kohdistamattomat maksut", "Unmatched payments")),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(label) for label in (
                t("Kirjattu", "Booked"), t("Summa", "Amount"), t("Viite", "Reference"),
                t("Maksaja", "Payer"), t("Viesti", "Message"), t("Syy", "Reason"), "")])),
            rx.table.body(rx.foreach(UnmatchedState.queue, _queue_row)),
            size="1", variant="surface", id="unmatched-table",
        ), overflow_x="auto", width="100%"),
        rx.cond(UnmatchedState.done_text != "",
                rx.callout(UnmatchedState.done_text, color_scheme="green")),
        rx.cond(UnmatchedState.selected_id != 0, rx.vstack(
            rx.heading(t("Ehdokkaat", "Candidates"), size="4"),
            rx.box(rx.table.root(
                rx.table.header(rx.table.row(*[rx.table.column_header_cell(label) for label in (
                    t("Viite", "Reference"), t("Maksaja", "Payer"),
                    t("Yhdistys", "Organisation"), t("Summa", "Total"), t("Avoinna", "Open"),
                    t("Eräpäivä", "Due"), t("Tila", "Status"), t("Perusteet", "Reasons"), "",
                    t("Jako €", "Split €"))])),
                rx.table.body(rx.foreach(UnmatchedState.candidate_rows, _candidate_row)),
                size="1", variant="surface", id="candidates-table",
            ), overflow_x="auto", width="100%"),
            rx.cond(UnmatchedState.can_book | UnmatchedState.is_operator, rx.input(
                placeholder=t("Muistiinpano (tallentuu lokiin)", "Note (kept in the log)"),
                value=UnmatchedState.note, on_change=UnmatchedState.set_note, width="100%")),
            rx.hstack(
                rx.cond(UnmatchedState.can_book, rx.button(
                    t("Jaa laskuille", "Split over invoices"), variant="soft",
                    on_click=UnmatchedState.split(UnmatchedState.selected_id))),
                rx.cond(UnmatchedState.is_operator, rx.button(
                    t("Merkitse palautettavaksi", "Mark to be refunded"), color_scheme="red",
                    variant="soft", on_click=UnmatchedState.refund(UnmatchedState.selected_id))),
            ),
            width="100%", spacing="2",
        )),
        spacing="3", width="100%",
    )
