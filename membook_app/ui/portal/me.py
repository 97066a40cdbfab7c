"""My details (members may edit contact fields), my memberships and my balance: money on
my account (over-payments, payments to paid invoices) against what my open invoices ask."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.errors import FormErrors, NotFound
from membook_app.formatting import fi_date, money
from membook_app.payments.views import person_balance
from membook_app.register.people import MEMBER_EDITABLE, memberships_of, update_own_person
from membook_app.ui.admin.person import LABELS
from membook_app.ui.admin.register import STATUS_LABELS
from membook_app.ui.components import field
from membook_app.ui.guard import SessionState, current_actor, guarded
from membook_app.ui.i18n import lang_switch, t
from membook_app.ui.public.login import LoginState
from models import Person


@dataclasses.dataclass
class MyMembership:
    organization: str
    member_number: str
    type_name: str
    start_date: str
    status: str


class PortalState(SessionState):
    """Only the signed-in member's own record ever enters this state."""

    name: str = ""
    email: str = ""
    birth_date: str = ""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    saved: bool = False
    memberships: list[MyMembership] = []
    credit: str = ""
    open_total: str = ""
    net: str = ""
    owes: bool = False
    has_credit: bool = False

    def _fill(self, session, person: Person) -> None:  # type: ignore[no-untyped-def]
        # The id is the signed-in member's own (never the client's): person_balance lets
        # a member read only their own balance.
        balance = person_balance(session, current_actor(), person.id)  # type: ignore[arg-type]
        self.credit, self.open_total = money(balance.credit_cents), money(balance.open_cents)
        self.net, self.owes = money(abs(balance.net_cents)), balance.net_cents < 0
        self.has_credit = balance.credit_cents != 0
        self.name = f"{person.first_name} {person.last_name}"
        self.email = person.email or ""
        self.birth_date = fi_date(person.birth_date)
        self.values = {f: getattr(person, f) or "" for f in MEMBER_EDITABLE}
        self.memberships = [
            MyMembership(m.organization, str(m.member_number), m.type_name,
                         fi_date(m.start_date), STATUS_LABELS.get(m.status, m.status))
            for m in memberships_of(session, person.id)  # type: ignore[arg-type]
        ]

    @rx.event
    @guarded("member")
    def load(self) -> None:
        """Load the member's own record (the id comes from the session, never the client)."""
        self.errors, self.saved = {}, False
        with session_scope() as session:
            person = session.get(Person, current_actor().person_id)
            if person is None:
                raise NotFound("Henkilöä ei löydy", "Person not found")
            self._fill(session, person)

    @rx.event
    @guarded("member")
    def save(self, form: dict[str, str]) -> None:
        """Save the contact fields; only MEMBER_EDITABLE keys are ever passed on."""
        changes = {k: form[k] for k in MEMBER_EDITABLE if k in form}
        self.saved = False
        try:
            with session_scope() as session:
                person = update_own_person(session, current_actor(), changes)
                self._fill(session, person)
        except FormErrors as exc:
            self.errors = {k: str(e) for k, e in exc.errors.items()}
            return
        self.errors, self.saved = {}, True


def _field(name: str) -> rx.Component:
    return field(t(*LABELS[name]), name, PortalState.values[name],
                 PortalState.errors.get(name, ""))


def _balance_card() -> rx.Component:
    """Open invoices, credit on account and what that leaves, one line each (phone)."""
    return rx.card(rx.vstack(
        rx.heading(t("Saldo", "Balance"), size="4"),
        rx.hstack(rx.text(t("Avoimet laskut", "Open invoices")), rx.spacer(),
                  rx.text.strong(PortalState.open_total, id="portal-open"), width="100%"),
        rx.cond(PortalState.has_credit, rx.hstack(
            rx.text(t("Saldoa tilillä", "Credit on your account")), rx.spacer(),
            rx.text.strong(PortalState.credit, id="portal-credit"), width="100%")),
        rx.cond(
            PortalState.owes,
            rx.hstack(rx.text(t("Maksettavaa saldon jälkeen", "To pay after your credit")),
                      rx.spacer(), rx.text.strong(PortalState.net, id="portal-net"),
                      width="100%"),
            rx.text(t("Ei maksettavaa", "Nothing to pay"), color_scheme="green",
                    id="portal-nothing-due")),
        width="100%",
    ), width="100%", id="portal-balance")


@rx.page(route="/portal", title="Membook – omat tiedot / my details", on_load=PortalState.load)
def portal_page() -> rx.Component:
    """One column, large touch targets: members mostly come here on a phone."""
    return rx.container(
        rx.vstack(
            rx.hstack(rx.heading("Membook", size="5"), rx.spacer(), lang_switch(),
                      rx.color_mode.button(size="1", variant="ghost"),
                      rx.button(t("Kirjaudu ulos", "Sign out"), size="1", variant="soft",
                                on_click=LoginState.sign_out, id="portal-sign-out"),
                      width="100%", align="center"),
            rx.heading(PortalState.name, size="6", id="portal-name"),
            rx.hstack(
                rx.link(rx.button(rx.icon("receipt", size=16), t("Laskut", "Invoices"),
                                  variant="soft", size="3"),
                        href="/portal/invoices", id="portal-invoices-link"),
                rx.link(rx.button(rx.icon("shield", size=16), t("Tietosuoja", "Privacy"),
                                  variant="soft", size="3"),
                        href="/portal/privacy", id="portal-privacy-link"),
                wrap="wrap",
            ),
            rx.text(PortalState.email, " · ", t("syntynyt", "born"), " ", PortalState.birth_date,
                    color_scheme="gray", size="2"),
            _balance_card(),
            rx.card(rx.vstack(
                rx.heading(t("Omat tiedot", "My details"), size="4"),
                rx.form(
                    rx.vstack(
                        *[_field(f) for f in MEMBER_EDITABLE],
                        rx.button(t("Tallenna", "Save"), type="submit", width="100%",
                                  size="3", id="portal-save"),
                        rx.cond(PortalState.saved, rx.text(t("Tallennettu", "Saved"),
                                                           color_scheme="green",
                                                           id="portal-saved")),
                        width="100%",
                    ),
                    on_submit=PortalState.save, width="100%",
                ),
                rx.text(t("Nimen, sähköpostin ja syntymäajan muutokset tekee yhdistys.",
                          "Your association changes your name, email and birth date."),
                        size="1", color_scheme="gray"),
                width="100%",
            ), width="100%"),
            rx.card(rx.vstack(
                rx.heading(t("Jäsenyydet", "Memberships"), size="4"),
                rx.foreach(PortalState.memberships, lambda m: rx.box(
                    rx.text(m.organization, weight="medium"),
                    rx.text(m.type_name, " · ", t("jäsennro", "member no."), " ",
                            m.member_number, " · ", m.start_date, " · ", m.status, size="2"),
                    width="100%",
                )),
                width="100%",
            ), width="100%"),
            spacing="4", width="100%", padding_y="1em",
        ),
        size="2",
    )
