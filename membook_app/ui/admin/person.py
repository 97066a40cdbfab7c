"""A person's full record: edit form with messages next to the fields, memberships."""

from __future__ import annotations

import dataclasses
from datetime import date

import reflex as rx

from membook_app.db import session_scope
from membook_app.errors import FormErrors, ValidationError
from membook_app.formatting import fi_date
from membook_app.register import validation as v
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


class PersonState(StaffState):
    """The person being viewed; the id comes from the URL and is re-checked on every call."""

    person_id: int = 0
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    saved: bool = False
    memberships: list[MembershipView] = []
    new_types: list[TypeOption] = []
    membership_error: str = ""

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

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        """Open the record named in the URL; the opening itself is logged."""
        raw = self.router.url.query_parameters.get("id", "")
        self.errors, self.saved, self.membership_error = {}, False, ""
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
    def end(self, membership_id: int) -> None:
        """End a membership today as a resignation (eronnut)."""
        with session_scope() as session:
            end_membership(session, current_actor(), int(membership_id), end_date=date.today())
        with session_scope() as session:
            person = open_person_record(session, current_actor(), self.person_id)
            self._fill(session, person)


def _field(name: str) -> rx.Component:
    return field(t(*LABELS[name]), name, PersonState.values[name], PersonState.errors.get(name, ""))


def _membership_row(m: MembershipView) -> rx.Component:
    return rx.table.row(
        rx.table.cell(m.organization), rx.table.cell(m.member_number), rx.table.cell(m.type_name),
        rx.table.cell(m.start_date), rx.table.cell(m.end_date), rx.table.cell(m.status),
        rx.table.cell(rx.cond(m.active & m.can_write,
                              rx.button(t("Päätä", "End"), size="1", variant="soft",
                                        color_scheme="red", on_click=PersonState.end(m.id)))),
    )


@admin_page("/admin/person", "henkilö / person", on_load=[PersonState.load])
def person_view() -> rx.Component:
    """Edit form on the left, memberships below."""
    return rx.vstack(
        rx.link(t("← Jäsenrekisteri", "← Member register"), href="/admin"),
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
        spacing="3", width="100%", max_width="60em",
    )
