"""A person's full record: edit form with messages next to the fields, memberships, and
the balance (credit on their account, their open invoices) as far as the staff member's
organisations are concerned (`payments.views.person_balance`)."""

from __future__ import annotations

import dataclasses
from datetime import date

import reflex as rx

from membook_app.cli.refs import parse_euros
from membook_app.db import session_scope
from membook_app.errors import FormErrors, ValidationError
from membook_app.formatting import fi_date, fi_datetime, money
from membook_app.payments.credit_refunds import refund_credit, refund_defaults
from membook_app.payments.credit_use import apply_credit, credit_offers
from membook_app.payments.labels import ALLOCATION_RULES, INVOICE_STATUSES, label
from membook_app.payments.views import person_balance
from membook_app.register import custom_fields as cf
from membook_app.register import validation as v
from membook_app.register.households import household_of, payer_candidates, set_payer
from membook_app.register.lifecycle import status_history
from membook_app.register.memberships import add_membership, end_membership, membership_types
from membook_app.register.organizations import get_organization
from membook_app.register.people import (
    PERSON_FIELDS,
    memberships_of,
    open_person_record,
    update_person,
)
from membook_app.ui.admin.register import STATUS_LABELS, TypeOption
from membook_app.ui.admin.shell import StaffState, admin_page
from membook_app.ui.components import field, page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t
from models import Person

LABELS = {
    "first_name": ("Etunimi", "First name"), "last_name": ("Sukunimi", "Last name"),
    "email": ("Sähköposti", "Email"), "phone": ("Puhelin", "Phone"),
    "street_address": ("Lähiosoite", "Street address"),
    "postal_code": ("Postinumero", "Postal code"),
    "city": ("Postitoimipaikka", "City"), "country": ("Maa", "Country"),
    "birth_date": ("Syntymäaika (p.k.vvvv)", "Birth date (d.m.yyyy)"),
    "language": ("Kieli (fi/sv/en)", "Language (fi/sv/en)"),
}


@dataclasses.dataclass
class MembershipView:
    id: int
    organization: str
    member_number: str
    type_name: str
    start_date: str
    end_date: str
    status: str
    active: bool
    can_write: bool


@dataclasses.dataclass
class HouseholdView:
    person_id: int
    name: str
    is_payer: bool
    visible: bool


@dataclasses.dataclass
class OptionView:
    id: str
    label: str


@dataclasses.dataclass
class HistoryView:
    organization: str
    member_number: str
    at: str
    change: str
    reason: str
    actor: str


@dataclasses.dataclass
class CustomView:
    name: str
    label: str
    kind: str
    value: str
    choices: list[str]


@dataclasses.dataclass
class OpenInvoiceView:
    key: str
    reference: str
    description: str
    organization: str
    due: str
    status: str
    open_amount: str


@dataclasses.dataclass
class CreditOfferView:
    """An open invoice the staff member may pay from the payer's credit."""

    key: str
    invoice_id: str
    reference: str
    open_amount: str
    amount: str  # the default, as the euro input takes it: 12,50


@dataclasses.dataclass
class CreditView:
    key: str
    booked: str
    payer: str
    rule: str
    amount: str


class PersonState(StaffState):
    """The person being viewed; the id comes from the URL and is re-checked on every call."""

    person_id: int = 0
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    saved: bool = False
    memberships: list[MembershipView] = []
    new_types: list[TypeOption] = []
    membership_error: str = ""
    payer_name: str = ""
    household: list[HouseholdView] = []
    payer_options: list[OptionView] = []
    payer_error: str = ""
    history: list[HistoryView] = []
    custom: list[CustomView] = []
    custom_errors: dict[str, str] = {}
    custom_saved: bool = False
    credit: str = ""
    open_total: str = ""
    net: str = ""
    net_negative: bool = False
    open_invoices: list[OpenInvoiceView] = []
    credits: list[CreditView] = []
    credit_offers: list[CreditOfferView] = []
    credit_message: str = ""
    credit_error: str = ""
    refund_amount: str = ""  # operator only: the refund form's defaults
    refund_iban: str = ""

    def _fill(self, session, person) -> None:  # type: ignore[no-untyped-def]
        actor = current_actor()
        self.person_id = person.id
        self.values = {f: (fi_date(getattr(person, f)) if f == "birth_date"
                           else getattr(person, f) or "") for f in PERSON_FIELDS}
        self.memberships = [
            MembershipView(m.id, m.organization, str(m.member_number), m.type_name,
                           fi_date(m.start_date), fi_date(m.end_date),
                           STATUS_LABELS.get(m.status, m.status), m.status == "active",
                           actor.can("register.write", get_organization(session,
                                                                        m.organization_id).path))
            for m in memberships_of(session, person.id,
                                    lambda path: actor.can("register.read", path))
        ]
        self.new_types = ([TypeOption(str(mt.id), mt.name)
                           for mt in membership_types(session, int(self.org_id))]
                          if self.org_id else [])
        self._fill_depth(session, person)
        self._fill_balance(session, person)

    def _fill_balance(self, session, person) -> None:  # type: ignore[no-untyped-def]
        """Credit on the person's account and their open invoices (the actor's share)."""
        balance = person_balance(session, current_actor(), person.id)
        self.credit, self.open_total = money(balance.credit_cents), money(balance.open_cents)
        self.net, self.net_negative = money(balance.net_cents), balance.net_cents < 0
        self.open_invoices = [
            OpenInvoiceView(f"inv-{i.invoice_id}", i.reference, i.description, i.organization,
                            fi_date(i.due_date), label(INVOICE_STATUSES, i.status),
                            money(i.open_cents))
            for i in balance.open_invoices]
        self.credits = [
            CreditView(f"credit-{c.allocation_id}", fi_date(c.booking_date), c.payer_name or "",
                       label(ALLOCATION_RULES, c.rule), money(c.amount_cents))
            for c in balance.credits]
        offers = credit_offers(session, current_actor(), person.id)
        self.credit_offers = [
            CreditOfferView(f"offer-{i.invoice_id}-{offers[i.invoice_id]}", str(i.invoice_id),
                            i.reference,
                            money(i.open_cents), _euro_input(offers[i.invoice_id]))
            for i in balance.open_invoices if i.invoice_id in offers]
        self.refund_amount, self.refund_iban = "", ""
        if current_actor().is_operator and balance.credit_cents > 0:
            cents, iban = refund_defaults(session, current_actor(), person.id)
            self.refund_amount, self.refund_iban = _euro_input(cents), iban

    def _fill_depth(self, session, person) -> None:  # type: ignore[no-untyped-def]
        """Household, status history and custom fields of the person."""
        actor = current_actor()
        self.household = [HouseholdView(m.person_id, m.name, m.is_payer, m.visible)
                          for m in household_of(session, actor, person.id)]
        payer = session.get(Person, person.payer_id) if person.payer_id else None
        self.payer_name = f"{payer.last_name} {payer.first_name}" if payer else ""
        self.history = [
            HistoryView(h.organization, str(h.member_number), fi_datetime(h.at),
                        f"{STATUS_LABELS.get(h.from_status or '', '–')} → "
                        f"{STATUS_LABELS.get(h.to_status, h.to_status)}", h.reason, h.actor)
            for h in status_history(session, actor, person.id)]
        fields = {f.id: f for f in cf.fields_for_person(session, person.id)}
        self.custom = [
            CustomView(f"cf_{v.field_id}", v.label + (" *" if fields[v.field_id].required
                                                       else ""),
                       v.kind, cf.form_value(fields[v.field_id], v.value),
                       list(fields[v.field_id].choices or []))
            for v in cf.person_values(session, person.id,
                                      visible=lambda path: actor.can("register.read", path))]

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        """Open the record named in the URL; the opening itself is logged."""
        raw = self.router.url.query_parameters.get("id", "")
        self.errors, self.saved, self.membership_error = {}, False, ""
        self.credit_message, self.credit_error = "", ""
        if not raw.isdigit():
            raise ValidationError("Henkilöä ei löydy", "Person not found")
        with session_scope() as session:
            person = open_person_record(session, current_actor(), int(raw))
            self._fill(session, person)

    @rx.event
    @guarded("staff")
    def save(self, form: dict[str, str]) -> None:
        """Save the edit form; every invalid field gets its message beside it."""
        changes = {k: form[k] for k in PERSON_FIELDS if k in form}
        self.saved = False
        try:
            with session_scope() as session:
                person = update_person(session, current_actor(), self.person_id, changes)
                self._fill(session, person)
        except FormErrors as exc:
            self.errors = {k: str(e) for k, e in exc.errors.items()}
            return
        self.errors, self.saved = {}, True

    @rx.event
    @guarded("staff")
    def add_membership(self, form: dict[str, str]) -> None:
        """Join the person to the organisation selected in the switcher."""
        self.membership_error = ""
        try:
            start = v.parse_date(form.get("start_date", ""), "start_date") or date.today()
            type_id = form.get("type_id", "")
            with session_scope() as session:
                add_membership(session, current_actor(), person_id=self.person_id,
                               organization_id=int(self.org_id or 0),
                               type_id=int(type_id) if type_id.isdigit() else None,
                               start_date=start)
            with session_scope() as session:
                person = open_person_record(session, current_actor(), self.person_id)
                self._fill(session, person)
        except ValidationError as exc:
            self.membership_error = str(exc)

    @rx.event
    @guarded("staff")
    def end(self, membership_id: int, status: str = "resigned") -> None:
        """End a membership today: resigned (eronnut) or ended by the association (päättynyt)."""
        with session_scope() as session:
            end_membership(session, current_actor(), int(membership_id), end_date=date.today(),
                           status=status)
        with session_scope() as session:
            person = open_person_record(session, current_actor(), self.person_id)
            self._fill(session, person)

    def _reload(self) -> None:
        with session_scope() as session:
            person = open_person_record(session, current_actor(), self.person_id)
            self._fill(session, person)

    @rx.event
    @guarded("staff")
    def search_payer(self, value: str) -> None:
        """Offer payers from the organisations the person shares with the staff member."""
        with session_scope() as session:
            options = payer_candidates(session, current_actor(), self.person_id, value[:100])
        self.payer_options = [OptionView(str(o.person_id), o.label) for o in options]

    @rx.event
    @guarded("staff")
    def choose_payer(self, payer_id: str) -> None:
        """Make the chosen person pay for this one (household); audited."""
        self.payer_error = ""
        if not str(payer_id).isdigit():
            return
        try:
            with session_scope() as session:
                set_payer(session, current_actor(), self.person_id, int(payer_id))
        except ValidationError as exc:
            self.payer_error = str(exc)
            return
        self.payer_options = []
        self._reload()

    @rx.event
    @guarded("staff")
    def clear_payer(self) -> None:
        """The person pays for themselves again."""
        with session_scope() as session:
            set_payer(session, current_actor(), self.person_id, None)
        self._reload()

    @rx.event
    @guarded("staff")
    def pay_from_credit(self, form: dict[str, str]) -> None:
        """Pay one of the person's open invoices from their credit balance.

        The service checks the invoice, its payer, the actor's rights and the amount;
        its refusals of the input are shown beside the balance."""
        self.credit_message, self.credit_error = "", ""
        raw_id = str(form.get("invoice_id", ""))
        try:
            if not raw_id.isdigit():
                raise ValidationError("Laskua ei löydy", "Invoice not found")
            cents = _form_cents(form)
            with session_scope() as session:
                use = apply_credit(session, current_actor(), self.person_id, int(raw_id),
                                   cents)
        except ValidationError as exc:
            self.credit_error = str(exc)
            return
        self.credit_message = f"Maksettu saldosta / paid from credit {money(use.amount_cents)}"
        self._reload()

    @rx.event
    @guarded("operator")
    def refund_from_credit(self, form: dict[str, str]) -> None:
        """Pay part or all of the person's credit back to their account (operator only).

        The service checks the amount against the credit and the IBAN; its refusals are
        shown beside the balance. The operator records the day paid back on the escrow
        page once the bank transfer is made."""
        self.credit_message, self.credit_error = "", ""
        try:
            cents = _form_cents(form)
            with session_scope() as session:
                done = refund_credit(session, current_actor(), self.person_id, cents,
                                     iban=str(form.get("iban", "")),
                                     note=str(form.get("note", "")))
        except ValidationError as exc:
            self.credit_error = str(exc)
            return
        self.credit_message = (f"Saldoa palautettavana / credit to refund "
                               f"{money(done.amount_cents)} → {done.iban}")
        self._reload()

    @rx.event
    @guarded("staff")
    def save_custom(self, form: dict[str, str]) -> None:
        """Save custom field values; each organisation's fields are checked by their kind."""
        self.custom_saved = False
        with session_scope() as session:
            fields = {f"cf_{f.id}": f for f in cf.fields_for_person(session, self.person_id)}
        by_org: dict[int, dict[str, str]] = {}
        names: dict[tuple[int, str], str] = {}
        for name, value in form.items():
            field = fields.get(name)
            if field is not None and any(c.name == name for c in self.custom):
                by_org.setdefault(field.organization_id, {})[field.key] = value
                names[(field.organization_id, field.key)] = name
        errors: dict[str, str] = {}
        try:
            with session_scope() as session:
                for org_id, values in by_org.items():
                    try:
                        cf.set_values(session, current_actor(), self.person_id, values,
                                      organization_id=org_id)
                    except FormErrors as exc:
                        errors.update({names.get((org_id, k), k): str(e)
                                       for k, e in exc.errors.items()})
                if errors:
                    raise FormErrors({k: ValidationError(v) for k, v in errors.items()})
        except FormErrors:
            self.custom_errors = errors
            return
        self.custom_errors, self.custom_saved = {}, True
        self._reload()


def _form_cents(form: dict[str, str]) -> int:
    """The form's `amount` in cents (12,50 or 12.50; a € sign and spaces allowed)."""
    try:
        return parse_euros(str(form.get("amount", "")).replace("€", "")
                           .replace("\xa0", "").replace(" ", ""))
    except ValueError:
        raise ValidationError("Anna summa euroina, esim. 12,50",
                              "Give the amount in euros, e.g. 12,50", field="amount") from None


def _euro_input(cents: int) -> str:
    """Cents as the euro input takes them back (`parse_euros`): 1250 → 12,50."""
    return f"{cents // 100},{cents % 100:02d}"


def _field(name: str) -> rx.Component:
    return field(t(*LABELS[name]), name, PersonState.values[name], PersonState.errors.get(name, ""))


def _membership_row(m: MembershipView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(m.organization), rx.table.cell(m.member_number), rx.table.cell(m.type_name),
        rx.table.cell(m.start_date), rx.table.cell(m.end_date), rx.table.cell(m.status),
        rx.table.cell(rx.cond(m.active & m.can_write, rx.hstack(
            rx.button(t("Eronnut", "Resigned"), size="1", variant="soft",
                      color_scheme="red", on_click=PersonState.end(m.id, "resigned")),
            rx.button(t("Päättynyt", "Ended"), size="1", variant="soft",
                      color_scheme="orange", on_click=PersonState.end(m.id, "ended")),
            spacing="1"))),
    )


def _custom_input(c: CustomView) -> rx.Component:
    control = rx.match(
        c.kind,
        ("choice", rx.el.select(
            rx.el.option("–", value=""),
            rx.foreach(c.choices, lambda o: rx.el.option(o, value=o)),
            name=c.name, default_value=c.value, id=c.name,
            style={"padding": "0.35em", "width": "100%"})),
        ("bool", rx.el.select(
            rx.el.option("–", value=""), rx.el.option("kyllä / yes", value="true"),
            rx.el.option("ei / no", value="false"),
            name=c.name, default_value=c.value, id=c.name,
            style={"padding": "0.35em", "width": "100%"})),
        rx.input(name=c.name, id=c.name, default_value=c.value, width="100%",
                 placeholder=rx.match(c.kind, ("date", "p.k.vvvv"), ("number", "0"), "")),
    )
    return rx.box(
        rx.text(c.label, as_="label", size="2", weight="medium", html_for=c.name),
        control,
        rx.cond(PersonState.custom_errors.get(c.name, "") != "",
                rx.text(PersonState.custom_errors.get(c.name, ""), color_scheme="red", size="1",
                        id=f"{c.name}-error")),
        width="100%")


def _custom_section() -> rx.Component:
    return rx.cond(PersonState.custom.length() > 0, rx.vstack(
        rx.heading(t("Lisätiedot", "Custom fields"), size="4", margin_top="1em"),
        rx.form(
            rx.vstack(
                rx.grid(rx.foreach(PersonState.custom, _custom_input),
                        columns=rx.breakpoints(initial="1", md="2"), spacing="3",
                        width="100%"),
                rx.hstack(
                    rx.button(t("Tallenna lisätiedot", "Save custom fields"), type="submit",
                              variant="soft", id="save-custom"),
                    rx.cond(PersonState.custom_saved,
                            rx.text(t("Tallennettu", "Saved"), color_scheme="green")),
                    align="center"),
                width="100%"),
            on_submit=PersonState.save_custom, key=PersonState.person_id, width="100%"),
        width="100%"))


def _household_section() -> rx.Component:
    return rx.vstack(
        rx.heading(t("Kotitalous ja maksaja", "Household and payer"), size="4",
                   margin_top="1em"),
        rx.cond(PersonState.payer_name != "",
                rx.hstack(rx.text(t("Maksaja: ", "Payer: "), rx.text.strong(
                    PersonState.payer_name), id="payer-name"),
                          rx.button(t("Maksaa itse", "Pays for themselves"), size="1",
                                    variant="soft", on_click=PersonState.clear_payer),
                          align="center"),
                rx.text(t("Maksaa itse omat maksunsa.", "Pays their own fees."), size="2")),
        rx.foreach(PersonState.household, lambda h: rx.text(
            rx.cond(h.visible, rx.link(h.name, href=f"/admin/person?id={h.person_id}"), h.name),
            rx.cond(h.is_payer, t(" (maksaja)", " (payer)"), ""), size="2")),
        rx.hstack(
            rx.input(placeholder=t("Hae maksajaa nimellä", "Find a payer by name"),
                     on_change=PersonState.search_payer.debounce(300), id="payer-search",
                     width="16em"),
            rx.select.root(
                rx.select.trigger(placeholder=t("Valitse maksaja", "Choose the payer"),
                                  id="payer-select"),
                rx.select.content(rx.foreach(PersonState.payer_options,
                                             lambda o: rx.select.item(o.label, value=o.id))),
                on_change=PersonState.choose_payer),
            align="center", wrap="wrap"),
        rx.cond(PersonState.payer_error != "",
                rx.text(PersonState.payer_error, color_scheme="red", size="2",
                        id="payer-error")),
        width="100%")


def _credit_offer(o: CreditOfferView) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.text(o.reference, " · ", t("avoinna", "open"), " ", o.open_amount, size="2"),
            rx.input(type="hidden", name="invoice_id", value=o.invoice_id),
            rx.input(name="amount", default_value=o.amount, input_mode="decimal",
                     width="7em", aria_label="€"),
            rx.button(t("Maksa saldosta", "Pay from credit"), type="submit", variant="soft",
                      size="2"),
            align="center", wrap="wrap"),
        on_submit=PersonState.pay_from_credit, key=o.key)


def _credit_refund() -> rx.Component:
    """The operator's form to pay credit back to the payer (amount, IBAN, note)."""
    return rx.form(
        rx.vstack(
            rx.text(t("Palauta saldo", "Refund credit"), size="2", weight="medium"),
            rx.hstack(
                rx.input(name="amount", default_value=PersonState.refund_amount,
                         input_mode="decimal", width="7em", aria_label="€",
                         id="refund-amount"),
                rx.input(name="iban", default_value=PersonState.refund_iban,
                         placeholder="IBAN", width="16em", aria_label="IBAN",
                         id="refund-iban"),
                rx.input(name="note", placeholder=t("Selite", "Note"), width="14em",
                         max_length=500, aria_label=t("Selite", "Note"), id="refund-note"),
                rx.button(t("Palauta saldo", "Refund credit"), type="submit", variant="soft",
                          size="2", id="refund-submit"),
                align="center", wrap="wrap"),
            spacing="1"),
        on_submit=PersonState.refund_from_credit,
        key=PersonState.refund_amount + PersonState.refund_iban, id="credit-refund")


def _credit_use() -> rx.Component:
    """One small form per invoice the staff member may pay from the payer's credit, and
    the operator's refund form."""
    return rx.vstack(
        rx.cond(PersonState.credit_offers.length() > 0, rx.vstack(
            rx.text(t("Maksa saldosta", "Pay from credit"), size="2", weight="medium"),
            rx.foreach(PersonState.credit_offers, _credit_offer),
            spacing="2", id="credit-offers")),
        rx.cond(PersonState.refund_amount != "", _credit_refund()),
        rx.cond(PersonState.credit_message != "",
                rx.text(PersonState.credit_message, color_scheme="green", size="2",
                        id="credit-message")),
        rx.cond(PersonState.credit_error != "",
                rx.text(PersonState.credit_error, color_scheme="red", size="2",
                        id="credit-error")),
        spacing="2", width="100%")


def _balance_section() -> rx.Component:
    header = rx.table.header(rx.table.row(
        rx.table.column_header_cell(t("Viite", "Reference")),
        rx.table.column_header_cell(t("Lasku", "Invoice")),
        rx.table.column_header_cell(t("Yhdistys", "Organisation")),
        rx.table.column_header_cell(t("Eräpäivä", "Due")),
        rx.table.column_header_cell(t("Tila", "Status")),
        rx.table.column_header_cell(t("Avoinna", "Open"))))
    return rx.vstack(
        rx.heading(t("Saldo", "Balance"), size="4", margin_top="1em"),
        rx.hstack(
            rx.text(t("Saldoa tilillä", "Credit on account"), ": ",
                    rx.text.strong(PersonState.credit, id="balance-credit")),
            rx.text(t("Avoimet laskut", "Open invoices"), ": ",
                    rx.text.strong(PersonState.open_total, id="balance-open")),
            rx.text(t("Netto", "Net"), ": ",
                    rx.text.strong(PersonState.net, id="balance-net",
                                   color_scheme=rx.cond(PersonState.net_negative, "red",
                                                        "green"))),
            spacing="5", wrap="wrap"),
        rx.cond(PersonState.open_invoices.length() > 0, rx.table.root(
            header,
            rx.table.body(rx.foreach(PersonState.open_invoices, lambda i: rx.table.row(
                rx.table.cell(i.reference), rx.table.cell(i.description),
                rx.table.cell(i.organization), rx.table.cell(i.due), rx.table.cell(i.status),
                rx.table.cell(i.open_amount), key=i.key))),
            size="1", width="100%", id="balance-invoices")),
        _credit_use(),
        rx.cond(PersonState.credits.length() > 0, rx.vstack(
            rx.text(t("Saldon tapahtumat", "Credit entries"), size="2", weight="medium"),
            rx.foreach(PersonState.credits, lambda c: rx.text(
                c.booked, " · ", c.payer, " · ", c.rule, " · ", c.amount, size="2",
                key=c.key)),
            spacing="1", id="balance-credits")),
        width="100%")


def _history_section() -> rx.Component:
    return rx.vstack(
        rx.heading(t("Jäsenyyden tilahistoria", "Membership status history"), size="4",
                   margin_top="1em"),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(t("Aika", "Time")),
                rx.table.column_header_cell(t("Yhdistys", "Organisation")),
                rx.table.column_header_cell(t("Nro", "No.")),
                rx.table.column_header_cell(t("Muutos", "Change")),
                rx.table.column_header_cell(t("Syy", "Reason")),
                rx.table.column_header_cell(t("Kuka", "By")))),
            rx.table.body(rx.foreach(PersonState.history, lambda h: rx.table.row(
                rx.table.cell(h.at), rx.table.cell(h.organization),
                rx.table.cell(h.member_number), rx.table.cell(h.change),
                rx.table.cell(h.reason), rx.table.cell(h.actor)))),
            size="1", width="100%", id="status-history"),
        width="100%")


@admin_page("/admin/person", "henkilö / person", on_load=[PersonState.load])
def person_view() -> rx.Component:
    """Edit form on the left, memberships below."""
    return rx.vstack(
        rx.link(t("← Jäsenrekisteri", "← Member register"), href="/admin/members"),
        page_title(rx.text(PersonState.values["first_name"], " ",
                           PersonState.values["last_name"])),
        rx.form(
            rx.vstack(
                rx.grid(*[_field(f) for f in PERSON_FIELDS], columns=rx.breakpoints(
                    initial="1", md="2"), spacing="3", width="100%"),
                rx.hstack(
                    rx.button(t("Tallenna", "Save"), type="submit", id="save-person"),
                    rx.cond(PersonState.saved,
                            rx.text(t("Tallennettu", "Saved"), color_scheme="green",
                                    id="saved-note")),
                    align="center",
                ),
                width="100%",
            ),
            on_submit=PersonState.save, key=PersonState.person_id, width="100%",
        ),
        rx.heading(t("Jäsenyydet", "Memberships"), size="4", margin_top="1em"),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(t("Yhdistys", "Organisation")),
                rx.table.column_header_cell(t("Nro", "No.")),
                rx.table.column_header_cell(t("Jäsenlaji", "Type")),
                rx.table.column_header_cell(t("Alkaen", "Start")),
                rx.table.column_header_cell(t("Päättynyt", "End")),
                rx.table.column_header_cell(t("Tila", "Status")),
                rx.table.column_header_cell(""),
            )),
            rx.table.body(rx.foreach(PersonState.memberships, _membership_row)),
            size="1", width="100%",
        ),
        rx.form(
            rx.hstack(
                rx.text(t("Lisää jäseneksi:", "Add membership:"), " ", StaffState.org_name,
                        size="2"),
                rx.select.root(
                    rx.select.trigger(placeholder=t("Jäsenlaji", "Type")),
                    rx.select.content(rx.foreach(
                        PersonState.new_types, lambda o: rx.select.item(o.name, value=o.id))),
                    name="type_id",
                ),
                rx.input(name="start_date", placeholder="p.k.vvvv", width="9em"),
                rx.button(t("Lisää", "Add"), type="submit", variant="soft"),
                wrap="wrap", align="center",
            ),
            on_submit=PersonState.add_membership, reset_on_submit=True,
        ),
        rx.cond(PersonState.membership_error != "",
                rx.text(PersonState.membership_error, color_scheme="red", size="2")),
        _balance_section(),
        _custom_section(),
        _household_section(),
        _history_section(),
        spacing="3", width="100%", max_width="60em",
    )
