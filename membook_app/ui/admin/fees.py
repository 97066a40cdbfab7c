"""Fee setup: the organisation's membership types, its fees per period, and the preview
"a member of type X in club Y pays club a €, district b €, federation c €"."""

from __future__ import annotations

import dataclasses
from datetime import date

import reflex as rx

from membook_app.billing.fees import (
    CATEGORIES,
    create_membership_type,
    delete_fee,
    fee_preview,
    list_fees,
    list_membership_types,
    set_fee,
    update_membership_type,
)
from membook_app.cli.refs import parse_euros
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.formatting import money
from membook_app.register.organizations import get_organization
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

nav_item("/admin/fees", "badge-euro", "Jäsenmaksut", "Fees", order=40)


@dataclasses.dataclass
class TypeView:
    id: int
    name: str
    category: str
    household: bool
    active: bool


@dataclasses.dataclass
class FeeView:
    id: int
    target: str
    amount: str


@dataclasses.dataclass
class Option:
    value: str
    label: str


@dataclasses.dataclass
class PreviewView:
    organization: str
    type_name: str
    shares: str
    total: str


def _category_label(key: str) -> str:
    fi, en = CATEGORIES.get(key, (key, key))
    return f"{fi} / {en}"


class FeesState(StaffState):
    period: str = str(date.today().year + 1)
    types: list[TypeView] = []
    fees: list[FeeView] = []
    targets: list[Option] = []
    preview: list[PreviewView] = []
    can_write: bool = False
    error: str = ""

    def _load(self) -> None:
        self.error = ""
        if not self.org_id:
            return
        actor = current_actor()
        org_id = int(self.org_id)
        with session_scope() as session:
            org = get_organization(session, org_id)
            self.can_write = actor.can("billing.write", org.path)
            types = list_membership_types(session, actor, org_id)
            names = {mt.id: mt.name for mt in types}
            self.types = [TypeView(mt.id, mt.name, _category_label(mt.category),  # type: ignore[arg-type]
                                   mt.household_priced, mt.active) for mt in types]
            self.fees = [
                FeeView(f.id, names.get(f.membership_type_id, "?") if f.membership_type_id  # type: ignore[arg-type]
                        else _category_label(f.category or ""), money(f.amount_cents))
                for f in list_fees(session, actor, org_id, self.period)]
            self.preview = [
                PreviewView(r.organization, r.type_name,
                            ", ".join(f"{s.organization} {money(s.amount_cents)}"
                                      for s in r.shares), money(r.total_cents))
                for r in fee_preview(session, actor, org_id, self.period)]
        self.targets = ([Option(f"type:{mt.id}", mt.name) for mt in self.types if mt.active]
                        + [Option(f"cat:{k}", f"Luokka / category: {_category_label(k)}")
                           for k in CATEGORIES])

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
    def set_period(self, value: str) -> None:
        self.period = value.strip()[:20]
        self._load()

    @rx.event
    @guarded("staff")
    def save_fee(self, form: dict[str, str]) -> None:
        """Set the fee of one type or category for the period."""
        target = form.get("target", "")
        try:
            cents = parse_euros(form.get("amount", ""))
        except ValueError:
            raise ValidationError("Anna summa euroina, esim. 25,00",
                                  "Give the amount in euros, e.g. 25.00", field="amount") from None
        kind, _, value = target.partition(":")
        if kind not in ("type", "cat") or not value or (kind == "type" and not value.isdigit()):
            raise ValidationError("Valitse jäsenlaji tai luokka", "Choose a type or category")
        with session_scope() as session:
            set_fee(session, current_actor(), organization_id=int(self.org_id or 0),
                    period=self.period, amount_cents=cents,
                    membership_type_id=int(value) if kind == "type" else None,
                    category=value if kind == "cat" else None)
        self._load()

    @rx.event
    @guarded("staff")
    def remove_fee(self, fee_id: int) -> None:
        with session_scope() as session:
            delete_fee(session, current_actor(), int(fee_id))
        self._load()

    @rx.event
    @guarded("staff")
    def add_type(self, form: dict[str, str]) -> None:
        """A new membership type for the selected organisation."""
        with session_scope() as session:
            create_membership_type(session, current_actor(), organization_id=int(self.org_id or 0),
                                   name=form.get("name", ""),
                                   category=form.get("category", "varsinainen"),
                                   household_priced=bool(form.get("household")))
        self._load()

    @rx.event
    @guarded("staff")
    def toggle_type(self, type_id: int) -> None:
        """Take a type out of use (or back); fees and history stay."""
        current = next((tv for tv in self.types if tv.id == int(type_id)), None)
        with session_scope() as session:
            update_membership_type(session, current_actor(), int(type_id),
                                   active=not current.active if current else True)
        self._load()


def _type_row(tv: TypeView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(tv.name), rx.table.cell(tv.category),
        rx.table.cell(rx.cond(tv.household, t("kyllä", "yes"), "")),
        rx.table.cell(rx.cond(tv.active, t("käytössä", "in use"), t("poistettu", "retired"))),
        rx.table.cell(rx.cond(FeesState.can_write, rx.button(
            rx.cond(tv.active, t("Poista käytöstä", "Retire"), t("Ota käyttöön", "Restore")),
            size="1", variant="soft", on_click=FeesState.toggle_type(tv.id)))),
    )


def _fee_row(f: FeeView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(f.target), rx.table.cell(f.amount, text_align="right"),
        rx.table.cell(rx.cond(FeesState.can_write, rx.button(
            t("Poista", "Delete"), size="1", variant="soft", color_scheme="red",
            on_click=FeesState.remove_fee(f.id)))),
    )


def _preview_row(p: PreviewView) -> rx.Component:
    return rx.table.row(rx.table.cell(p.organization), rx.table.cell(p.type_name),
                        rx.table.cell(p.shares), rx.table.cell(p.total, text_align="right"))


def _header(*labels: rx.Var) -> rx.Component:
    return rx.table.header(rx.table.row(*[rx.table.column_header_cell(x) for x in labels]))


@admin_page("/admin/fees", "jäsenmaksut / fees", on_load=[FeesState.load],
            on_org_change=FeesState.org_changed)
def fees_view() -> rx.Component:
    return rx.vstack(
        page_title(t("Jäsenmaksut", "Membership fees")),
        rx.hstack(
            rx.text(t("Kausi", "Period"), size="2"),
            rx.input(value=FeesState.period, on_change=FeesState.set_period.debounce(500),
                     id="fee-period", width="8em"),
            align="center",
        ),
        rx.heading(t("Mitä jäsen maksaa", "What a member pays"), size="4"),
        rx.table.root(
            _header(t("Yhdistys", "Organisation"), t("Jäsenlaji", "Type"),
                    t("Osuudet", "Shares"), t("Yhteensä", "Total")),
            rx.table.body(rx.foreach(FeesState.preview, _preview_row)),
            size="1", width="100%", id="fee-preview",
        ),
        rx.heading(t("Tämän yhdistyksen maksut", "This organisation's fees"), size="4"),
        rx.table.root(
            _header(t("Jäsenlaji tai luokka", "Type or category"), t("Summa", "Amount"),
                    rx.text("")),
            rx.table.body(rx.foreach(FeesState.fees, _fee_row)),
            size="1", id="fee-table",
        ),
        rx.cond(FeesState.can_write, rx.form(
            rx.hstack(
                rx.select.root(
                    rx.select.trigger(placeholder=t("Jäsenlaji tai luokka", "Type or category"),
                                      id="fee-target"),
                    rx.select.content(rx.foreach(
                        FeesState.targets, lambda o: rx.select.item(o.label, value=o.value))),
                    name="target",
                ),
                rx.input(name="amount", placeholder="25,00", width="8em", id="fee-amount"),
                rx.button(t("Tallenna maksu", "Save fee"), type="submit", id="save-fee"),
                wrap="wrap", align="center",
            ),
            on_submit=FeesState.save_fee, reset_on_submit=True,
        )),
        rx.heading(t("Jäsenlajit", "Membership types"), size="4"),
        rx.table.root(
            _header(t("Nimi", "Name"), t("Luokka", "Category"),
                    t("Kotitalous kerran", "Household once"), t("Tila", "Status"), rx.text("")),
            rx.table.body(rx.foreach(FeesState.types, _type_row)),
            size="1", id="type-table",
        ),
        rx.cond(FeesState.can_write, rx.form(
            rx.hstack(
                rx.input(name="name", placeholder=t("Uusi jäsenlaji", "New type"), id="type-name"),
                rx.select.root(
                    rx.select.trigger(placeholder=t("Luokka", "Category")),
                    rx.select.content(*[rx.select.item(_category_label(k), value=k)
                                        for k in CATEGORIES]),
                    name="category", default_value="varsinainen",
                ),
                rx.checkbox(t("Hinnoitellaan kotitaloudelle kerran", "Priced once per household"),
                            name="household"),
                rx.button(t("Lisää", "Add"), type="submit", variant="soft"),
                wrap="wrap", align="center",
            ),
            on_submit=FeesState.add_type, reset_on_submit=True,
        )),
        spacing="3", width="100%", max_width="70em",
    )
