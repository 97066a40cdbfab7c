"""Reminders (/admin/reminders): the organisation's rule, the overdue list, Excel export.

The rule is applied every banking day by the worker; "Send reminders now" applies it
at once for the selected organisation (never twice per invoice and reminder number).
The overdue list is paged server-side; the export writes the whole filtered list.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import reflex as rx

from membook_app.billing import reminders
from membook_app.billing.delivery import DELIVERY_CHUNK
from membook_app.billing.invoice_view import printed_reference
from membook_app.db import session_scope
from membook_app.errors import FormErrors, ValidationError
from membook_app.formatting import fi_date, money, number
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

EXPORT_MAX_ROWS = 20_000  # rx.download sends the file over the websocket

nav_item("/admin/reminders", "bell", "Muistutukset", "Reminders", order=54)


@dataclasses.dataclass
class OverdueView:
    invoice_id: int
    reference: str
    payer: str
    email: str
    organization: str
    due_date: str
    days: str
    open_amount: str
    reminders: str


def _euros_to_cents(text: str) -> int:
    """'5', '5,00', '4.50 €' → cents; ValueError for anything else."""
    cleaned = text.replace("€", "").replace("\xa0", "").replace(" ", "").replace(",", ".")
    euros, _, cents = cleaned.partition(".")
    if not euros.isdigit() or (cents and not (cents.isdigit() and len(cents) <= 2)):
        raise ValueError(text)
    return int(euros) * 100 + int((cents or "0").ljust(2, "0"))


class RemindersState(StaffState):
    enabled: bool = False
    first_days: str = "14"
    second_days: str = "28"
    fee: str = "5,00"
    rule_saved: bool = False
    errors: dict[str, str] = {}
    notice: str = ""
    # the overdue list
    search: str = ""
    reminder_filter: str = "any"
    min_days: str = "0"
    include_sub: bool = True
    page: int = 1
    pages: int = 1
    total: int = 0
    open_total: str = ""
    rows: list[OverdueView] = []

    @rx.var
    def total_text(self) -> str:
        return number(self.total)

    def _query(self, **changes: object) -> reminders.OverdueQuery:
        return reminders.OverdueQuery(
            organization_id=int(self.org_id), include_suborganizations=self.include_sub,
            min_days=int(self.min_days) if self.min_days.isdigit() else 0,
            reminders=self.reminder_filter, search=self.search[:100], page=self.page,
            **changes)  # type: ignore[arg-type]

    def _load_list(self) -> None:
        if not self.org_id:
            return
        with session_scope() as session:
            result = reminders.overdue_page(session, current_actor(), self._query())
        self.total, self.pages, self.page = result.total, result.pages, result.page
        self.open_total = money(result.open_cents)
        self.rows = [OverdueView(r.invoice_id, printed_reference(r.reference), r.payer, r.email,
                                 r.organization, fi_date(r.due_date), str(r.days_overdue),
                                 money(r.open_cents), str(r.reminders)) for r in result.rows]

    def _load_rule(self) -> None:
        if not self.org_id:
            return
        with session_scope() as session:
            rule = reminders.get_rule(session, current_actor(), int(self.org_id))
        self.enabled, self.first_days = rule.enabled, str(rule.first_after_days)
        self.second_days = "" if rule.second_after_days is None else str(rule.second_after_days)
        self.fee = money(rule.fee_cents).replace("\xa0€", "")
        self.rule_saved, self.errors = rule.saved, {}

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        self._load_rule()
        self._load_list()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self.page, self.notice = 1, ""
        self._load_rule()
        self._load_list()

    @rx.event
    @guarded("staff")
    def save_rule(self, form: dict) -> None:  # type: ignore[type-arg]
        """Store the rule; messages appear beside the fields."""
        errors: dict[str, str] = {}
        values: dict[str, int | None] = {}
        for key, text, optional in (("first_after_days", form.get("first_days", ""), False),
                                    ("second_after_days", form.get("second_days", ""), True)):
            text = str(text).strip()
            if optional and not text:
                values[key] = None
            elif text.isdigit():
                values[key] = int(text)
            else:
                errors[key] = "Anna päivien määrä / Enter a number of days"
        try:
            fee_cents = _euros_to_cents(str(form.get("fee", "")).strip() or "0")
        except ValueError:
            errors["fee_cents"] = "Anna summa euroina, esim. 5,00 / Enter euros, e.g. 5.00"
            fee_cents = 0
        if errors:
            self.errors = errors
            return
        try:
            with session_scope() as session:
                reminders.save_rule(
                    session, current_actor(), int(self.org_id), enabled=bool(form.get("enabled")),
                    first_after_days=values["first_after_days"] or 0,
                    second_after_days=values["second_after_days"], fee_cents=fee_cents)
        except FormErrors as exc:
            self.errors = {k: f"{e.fi} / {e.en}" for k, e in exc.errors.items()}
            return
        self._load_rule()
        self.notice = "Tallennettu / Saved"

    @rx.event
    @guarded("staff")
    def send_now(self) -> None:
        """Apply the rule today for this organisation and queue the messages."""
        if not self.org_id:
            raise ValidationError("Valitse yhdistys", "Choose an organisation")
        with session_scope() as session:
            result = reminders.apply_reminders(session, date.today(),
                                               organization_id=int(self.org_id),
                                               actor=current_actor())
        from tasks.invoice_mail import deliver_mail_chunk

        ids = list(result.message_ids)
        for start in range(0, len(ids), DELIVERY_CHUNK):
            deliver_mail_chunk(ids[start:start + DELIVERY_CHUNK])
        self.notice = (f"Muistutuksia: {result.first + result.second} (sähköpostilla "
                       f"{result.mailed}, paperilla {result.without_email}) / Reminders: "
                       f"{result.first + result.second}")
        self._load_list()

    @rx.event
    @guarded("staff")
    def set_search(self, value: str) -> None:
        self.search, self.page = value[:100], 1
        self._load_list()

    @rx.event
    @guarded("staff")
    def set_reminder_filter(self, value: str) -> None:
        self.reminder_filter = value if value in ("any", "none", "first", "second") else "any"
        self.page = 1
        self._load_list()

    @rx.event
    @guarded("staff")
    def set_min_days(self, value: str) -> None:
        self.min_days, self.page = (value if value.isdigit() else "0"), 1
        self._load_list()

    @rx.event
    @guarded("staff")
    def set_include_sub(self, value: bool) -> None:
        self.include_sub, self.page = bool(value), 1
        self._load_list()

    @rx.event
    @guarded("staff")
    def go_to_page(self, page: int) -> None:
        self.page = max(1, min(int(page), self.pages))
        self._load_list()

    @rx.event
    @guarded("staff")
    def export(self):  # type: ignore[no-untyped-def]
        """The whole filtered list as Excel (small enough for the websocket)."""
        actor = current_actor()
        with session_scope() as session:
            count = reminders.overdue_page(session, actor, self._query(page_size=1)).total
            if count > EXPORT_MAX_ROWS:
                raise ValidationError("Liian monta riviä: rajaa hakua",
                                      "Too many rows: narrow the filters")
            data = reminders.overdue_workbook(session, actor, self._query())
        return rx.download(data=data, filename=f"erääntyneet-{date.today().isoformat()}.xlsx")


def _error(key: str) -> rx.Component:
    return rx.cond(RemindersState.errors.contains(key),
                   rx.text(RemindersState.errors[key], color_scheme="red", size="1",
                           id=f"{key}-error"))


def rule_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.hstack(rx.checkbox(name="enabled", default_checked=RemindersState.enabled,
                                  id="rule-enabled", key=RemindersState.enabled.to_string()),
                      rx.text(t("Muistutukset käytössä", "Reminders on")), align="center"),
            rx.flex(
                rx.box(rx.text(t("1. muistutus, päivää eräpäivästä",
                                 "1st reminder, days after due"), size="2"),
                       rx.input(name="first_days", default_value=RemindersState.first_days,
                                key=RemindersState.first_days, id="rule-first"),
                       _error("first_after_days")),
                rx.box(rx.text(t("2. muistutus (tyhjä = ei)", "2nd reminder (empty = none)"),
                               size="2"),
                       rx.input(name="second_days", default_value=RemindersState.second_days,
                                key=RemindersState.second_days, id="rule-second"),
                       _error("second_after_days")),
                rx.box(rx.text(t("Muistutusmaksu € (0–5)", "Reminder fee € (0–5)"), size="2"),
                       rx.input(name="fee", default_value=RemindersState.fee,
                                key=RemindersState.fee, id="rule-fee"),
                       _error("fee_cents")),
                gap="1em", wrap="wrap",
            ),
            rx.button(t("Tallenna sääntö", "Save the rule"), type="submit", id="rule-save"),
        ),
        on_submit=RemindersState.save_rule,
    )


def _row(r: OverdueView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(r.reference), rx.table.cell(r.payer), rx.table.cell(r.email),
        rx.table.cell(r.organization), rx.table.cell(r.due_date), rx.table.cell(r.days),
        rx.table.cell(r.open_amount), rx.table.cell(r.reminders),
    )


def overdue_list() -> rx.Component:
    headers = [t("Viite", "Reference"), t("Maksaja", "Payer"), t("Sähköposti", "Email"),
               t("Yhdistys", "Organisation"), t("Eräpäivä", "Due"), t("Päiviä", "Days"),
               t("Avoinna", "Open"), t("Muistutuksia", "Reminders")]
    return rx.vstack(
        rx.flex(
            rx.input(placeholder="Hae nimellä, sähköpostilla tai viitteellä / Search",
                     value=RemindersState.search,
                     on_change=RemindersState.set_search.debounce(300), id="overdue-search",
                     min_width="16em", flex="1"),
            rx.select.root(
                rx.select.trigger(id="overdue-reminders"),
                rx.select.content(
                    rx.select.item("Kaikki / All", value="any"),
                    rx.select.item("Ei muistutettu / Not reminded", value="none"),
                    rx.select.item("1 muistutus / 1 reminder", value="first"),
                    rx.select.item("2 muistutusta / 2 reminders", value="second"),
                ),
                value=RemindersState.reminder_filter, on_change=RemindersState.set_reminder_filter,
            ),
            rx.input(placeholder=t("Vähintään päivää myöhässä", "At least days overdue"),
                     value=RemindersState.min_days, width="6em", id="overdue-min-days",
                     on_change=RemindersState.set_min_days.debounce(400)),
            rx.hstack(rx.switch(checked=RemindersState.include_sub,
                                on_change=RemindersState.set_include_sub),
                      rx.text(t("Alayhdistykset", "Sub-organisations"), size="2"),
                      align="center"),
            rx.button(t("Vie Exceliin", "Export to Excel"), on_click=RemindersState.export,
                      variant="soft", id="overdue-export"),
            gap="0.75em", wrap="wrap", align="center", width="100%",
        ),
        rx.text(RemindersState.total_text, " ", t("erääntynyttä laskua, avoinna",
                                                  "overdue invoices, open"), " ",
                RemindersState.open_total, id="overdue-total", size="2"),
        rx.table.root(
            rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
            rx.table.body(rx.foreach(RemindersState.rows, _row)),
            size="1", width="100%", id="overdue-table",
        ),
        rx.hstack(
            rx.button("‹", on_click=RemindersState.go_to_page(RemindersState.page - 1),
                      disabled=RemindersState.page <= 1, variant="soft", size="1"),
            rx.text(RemindersState.page.to_string(), " / ", RemindersState.pages.to_string(),
                    size="2"),
            rx.button("›", on_click=RemindersState.go_to_page(RemindersState.page + 1),
                      disabled=RemindersState.page >= RemindersState.pages, variant="soft",
                      size="1"),
            align="center",
        ),
        width="100%",
    )


@admin_page("/admin/reminders", "muistutukset / reminders", on_load=[RemindersState.load],
            on_org_change=RemindersState.org_changed)
def reminders_view() -> rx.Component:
    return rx.vstack(
        page_title(t("Maksumuistutukset", "Payment reminders")),
        rx.card(rule_form(), width="100%"),
        rx.hstack(
            rx.button(t("Lähetä muistutukset nyt", "Send reminders now"),
                      on_click=RemindersState.send_now, id="reminders-send", variant="outline"),
            rx.text(RemindersState.notice, size="2", id="reminders-notice"),
            align="center",
        ),
        rx.heading(t("Erääntyneet laskut", "Overdue invoices"), size="4"),
        overdue_list(),
        spacing="4", width="100%",
    )
