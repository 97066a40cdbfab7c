"""Deletion requests (/admin/privacy): members' requests that admins see and resolve."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import fi_datetime
from membook_app.privacy.deletion_requests import list_requests, resolve_request
from membook_app.register.organizations import get_organization
from membook_app.ui.admin.shell import StaffState, admin_page, nav_item
from membook_app.ui.components import page_title
from membook_app.ui.guard import current_actor, guarded
from membook_app.ui.i18n import t

nav_item("/admin/privacy", "shield", "Tietosuoja", "Data protection", order=85)

STATUS = {"open": "avoin / open", "done": "poistettu / removed",
          "rejected": "hylätty / rejected"}


@dataclasses.dataclass
class RequestView:
    id: int
    person_id: int
    name: str
    organizations: str
    active: str
    requested: str
    message: str
    status: str
    is_open: bool
    resolution: str


class PrivacyAdminState(StaffState):
    can_manage: bool = False
    show_all: bool = False
    requests: list[RequestView] = []
    message: str = ""

    def _load(self) -> None:
        self.requests = []
        if not self.org_id:
            return
        actor = current_actor()
        with session_scope() as session:
            org = get_organization(session, int(self.org_id))
            self.can_manage = actor.can("org.manage", org.path)
            if not self.can_manage:
                return
            rows = list_requests(session, actor, org.id,  # type: ignore[arg-type]
                                 None if self.show_all else "open")
        self.requests = [RequestView(r.id, r.person_id, r.name, r.organizations,
                                     str(r.active_memberships), fi_datetime(r.requested_at),
                                     r.message, STATUS.get(r.status, r.status),
                                     r.status == "open", r.resolution) for r in rows]

    @rx.event
    @guarded("staff")
    def load(self) -> None:
        self.message = ""
        self._load()

    @rx.event
    @guarded("staff")
    def org_changed(self, _org_id: str = "") -> None:
        self._load()

    @rx.event
    @guarded("staff")
    def set_show_all(self, value: bool) -> None:
        self.show_all = bool(value)
        self._load()

    @rx.event
    @guarded("staff")
    def resolve(self, form: dict[str, str]) -> None:
        """Close a request: remove the data (pseudonymise) or reject it with a reason."""
        raw = str(form.get("request_id", ""))
        if not raw.isdigit():
            return
        with session_scope() as session:
            resolve_request(session, current_actor(), int(raw), form.get("outcome", ""),
                            form.get("resolution", ""))
        self._load()
        self.message = "Käsitelty / Resolved"


def _request_card(r: RequestView) -> rx.Component:
    return rx.card(rx.vstack(
        rx.hstack(
            rx.link(r.name, href=f"/admin/person?id={r.person_id}", weight="medium"),
            rx.badge(r.status), rx.spacer(), rx.text(r.requested, size="1"),
            width="100%", align="center"),
        rx.text(r.organizations, " · ", t("aktiivisia jäsenyyksiä ", "active memberships "),
                r.active, size="2", color_scheme="gray"),
        rx.cond(r.message != "", rx.blockquote(r.message, size="2")),
        rx.cond(r.is_open, rx.form(
            rx.hstack(
                rx.input(type="hidden", name="request_id", value=r.id.to_string()),
                rx.select.root(
                    rx.select.trigger(placeholder=t("Päätös", "Decision")),
                    rx.select.content(
                        rx.select.item("Poista tiedot (pseudonymisoi) / Remove the data",
                                       value="done"),
                        rx.select.item("Hylkää / Reject", value="rejected")),
                    name="outcome"),
                rx.input(name="resolution", placeholder=t("Perustelu / viesti jäsenelle",
                                                          "Reason / note to the member"),
                         min_width="20em"),
                rx.button(t("Käsittele", "Resolve"), type="submit", size="2"),
                wrap="wrap", align="center"),
            on_submit=PrivacyAdminState.resolve, reset_on_submit=True),
            rx.text(r.resolution, size="2")),
        width="100%"), width="100%")


@admin_page("/admin/privacy", "tietosuoja / data protection",
            on_load=[PrivacyAdminState.load], on_org_change=PrivacyAdminState.org_changed)
def privacy_view() -> rx.Component:
    """Open deletion requests first; removing keeps invoices and payments."""
    return rx.vstack(
        page_title(t("Tietosuoja: poistopyynnöt", "Data protection: deletion requests")),
        rx.cond(
            PrivacyAdminState.can_manage,
            rx.vstack(
                rx.text(t("Poisto korvaa nimen, poistaa yhteystiedot ja lisätiedot ja sulkee "
                          "käyttäjätilin; laskut ja maksut säilyvät kirjanpitoa varten. "
                          "Jäsenyydet on päätettävä ensin.",
                          "Removing replaces the name, deletes contact data and custom "
                          "fields and closes the account; invoices and payments stay for "
                          "bookkeeping. Memberships must be ended first."), size="2"),
                rx.hstack(rx.switch(checked=PrivacyAdminState.show_all,
                                    on_change=PrivacyAdminState.set_show_all),
                          rx.text(t("Näytä myös käsitellyt", "Show resolved too"), size="2"),
                          align="center"),
                rx.cond(PrivacyAdminState.requests.length() == 0,
                        rx.text(t("Ei poistopyyntöjä.", "No deletion requests."),
                                id="no-requests")),
                rx.foreach(PrivacyAdminState.requests, _request_card),
                rx.cond(PrivacyAdminState.message != "",
                        rx.text(PrivacyAdminState.message, color_scheme="green")),
                spacing="3", width="100%"),
            rx.text(t("Poistopyyntöjä käsittelee yhdistyksen pääkäyttäjä.",
                      "The organisation's admins handle deletion requests.")),
        ),
        spacing="3", width="100%", max_width="60em",
    )
