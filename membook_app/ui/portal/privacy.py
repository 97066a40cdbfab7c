"""The member's data protection page (/portal/privacy): extra details the association shows
members, "download my data" (JSON, Excel) and a deletion request."""

from __future__ import annotations

import dataclasses

import reflex as rx

from membook_app.db import session_scope
from membook_app.formatting import fi_datetime
from membook_app.privacy.deletion_requests import my_requests, request_deletion
from membook_app.register.custom_fields import display_value, person_values
from membook_app.ui.guard import SessionState, current_actor, guarded
from membook_app.ui.i18n import lang_switch, t

STATUS = {"open": "avoin / open", "done": "tiedot poistettu / data removed",
          "rejected": "hylätty / rejected"}


@dataclasses.dataclass
class ExtraValue:
    label: str
    value: str


@dataclasses.dataclass
class MyRequest:
    requested: str
    status: str
    resolution: str


class _Kind:
    def __init__(self, kind: str) -> None:
        self.kind = kind


class PortalPrivacyState(SessionState):
    """Only the signed-in member's own data; the person id comes from the session."""

    extras: list[ExtraValue] = []
    requests: list[MyRequest] = []
    has_open: bool = False
    sent: bool = False

    def _load(self) -> None:
        actor = current_actor()
        with session_scope() as session:
            values = person_values(session, actor.person_id, member_only=True)  # type: ignore[arg-type]
            rows = my_requests(session, actor)
        self.extras = [ExtraValue(v.label, display_value(_Kind(v.kind), v.value) or "–")  # type: ignore[arg-type]
                       for v in values]
        self.requests = [MyRequest(fi_datetime(r.requested_at), STATUS.get(r.status, r.status),
                                   r.resolution or "") for r in rows]
        self.has_open = any(r.status == "open" for r in rows)

    @rx.event
    @guarded("member")
    def load(self) -> None:
        self.sent = False
        self._load()

    @rx.event
    @guarded("member")
    def request_deletion(self, form: dict[str, str]) -> None:
        """Ask the association to remove my data (one open request at a time)."""
        with session_scope() as session:
            request_deletion(session, current_actor(), str(form.get("message", ""))[:1000])
        self._load()
        self.sent = True


@rx.page(route="/portal/privacy", title="Membook – tietosuoja / data protection",
         on_load=PortalPrivacyState.load)
def portal_privacy_page() -> rx.Component:
    return rx.container(
        rx.vstack(
            rx.hstack(rx.link("← ", t("Omat tiedot", "My details"), href="/portal"),
                      rx.spacer(), lang_switch(), width="100%", align="center"),
            rx.heading(t("Tietosuoja", "Data protection"), size="6"),
            rx.card(rx.vstack(
                rx.heading(t("Lisätiedot", "Additional details"), size="4"),
                rx.cond(PortalPrivacyState.extras.length() == 0,
                        rx.text(t("Ei lisätietoja.", "No additional details."), size="2")),
                rx.foreach(PortalPrivacyState.extras, lambda e: rx.hstack(
                    rx.text(e.label, weight="medium"), rx.spacer(), rx.text(e.value),
                    width="100%")),
                width="100%"), width="100%"),
            rx.card(rx.vstack(
                rx.heading(t("Lataa omat tietosi", "Download my data"), size="4"),
                rx.text(t("Kaikki sinusta tallennetut tiedot: henkilötiedot, jäsenyydet, "
                          "laskut ja maksut.",
                          "Everything stored about you: details, memberships, invoices and "
                          "payments."), size="2"),
                rx.hstack(
                    rx.link(rx.button("JSON", size="3", variant="soft"),
                            href="/api/my-data.json", is_external=True, id="my-data-json"),
                    rx.link(rx.button("Excel (.xlsx)", size="3", variant="soft"),
                            href="/api/my-data.xlsx", is_external=True, id="my-data-xlsx"),
                ),
                width="100%"), width="100%"),
            rx.card(rx.vstack(
                rx.heading(t("Pyydä tietojesi poistamista", "Ask for your data to be removed"),
                           size="4"),
                rx.text(t("Yhdistys käsittelee pyynnön. Laskut ja maksut säilytetään "
                          "kirjanpitolain mukaan.",
                          "Your association handles the request. Invoices and payments are "
                          "kept as bookkeeping law requires."), size="2"),
                rx.cond(
                    PortalPrivacyState.has_open,
                    rx.text(t("Pyyntösi on käsittelyssä.", "Your request is being handled."),
                            color_scheme="green", id="deletion-pending"),
                    rx.form(rx.vstack(
                        rx.text_area(name="message", placeholder=t("Viesti (vapaaehtoinen)",
                                                                   "Message (optional)"),
                                     width="100%"),
                        rx.button(t("Lähetä poistopyyntö", "Send the deletion request"),
                                  type="submit", size="3", width="100%",
                                  id="request-deletion"),
                        width="100%"),
                        on_submit=PortalPrivacyState.request_deletion, width="100%"),
                ),
                rx.foreach(PortalPrivacyState.requests, lambda r: rx.text(
                    r.requested, " · ", r.status, " ", r.resolution, size="2")),
                width="100%"), width="100%"),
            spacing="4", width="100%", padding_y="1em",
        ),
        size="2",
    )
