"""Invoices: the list (server-side filters and pages), an invoice's detail with its
payments and credit notes, and the manual invoice form."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import reflex as rx

from membook_app.billing.invoice_payments import invoice_payments, paper_links
from membook_app.billing.invoices import (
    InvoiceQuery,
    LineInput,
    create_credit_note,
    create_manual_invoice,
    invoice_detail,
    invoice_periods,
    list_invoices,
)
from membook_app.cli.refs import parse_euros
from membook_app.db import session_scope
from membook_app.errors import NotFound, ValidationError
from membook_app.formatting import fi_date, money, number
from membook_app.register import validation as v
from membook_app.register.organizations import get_organization
from membook_app.register.people import get_person_for
from membook_app.ui.admin.list_filters import PagingMixin
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t
from models import Organization

nav_item("/admin/invoices", "receipt", "Laskut", "Invoices", order=42)

STATUS_LABELS = {"open": "avoin / open", "partly_paid": "osittain maksettu / partly paid",
                 "paid": "maksettu / paid", "credited": "hyvitetty / credited",
                 "overdue": "erääntynyt / overdue"}


@dataclasses.dataclass
class InvoiceRowView:
    id: int
    reference: str
    kind: str
    organization: str
    person: str
    payer: str
    period: str
    due: str
    total: str
    open_amount: str
    status: str


class InvoiceListState(PagingMixin, StaffState):
    search: str = ""
    status_filter: str = "all"
    period_filter: str = "all"
    total: int = 0
    sum_text: str = ""
    rows: list[InvoiceRowView] = []
    periods: list[str] = []

    @rx.var
    def total_text(self) -> str:
        return number(self.total)

    def _load(self) -> None:
        if not self.org_id:
            self.rows, self.total, self.pages = [], 0, 1
            return
        actor = current_actor()
        with session_scope() as session:
            self.periods = invoice_periods(session, actor, int(self.org_id))
            result = list_invoices(session, actor, InvoiceQuery(
                organization_id=int(self.org_id), include_suborganizations=self.include_sub,
                status=None if self.status_filter == "all" else self.status_filter,
                period=None if self.period_filter == "all" else self.period_filter,
                search=self.search[:100], page=self.page, page_size=50))
        self.total, self.pages, self.page = result.total, result.pages, result.page
        self.sum_text = money(result.sum_cents)
        self.rows = [InvoiceRowView(
            r.id, r.reference, "hyvitys / credit" if r.kind == "credit_note" else "",
            r.organization, r.person_name, r.payer_name, r.period or "", fi_date(r.due_date),
            money(r.total_cents),
            money(max(0, r.total_cents - r.credited_cents - r.paid_cents))
            if r.kind == "invoice" else "",
            STATUS_LABELS.get(r.status, r.status)) for r in result.rows]

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        period = self.router.url.query_parameters.get("period", "")
        if period:
            self.period_filter, self.page = period[:20], 1
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self.page, self.period_filter = 1, "all"
        self._load()

    @rx.event
    @guarded("staff")
    def set_search(self, value: str) -> None:
        self.search, self.page = value[:100], 1
        self._load()

    @rx.event
    @guarded("staff")
    def set_status_filter(self, value: str) -> None:
        self.status_filter = value if value in (*STATUS_LABELS, "all") else "all"
        self.page = 1
        self._load()

    @rx.event
    @guarded("staff")
    def set_period_filter(self, value: str) -> None:
        self.period_filter, self.page = value[:20] or "all", 1
        self._load()



def _list_row(r: InvoiceRowView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(r.reference, href=f"/admin/invoice?id={r.id}")),
        rx.table.cell(r.person), rx.table.cell(r.payer), rx.table.cell(r.organization),
        rx.table.cell(r.period), rx.table.cell(r.due),
        rx.table.cell(r.total, text_align="right"), rx.table.cell(r.open_amount,
                                                                  text_align="right"),
        rx.table.cell(r.status, " ", r.kind),
    )


@admin_page("/admin/invoices", "laskut / invoices", on_load=[InvoiceListState.load],
            on_org_change=InvoiceListState.org_changed)
def invoices_view() -> rx.Component:
    s = InvoiceListState
    return rx.vstack(
        page_title(t("Laskut", "Invoices")),
        rx.flex(
            rx.input(placeholder="Hae nimellä tai viitteellä / Search by name or reference",
                     value=s.search, on_change=s.set_search.debounce(300), id="invoice-search",
                     min_width="18em", flex="1"),
            rx.select.root(
                rx.select.trigger(id="invoice-status"),
                rx.select.content(
                    rx.select.item("Kaikki tilat / All statuses", value="all"),
                    *[rx.select.item(label, value=key) for key, label in STATUS_LABELS.items()]),
                value=s.status_filter, on_change=s.set_status_filter),
            rx.select.root(
                rx.select.trigger(id="invoice-period"),
                rx.select.content(
                    rx.select.item("Kaikki kaudet / All periods", value="all"),
                    rx.foreach(s.periods, lambda p: rx.select.item(p, value=p))),
                value=s.period_filter, on_change=s.set_period_filter),
            rx.hstack(rx.switch(checked=s.include_sub, on_change=s.set_include_sub),
                      rx.text(t("Alayhdistykset mukaan", "Include sub-organisations"), size="2"),
                      align="center"),
            gap="0.75em", wrap="wrap", align="center", width="100%",
        ),
        rx.hstack(
            rx.text(t("Yhteensä", "Total"), " ", s.total_text, " · ", s.sum_text,
                    id="invoice-total"),
            rx.spacer(),
            rx.button("‹", variant="soft", disabled=s.page <= 1,
                      on_click=s.go_to_page(s.page - 1)),
            rx.text(s.page, " / ", s.pages),
            rx.button("›", variant="soft", disabled=s.page >= s.pages,
                      on_click=s.go_to_page(s.page + 1)),
            width="100%", align="center",
        ),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(x) for x in (
                t("Viite", "Reference"), t("Jäsen", "Member"), t("Maksaja", "Payer"),
                t("Yhdistys", "Organisation"), t("Kausi", "Period"), t("Eräpäivä", "Due"),
                t("Summa", "Amount"), t("Avoinna", "Open"), t("Tila", "Status"))])),
            rx.table.body(rx.foreach(s.rows, _list_row)),
            size="1", variant="surface", id="invoice-table"), overflow_x="auto", width="100%"),
        spacing="3", width="100%",
    )


# ---------------------------------------------------------------- detail


@dataclasses.dataclass
class LineView:
    position: int
    organization: str
    description: str
    amount: str
    creditable: str


@dataclasses.dataclass
class PaymentView:
    date: str
    source: str
    payer: str
    amount: str
    kind: str
    rule: str
    reversal: str


@dataclasses.dataclass
class LinkView:
    id: int
    label: str


class InvoiceDetailState(StaffState):
    invoice_id: int = 0
    info: dict[str, str] = {}
    lines: list[LineView] = []
    payments: list[PaymentView] = []
    credit_notes: list[LinkView] = []
    credited: list[LinkView] = []
    can_credit: bool = False
    person_id: int = 0
    message: str = ""
    public_link: str = ""
    pdf_link: str = ""

    def _fill(self, invoice_id: int) -> None:
        actor = current_actor()
        with session_scope() as session:
            d = invoice_detail(session, actor, invoice_id)
            org = get_organization(session, d.invoice.organization_id)
            writable = actor.can("billing.write", org.path)
            payments = invoice_payments(session, actor, invoice_id)
            links = paper_links(session, actor, invoice_id)
        inv = d.invoice
        self.invoice_id, self.person_id = inv.id, inv.person_id  # type: ignore[assignment]
        self.info = {
            "reference": inv.reference, "kind": inv.kind, "organization": d.organization,
            "person": d.person_name, "payer": d.payer_name, "email": d.payer_email or "—",
            "period": inv.period or "", "issued": fi_date(inv.issue_date),
            "due": fi_date(inv.due_date), "total": money(inv.total_cents),
            "paid": money(inv.paid_cents), "credited_amount": money(inv.credited_cents),
            "status": STATUS_LABELS.get(inv.status, inv.status), "description": inv.description,
        }
        self.lines = [LineView(li.position, li.organization, li.description,
                               money(li.amount_cents),
                               money(d.creditable.get(li.position, 0)) if d.creditable else "")
                      for li in d.lines]
        self.payments = [PaymentView(fi_date(p.booking_date), p.source, p.payer_name,
                                     money(p.amount_cents), p.kind, p.rule, p.reversal)
                         for p in payments]
        self.public_link, self.pdf_link = links.page, links.pdf
        self.credit_notes = [LinkView(n.id, f"{n.reference} {money(n.total_cents)}")  # type: ignore[arg-type]
                             for n in d.credit_notes]
        self.credited = ([LinkView(d.credited_invoice.id, d.credited_invoice.reference)]  # type: ignore[arg-type]
                         if d.credited_invoice else [])
        self.can_credit = writable and inv.kind == "invoice" and any(
            c > 0 for c in d.creditable.values())

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        raw = self.router.url.query_parameters.get("id", "")
        self.message = ""
        if not raw.isdigit():
            raise NotFound("Laskua ei löydy", "Invoice not found")
        self._fill(int(raw))

    @rx.event
    @guarded("staff")
    def credit(self, form: dict[str, str]) -> None:
        """Full credit when no amounts are given, otherwise the amounts per line
        (`line-<position>` fields)."""
        amounts: dict[int, int] = {}
        for key, value in form.items():
            if key.startswith("line-") and key[5:].isdigit() and value.strip():
                try:
                    amounts[int(key[5:])] = parse_euros(value)
                except ValueError:
                    raise ValidationError("Anna summa euroina", "Give amounts in euros",
                                          field="amount") from None
        with session_scope() as session:
            note = create_credit_note(session, current_actor(), self.invoice_id,
                                      amounts=amounts or None,
                                      reason=form.get("reason", "")[:150])
            reference = note.reference
        self._fill(self.invoice_id)
        self.message = f"Hyvityslasku / credit note {reference}"


def _line_row(li: LineView) -> rx.Component:
    return rx.table.row(rx.table.cell(li.organization), rx.table.cell(li.description),
                        rx.table.cell(li.amount, text_align="right"),
                        rx.table.cell(li.creditable, text_align="right"))


def _payment_row(p: PaymentView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(p.date), rx.table.cell(p.source), rx.table.cell(p.payer),
        rx.table.cell(p.kind), rx.table.cell(p.rule),
        rx.table.cell(rx.cond(p.reversal != "", rx.badge(p.reversal, color_scheme="orange"))),
        rx.table.cell(p.amount, text_align="right"))


def _fact(label: rx.Var, key: str) -> rx.Component:
    return rx.hstack(rx.text(label, weight="medium", size="2", min_width="10em"),
                     rx.text(InvoiceDetailState.info[key], size="2", id=f"invoice-{key}"))


@admin_page("/admin/invoice", "lasku / invoice", on_load=[InvoiceDetailState.load])
def invoice_view() -> rx.Component:
    s = InvoiceDetailState
    return rx.vstack(
        rx.link(t("← Laskut", "← Invoices"), href="/admin/invoices"),
        page_title(rx.text(t("Lasku", "Invoice"), " ", s.info["reference"])),
        _fact(t("Yhdistys", "Organisation"), "organization"),
        _fact(t("Jäsen", "Member"), "person"),
        _fact(t("Maksaja", "Payer"), "payer"),
        _fact(t("Sähköposti", "Email"), "email"),
        _fact(t("Kausi", "Period"), "period"),
        _fact(t("Päiväys", "Issued"), "issued"),
        _fact(t("Eräpäivä", "Due"), "due"),
        _fact(t("Summa", "Total"), "total"),
        _fact(t("Maksettu", "Paid"), "paid"),
        _fact(t("Hyvitetty", "Credited"), "credited_amount"),
        _fact(t("Tila", "Status"), "status"),
        rx.hstack(
            rx.link(t("Avaa laskusivu", "Open the invoice page"), href=s.public_link,
                    is_external=True, id="invoice-public-link"),
            rx.link(t("PDF tulostettavaksi", "PDF for printing"), href=s.pdf_link,
                    is_external=True, id="invoice-pdf-link"),
            spacing="4", wrap="wrap"),
        rx.foreach(s.credited, lambda li: rx.link(
            t("Hyvittää laskun ", "Credits invoice "), li.label,
            href=f"/admin/invoice?id={li.id}")),
        rx.heading(t("Rivit", "Lines"), size="4"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(x) for x in (
                t("Yhdistys", "Organisation"), t("Selite", "Description"), t("Summa", "Amount"),
                t("Hyvitettävissä", "Creditable"))])),
            rx.table.body(rx.foreach(s.lines, _line_row)), size="1", id="invoice-lines"),
        rx.heading(t("Maksut", "Payments"), size="4"),
        rx.box(rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(x) for x in (
                t("Kirjauspäivä", "Booked"), t("Lähde", "Source"), t("Maksaja", "Payer"),
                t("Kohdistus", "Booked to"), t("Tunnistettu", "Matched by"),
                t("Oikaisu", "Reversal"), t("Summa", "Amount"))])),
            rx.table.body(rx.foreach(s.payments, _payment_row)), size="1", id="invoice-payments"),
            overflow_x="auto", width="100%"),
        rx.cond(s.credit_notes.length() > 0, rx.vstack(
            rx.heading(t("Hyvityslaskut", "Credit notes"), size="4"),
            rx.foreach(s.credit_notes, lambda li: rx.link(li.label,
                                                          href=f"/admin/invoice?id={li.id}")))),
        rx.cond(s.can_credit, rx.form(
            rx.vstack(
                rx.heading(t("Hyvitä", "Credit"), size="4"),
                rx.text(t("Jätä summat tyhjiksi hyvittääksesi koko laskun.",
                          "Leave the amounts empty to credit the whole invoice."), size="2"),
                rx.foreach(s.lines, lambda li: rx.hstack(
                    rx.text(li.description, size="2", min_width="20em"),
                    rx.input(name=f"line-{li.position}", placeholder=li.creditable, width="8em"),
                    align="center")),
                rx.input(name="reason", placeholder=t("Syy", "Reason"), width="30em"),
                rx.button(t("Luo hyvityslasku", "Create credit note"), type="submit",
                          color_scheme="orange", id="credit-submit"),
            ),
            on_submit=s.credit, reset_on_submit=True,
        )),
        rx.cond(s.message != "", rx.callout(s.message, id="invoice-message")),
        rx.link(t("Uusi lasku tälle jäsenelle", "New invoice for this member"),
                href=f"/admin/invoice-new?person={s.person_id}"),
        spacing="2", width="100%", max_width="60em",
    )


# ---------------------------------------------------------------- manual invoice


@dataclasses.dataclass
class OrgChoice:
    id: str
    name: str


class ManualInvoiceState(StaffState):
    person_id: int = 0
    person_name: str = ""
    chain: list[OrgChoice] = []
    due_date: str = fi_date(date.today() + timedelta(days=14))
    created_id: int = 0
    error: str = ""

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        raw = self.router.url.query_parameters.get("person", "")
        self.created_id, self.error = 0, ""
        if not raw.isdigit():
            raise NotFound("Henkilöä ei löydy", "Person not found")
        actor = current_actor()
        with session_scope() as session:
            person = get_person_for(session, actor, int(raw), "billing.read")
            self.person_id, self.person_name = person.id, f"{person.first_name} {person.last_name}"  # type: ignore[assignment]
            org = get_organization(session, int(self.org_id or 0))
            ids = [int(x) for x in org.path.strip("/").split("/") if x]
            names = {o.id: o.name for o in session.query(Organization).filter(
                Organization.id.in_(ids))}  # type: ignore[attr-defined]
        self.chain = [OrgChoice(str(i), names.get(i, "")) for i in reversed(ids)]

    @rx.event
    @guarded("staff")
    def create(self, form: dict[str, str]) -> None:
        """The invoice with up to three lines, issued today, by the selected organisation."""
        lines = []
        for i in range(3):
            text = form.get(f"desc{i}", "").strip()
            amount = form.get(f"amount{i}", "").strip()
            if not text and not amount:
                continue
            try:
                cents = parse_euros(amount)
            except ValueError:
                raise ValidationError("Anna summa euroina", "Give the amount in euros",
                                      field="amount") from None
            org_choice = form.get(f"org{i}", "") or (self.chain[0].id if self.chain else "0")
            lines.append(LineInput(int(org_choice) if org_choice.isdigit() else 0, text, cents))
        due = v.parse_date(form.get("due_date", ""), "due_date")
        if due is None:
            raise ValidationError("Anna eräpäivä", "Give the due date", field="due_date")
        with session_scope() as session:
            invoice = create_manual_invoice(
                session, current_actor(), organization_id=int(self.org_id or 0),
                person_id=self.person_id, lines=lines, issue_date=date.today(), due_date=due,
                description=form.get("description", ""))
            self.created_id = invoice.id  # type: ignore[assignment]


@admin_page("/admin/invoice-new", "uusi lasku / new invoice", on_load=[ManualInvoiceState.load])
def manual_invoice_view() -> rx.Component:
    s = ManualInvoiceState

    def line(i: int) -> rx.Component:
        return rx.hstack(
            rx.select.root(
                rx.select.trigger(placeholder=t("Yhdistys", "Organisation")),
                rx.select.content(rx.foreach(s.chain, lambda o: rx.select.item(o.name,
                                                                                value=o.id))),
                name=f"org{i}"),
            rx.input(name=f"desc{i}", placeholder=t("Selite", "Description"), width="22em"),
            rx.input(name=f"amount{i}", placeholder="0,00", width="8em"),
            wrap="wrap")

    return rx.vstack(
        page_title(rx.text(t("Uusi lasku: ", "New invoice: "), s.person_name)),
        rx.text(t("Laskuttaja on valittu yhdistys: ", "Invoiced by the selected organisation: "),
                StaffState.org_name, size="2"),
        rx.form(rx.vstack(
            line(0), line(1), line(2),
            rx.input(name="description", placeholder=t("Laskun selite", "Invoice description"),
                     width="30em"),
            rx.hstack(rx.text(t("Eräpäivä", "Due date"), size="2"),
                      rx.input(name="due_date", default_value=s.due_date, width="9em"),
                      align="center"),
            rx.button(t("Luo lasku", "Create invoice"), type="submit", id="manual-submit"),
        ), on_submit=s.create),
        rx.cond(s.created_id > 0, rx.link(t("Lasku luotu – avaa", "Invoice created – open"),
                                          href=f"/admin/invoice?id={s.created_id}",
                                          id="manual-created")),
        spacing="3", width="100%", max_width="60em",
    )
