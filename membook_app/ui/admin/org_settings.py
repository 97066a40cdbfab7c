"""Organisation settings (/admin/settings): plan and usage, retention rule with its dry run,
custom field definitions. And the unpaid-fees page (/admin/unpaid) where staff deem members
resigned, explicitly and with a reason."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.errors import FormErrors
from membook_app.formatting import fi_date, money, number
from membook_app.privacy.retention import dry_run, set_rule
from membook_app.register import custom_fields as cf
from membook_app.register.lifecycle import (
    apply_deemed_resigned,
    deemed_resigned_candidates,
    unpaid_periods,
)
from membook_app.register.limits import usage
from membook_app.register.organizations import get_organization
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

nav_item("/admin/unpaid", "user-x", "Maksamattomat", "Unpaid fees", order=60)
nav_item("/admin/settings", "settings", "Asetukset", "Settings", order=80)

DRY_RUN_SHOWN = 200


@dataclasses.dataclass
class UsageView:
    fi: str
    en: str
    text: str
    full: bool


@dataclasses.dataclass
class AffectedView:
    name: str
    last_end: str
    organizations: str


@dataclasses.dataclass
class FieldView:
    id: int
    key: str
    label: str
    kind: str
    choices: str
    required: bool
    visible: bool


def _truthy(value: object) -> bool:
    return value in (True, "on", "true", "1", "yes")


class SettingsState(StaffState):
    """What the selected organisation's plan allows, its retention rule and its fields."""

    can_manage: bool = False
    plan_name: str = ""
    plan_price: str = ""
    plan_fee: str = ""
    invoicing: bool = False
    usage_rows: list[UsageView] = []
    retention_years: str = ""
    retention_enabled: bool = False
    dry_run_years: str = ""
    dry_run_count: int = -1
    dry_run_rows: list[AffectedView] = []
    dry_run_held: str = ""
    rule_message: str = ""
    fields: list[FieldView] = []
    field_errors: dict[str, str] = {}
    edit_id: int = 0
    edit_label: str = ""
    edit_choices: str = ""

    def _load(self) -> None:
        actor = current_actor()
        self.dry_run_count, self.dry_run_rows, self.rule_message = -1, [], ""
        self.field_errors, self.edit_id = {}, 0
        if not self.org_id:
            return
        with session_scope() as session:
            org = get_organization(session, int(self.org_id))
            self.can_manage = actor.can("org.manage", org.path)
            if not self.can_manage:
                return
            plan = usage(session, org)
            self.plan_name = plan.plan_name
            self.plan_price = money(plan.monthly_price_cents)
            self.plan_fee = money(plan.transaction_fee_cents)
            self.invoicing = plan.invoicing_enabled
            self.usage_rows = [UsageView(x.fi, x.en, x.text(), x.full) for x in plan.lines]
            self.retention_years = "" if org.retention_years is None else str(org.retention_years)
            self.retention_enabled = org.retention_enabled
        self._load_fields()

    def _load_fields(self) -> None:
        """Only the field definitions (after a field change; the dry run stays on screen)."""
        self.field_errors, self.edit_id = {}, 0
        with session_scope() as session:
            self.fields = [
                FieldView(f.id, f.key, f.label, " / ".join(cf.KIND_LABELS.get(f.kind, (f.kind,))),  # type: ignore[arg-type]
                          ", ".join(f.choices or []), f.required, f.visible_to_member)
                for f in cf.list_fields(session, int(self.org_id))]

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self._load()

    @rx.event
    @guarded("staff")
    def set_years(self, value: str) -> None:
        """Typing the number of years (nothing is saved until "Save rule")."""
        self.retention_years = value.strip()[:3]

    @rx.event
    @guarded("staff")
    def set_enabled(self, value: bool) -> None:
        self.retention_enabled = bool(value)

    @rx.event
    @guarded("staff")
    def run_dry_run(self) -> None:
        """Who the rule would pseudonymise today; nothing is changed."""
        years = self.retention_years
        with session_scope() as session:
            report = dry_run(session, current_actor(), int(self.org_id or 0),
                             years or None)  # type: ignore[arg-type]
        self.dry_run_years = years
        self.dry_run_count = len(report.affected)
        self.dry_run_rows = [AffectedView(a.name, fi_date(a.last_end), a.organizations)
                             for a in report.affected[:DRY_RUN_SHOWN]]
        self.dry_run_held = f"{report.held_back_unpaid} / {report.held_back_household}"
        self.rule_message = ""

    @rx.event
    @guarded("staff")
    def save_rule(self) -> None:
        """Save the rule; switching it on needs a dry run of the same number of years first."""
        years, enabled = self.retention_years, self.retention_enabled
        if enabled and years != self.dry_run_years:
            self.rule_message = ("Tee ensin koeajo samalla säilytysajalla / "
                                 "Run the dry run with the same years first")
            return
        with session_scope() as session:
            org = set_rule(session, current_actor(), int(self.org_id or 0), years or None,
                           enabled)
            self.retention_enabled = org.retention_enabled
        self.rule_message = "Tallennettu / Saved"

    @rx.event
    @guarded("staff")
    def create_field(self, form: dict[str, str]) -> None:
        """Define a new custom field; messages appear beside the inputs."""
        data = {"key": form.get("key", ""), "label": form.get("label", ""),
                "kind": form.get("kind") or "text", "choices": form.get("choices", ""),
                "required": _truthy(form.get("required")),
                "visible_to_member": _truthy(form.get("visible_to_member"))}
        try:
            with session_scope() as session:
                cf.create_field(session, current_actor(), int(self.org_id or 0), data)
        except FormErrors as exc:
            self.field_errors = {k: str(e) for k, e in exc.errors.items()}
            return
        self._load_fields()

    @rx.event
    @guarded("staff")
    def toggle_required(self, field_id: int) -> None:
        self._toggle(int(field_id), "required")

    @rx.event
    @guarded("staff")
    def toggle_visible(self, field_id: int) -> None:
        self._toggle(int(field_id), "visible_to_member")

    def _toggle(self, field_id: int, flag: str) -> None:
        with session_scope() as session:
            field = cf.get_field(session, field_id)
            cf.update_field(session, current_actor(), field_id,
                            {flag: not getattr(field, flag)})
        self._load_fields()

    @rx.event
    @guarded("staff")
    def start_edit(self, field_id: int) -> None:
        for f in self.fields:
            if f.id == int(field_id):
                self.edit_id, self.edit_label, self.edit_choices = f.id, f.label, f.choices

    @rx.event
    @guarded("staff")
    def cancel_edit(self) -> None:
        self.edit_id = 0

    @rx.event
    @guarded("staff")
    def save_edit(self, form: dict[str, str]) -> None:
        """Rename a field or change a choice field's options."""
        # Choices are ignored for other kinds by the service.
        changes: dict[str, object] = {"label": form.get("label", ""),
                                      "choices": form.get("choices", "")}
        try:
            with session_scope() as session:
                cf.update_field(session, current_actor(), self.edit_id, changes)
        except FormErrors as exc:
            self.field_errors = {k: str(e) for k, e in exc.errors.items()}
            return
        self._load_fields()

    @rx.event
    @guarded("staff")
    def remove_field(self, field_id: int) -> None:
        """Remove a field and every value of it (audited)."""
        with session_scope() as session:
            cf.delete_field(session, current_actor(), int(field_id))
        self._load_fields()


def _usage_row(u: UsageView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(t(u.fi, u.en)),  # type: ignore[arg-type]
        rx.table.cell(rx.text(u.text, color_scheme=rx.cond(u.full, "red", "gray"),
                              weight="medium")),
    )


def _field_row(f: FieldView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.code(f.key)),
        rx.table.cell(f.label),
        rx.table.cell(f.kind),
        rx.table.cell(f.choices),
        rx.table.cell(rx.checkbox(checked=f.required,
                                  on_change=SettingsState.toggle_required(f.id))),
        rx.table.cell(rx.checkbox(checked=f.visible,
                                  on_change=SettingsState.toggle_visible(f.id))),
        rx.table.cell(rx.hstack(
            rx.button(t("Muokkaa", "Edit"), size="1", variant="soft",
                      on_click=SettingsState.start_edit(f.id)),
            rx.alert_dialog.root(
                rx.alert_dialog.trigger(rx.button(t("Poista", "Delete"), size="1",
                                                  variant="soft", color_scheme="red")),
                rx.alert_dialog.content(
                    rx.alert_dialog.title(t("Poistetaanko kenttä ja kaikki sen arvot?",
                                            "Delete the field and all its values?")),
                    rx.hstack(
                        rx.alert_dialog.cancel(rx.button(t("Peru", "Cancel"), variant="soft")),
                        rx.alert_dialog.action(rx.button(
                            t("Poista", "Delete"), color_scheme="red",
                            on_click=SettingsState.remove_field(f.id))),
                        justify="end"),
                ),
            ),
        )),
    )


def _error(name: str) -> rx.Component:
    return rx.cond(SettingsState.field_errors.get(name, "") != "",
                   rx.text(SettingsState.field_errors.get(name, ""), color_scheme="red",
                           size="1"))


def _plan_card() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(t("Paketti ja käyttö", "Plan and usage"), size="4"),
        rx.text(rx.text.strong(SettingsState.plan_name), " · ", SettingsState.plan_price,
                t(" / kk", " / month"), " · ", t("maksutapahtuman hinta ", "fee per payment "),
                SettingsState.plan_fee, id="plan-name"),
        rx.text(t("Laskutus: ", "Invoicing: "),
                rx.cond(SettingsState.invoicing, t("sisältyy", "included"),
                        t("ei sisälly", "not included"))),
        rx.table.root(rx.table.body(rx.foreach(SettingsState.usage_rows, _usage_row)),
                      size="1", id="plan-usage"),
        rx.text(t("Käyttö lasketaan yhdistykselle ja sen alayhdistyksille. Paketin vaihto: "
                  "ota yhteyttä palveluntarjoajaan.",
                  "Usage counts the organisation and its sub-organisations. To change plans, "
                  "contact the service provider."), size="1", color_scheme="gray"),
        width="100%"), width="100%")


def _retention_card() -> rx.Component:
    return rx.card(rx.vstack(
        rx.heading(t("Tietojen säilytys", "Data retention"), size="4"),
        rx.text(t("Henkilötiedot poistetaan (pseudonymisoidaan) N vuotta sen jälkeen, kun "
                  "henkilön kaikki jäsenyydet kaikissa yhdistyksissä ovat päättyneet ja "
                  "kunkin yhdistyksen sääntö sen sallii. Laskut ja maksut säilyvät "
                  "kirjanpitoa varten. Ilman omaa sääntöä noudatetaan ylemmän yhdistyksen "
                  "sääntöä.",
                  "Personal data is removed (pseudonymised) N years after all of a person's "
                  "memberships in every organisation have ended and each organisation's rule "
                  "allows it. Invoices and payments are kept for bookkeeping. Without a rule of "
                  "its own, an organisation follows its parent's."), size="2"),
        rx.hstack(
            rx.input(value=SettingsState.retention_years, on_change=SettingsState.set_years,
                     placeholder=t("vuotta", "years"), width="7em", id="retention-years"),
            rx.text(t("vuotta", "years"), size="2"),
            rx.checkbox(t("Käytössä", "Switched on"), checked=SettingsState.retention_enabled,
                        on_change=SettingsState.set_enabled, id="retention-enabled"),
            rx.button(t("Koeajo", "Dry run"), variant="soft", id="retention-dry-run",
                      on_click=SettingsState.run_dry_run),
            rx.button(t("Tallenna sääntö", "Save rule"), id="retention-save",
                      on_click=SettingsState.save_rule),
            align="center", wrap="wrap",
        ),
        rx.cond(SettingsState.rule_message != "",
                rx.text(SettingsState.rule_message, size="2", id="retention-message")),
        rx.cond(
            SettingsState.dry_run_count >= 0,
            rx.vstack(
                rx.text(t("Koeajo: sääntö poistaisi nyt ", "Dry run: the rule would now remove "),
                        rx.text.strong(SettingsState.dry_run_count),
                        t(" henkilön tiedot. Pidätetty (maksamaton lasku / kotitalous): ",
                          " people's data. Held back (unpaid invoice / household): "),
                        SettingsState.dry_run_held, id="dry-run-summary"),
                rx.table.root(
                    rx.table.header(rx.table.row(
                        rx.table.column_header_cell(t("Nimi", "Name")),
                        rx.table.column_header_cell(t("Viimeksi päättynyt", "Last ended")),
                        rx.table.column_header_cell(t("Yhdistykset", "Organisations")))),
                    rx.table.body(rx.foreach(SettingsState.dry_run_rows, lambda a: rx.table.row(
                        rx.table.cell(a.name), rx.table.cell(a.last_end),
                        rx.table.cell(a.organizations)))),
                    size="1", width="100%", id="dry-run-table"),
                width="100%"),
        ),
        width="100%"), width="100%")


def _fields_card() -> rx.Component:
    kinds = [("text", "Teksti / Text"), ("number", "Numero / Number"),
             ("date", "Päivämäärä / Date"), ("choice", "Valinta / Choice"),
             ("bool", "Kyllä/ei / Yes/no")]
    return rx.card(rx.vstack(
        rx.heading(t("Omat kentät", "Custom fields"), size="4"),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(t("Tunniste", "Key")),
                rx.table.column_header_cell(t("Nimi", "Label")),
                rx.table.column_header_cell(t("Tyyppi", "Kind")),
                rx.table.column_header_cell(t("Vaihtoehdot", "Choices")),
                rx.table.column_header_cell(t("Pakollinen", "Required")),
                rx.table.column_header_cell(t("Näkyy jäsenelle", "Shown to member")),
                rx.table.column_header_cell(""))),
            rx.table.body(rx.foreach(SettingsState.fields, _field_row)),
            size="1", width="100%", id="custom-fields-table"),
        rx.cond(SettingsState.edit_id != 0, rx.form(
            rx.hstack(
                rx.input(name="label", default_value=SettingsState.edit_label, width="14em"),
                rx.input(name="choices", default_value=SettingsState.edit_choices,
                         placeholder=t("vaihtoehdot pilkuin", "choices, comma-separated")),
                rx.button(t("Tallenna", "Save"), type="submit", size="1"),
                rx.button(t("Peru", "Cancel"), type="button", size="1", variant="soft",
                          on_click=SettingsState.cancel_edit),
                align="center", wrap="wrap"),
            on_submit=SettingsState.save_edit, key=SettingsState.edit_id)),
        rx.heading(t("Uusi kenttä", "New field"), size="3"),
        rx.form(
            rx.flex(
                rx.box(rx.input(name="key", placeholder=t("tunniste, esim. paitakoko",
                                                          "key, e.g. shirt_size")),
                       _error("key")),
                rx.box(rx.input(name="label", placeholder=t("nimi", "label")), _error("label")),
                rx.select.root(
                    rx.select.trigger(placeholder=t("Tyyppi", "Kind")),
                    rx.select.content(*[rx.select.item(label, value=v) for v, label in kinds]),
                    name="kind", default_value="text"),
                rx.box(rx.input(name="choices", placeholder=t("vaihtoehdot pilkuin",
                                                              "choices, comma-separated")),
                       _error("choices")),
                rx.checkbox(t("Pakollinen", "Required"), name="required"),
                rx.checkbox(t("Näkyy jäsenelle", "Shown to member"), name="visible_to_member"),
                rx.button(t("Lisää kenttä", "Add field"), type="submit", id="add-field"),
                gap="0.6em", wrap="wrap", align="center"),
            on_submit=SettingsState.create_field, reset_on_submit=True),
        width="100%"), width="100%")


@admin_page("/admin/settings", "asetukset / settings", on_load=[SettingsState.load],
            on_org_change=SettingsState.org_changed)
def settings_view() -> rx.Component:
    """Plan and usage, retention with its dry run, custom fields."""
    return rx.vstack(
        page_title(rx.text(t("Asetukset: ", "Settings: "), StaffState.org_name)),
        rx.cond(
            SettingsState.can_manage,
            rx.vstack(_plan_card(), _retention_card(), _fields_card(), spacing="4",
                      width="100%"),
            rx.text(t("Asetuksia hallinnoi yhdistyksen pääkäyttäjä.",
                      "The organisation's admins manage its settings."), id="settings-denied"),
        ),
        spacing="3", width="100%", max_width="70em",
    )


# ---------------------------------------------------------------- deemed resigned

@dataclasses.dataclass
class CandidateView:
    membership_id: int
    name: str
    member_number: str
    organization: str
    reference: str
    due_date: str
    open_amount: str


class UnpaidState(StaffState):
    """Members with an unpaid, overdue fee of a period; deemed resigned only on request."""

    periods: list[str] = []
    period: str = ""
    candidates: list[CandidateView] = []
    selected: list[int] = []
    message: str = ""

    def _load(self) -> None:
        self.candidates, self.selected = [], []
        if not self.org_id:
            return
        with session_scope() as session:
            actor = current_actor()
            self.periods = unpaid_periods(session, actor, int(self.org_id))
            if self.period not in self.periods:
                self.period = self.periods[0] if self.periods else ""
            if not self.period:
                return
            rows = deemed_resigned_candidates(session, actor, int(self.org_id), self.period)
        self.candidates = [CandidateView(c.membership_id, c.name, str(c.member_number),
                                         c.organization, c.invoice_reference,
                                         fi_date(c.due_date), money(c.open_cents))
                           for c in rows]

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        self.message = ""
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self.period, self.message = "", ""
        self._load()

    @rx.event
    @guarded("staff")
    def set_period(self, value: str) -> None:
        self.period = value[:20]
        self._load()

    @rx.event
    @guarded("staff")
    def toggle(self, membership_id: int, checked: bool) -> None:
        mid = int(membership_id)
        rest = [i for i in self.selected if i != mid]
        self.selected = [*rest, mid] if checked else rest

    @rx.event
    @guarded("staff")
    def select_all(self) -> None:
        self.selected = [c.membership_id for c in self.candidates]

    @rx.event
    @guarded("staff")
    def select_none(self) -> None:
        self.selected = []

    @rx.event
    @guarded("staff")
    def apply(self, form: dict[str, str]) -> None:
        """Deem the selected members resigned, with the reason given (logged and audited)."""
        with session_scope() as session:
            count = apply_deemed_resigned(session, current_actor(), int(self.org_id or 0),
                                          self.period, self.selected, form.get("reason", ""))
        self._load()
        self.message = f"{number(count)} katsottu eronneeksi / deemed resigned"


def _candidate_row(c: CandidateView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.checkbox(checked=UnpaidState.selected.contains(c.membership_id),
                                  on_change=lambda v: UnpaidState.toggle(c.membership_id, v))),
        rx.table.cell(c.member_number), rx.table.cell(c.name), rx.table.cell(c.organization),
        rx.table.cell(c.reference), rx.table.cell(c.due_date), rx.table.cell(c.open_amount),
    )


@admin_page("/admin/unpaid", "maksamattomat / unpaid", on_load=[UnpaidState.load],
            on_org_change=UnpaidState.org_changed)
def unpaid_view() -> rx.Component:
    """Candidates with an overdue fee of the chosen period; select, give a reason, apply."""
    return rx.vstack(
        page_title(t("Maksamattomat jäsenmaksut", "Unpaid membership fees")),
        rx.text(t("Jäsen katsotaan eronneeksi vain tästä, perustelun kanssa; mitään ei tapahdu "
                  "automaattisesti. Jokainen muutos kirjataan jäsenyyden historiaan ja "
                  "lokiin.",
                  "A member is deemed resigned only from here, with a reason; nothing happens "
                  "automatically. Every change is written to the membership's history and the "
                  "audit log."), size="2"),
        rx.hstack(
            rx.text(t("Kausi", "Period"), size="2"),
            rx.select(UnpaidState.periods, value=UnpaidState.period,
                      on_change=UnpaidState.set_period, id="unpaid-period"),
            rx.button(t("Valitse kaikki", "Select all"), size="1", variant="soft",
                      on_click=UnpaidState.select_all),
            rx.button(t("Tyhjennä", "Clear"), size="1", variant="soft",
                      on_click=UnpaidState.select_none),
            align="center", wrap="wrap"),
        rx.cond(UnpaidState.candidates.length() == 0,
                rx.text(t("Ei maksamattomia erääntyneitä jäsenmaksuja.",
                          "No unpaid overdue membership fees."), id="unpaid-empty")),
        rx.table.root(
            rx.table.header(rx.table.row(
                rx.table.column_header_cell(""),
                rx.table.column_header_cell(t("Nro", "No.")),
                rx.table.column_header_cell(t("Nimi", "Name")),
                rx.table.column_header_cell(t("Yhdistys", "Organisation")),
                rx.table.column_header_cell(t("Viite", "Reference")),
                rx.table.column_header_cell(t("Eräpäivä", "Due")),
                rx.table.column_header_cell(t("Avoinna", "Open")))),
            rx.table.body(rx.foreach(UnpaidState.candidates, _candidate_row)),
            size="1", width="100%", id="unpaid-table"),
        rx.form(
            rx.hstack(
                rx.input(name="reason", placeholder=t(
                    "Perustelu, esim. hallituksen päätös 20.5.2026",
                    "Reason, e.g. the board's decision of 20.5.2026"), min_width="24em"),
                rx.button(t("Katso valitut eronneiksi", "Deem the selected resigned"),
                          type="submit", color_scheme="red", id="apply-deemed",
                          disabled=UnpaidState.selected.length() == 0),
                align="center", wrap="wrap"),
            on_submit=UnpaidState.apply, reset_on_submit=True),
        rx.cond(UnpaidState.message != "", rx.text(UnpaidState.message, color_scheme="green",
                                                   id="unpaid-message")),
        spacing="3", width="100%", max_width="70em",
    )
