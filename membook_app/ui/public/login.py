"""Sign-in with password or one-time link, and sign-out."""

from __future__ import annotations

import reflex as rx

from membook_app.accounts.sessions import end_session, resolve_session
from membook_app.accounts.signin import (
    request_signin_link,
    sign_in_with_link,
    sign_in_with_password,
)
from membook_app.db import session_scope
from membook_app.errors import DomainError
from membook_app.ui.guard import SessionState, guarded, public
from membook_app.ui.i18n import lang_switch, t


def _landing(token: str) -> str:
    with session_scope() as session:
        actor = resolve_session(session, token)
    if actor is None:
        return "/login"
    return "/admin" if actor.is_staff else "/portal"


class LoginState(SessionState):
    """The sign-in forms; every handler here is public by nature."""

    error: str = ""
    info: str = ""
    busy: bool = False

    def _client(self) -> str:
        return self.router.session.client_ip or "unknown"

    @rx.event
    @public
    def sign_in(self, form: dict[str, str]):
        """Password sign-in; a failure is recorded (for the throttle) before it is shown."""
        self.error = self.info = ""
        failure: DomainError | None = None
        token = ""
        with session_scope() as session:
            try:
                token = sign_in_with_password(session, str(form.get("email", "")),
                                              str(form.get("password", "")), self._client())
            except DomainError as exc:
                failure = exc
        if failure is not None:
            self.error = str(failure)
            return None
        self.token = token
        return rx.redirect(_landing(token))

    @rx.event
    @public
    def send_link(self, form: dict[str, str]):
        """Queue a sign-in link; the answer is the same whether the address is known or not."""
        self.error = self.info = ""
        failure: DomainError | None = None
        with session_scope() as session:
            try:
                request_signin_link(session, str(form.get("email", "")), self._client())
            except DomainError as exc:
                failure = exc
        if failure is not None:
            self.error = str(failure)
            return None
        from tasks.mail import deliver_outbox

        deliver_outbox()
        self.info = ("Jos osoite on rekisterissä, lähetimme siihen kirjautumislinkin. "
                     "(If the address is registered, a sign-in link is on its way.)")
        return None

    @rx.event
    @public
    def use_link(self):
        """The landing page of an emailed link: burn the link, open a session."""
        link_token = self.router.url.query_parameters.get("token", "")
        failure: DomainError | None = None
        token = ""
        with session_scope() as session:
            try:
                token = sign_in_with_link(session, link_token, self._client())
            except DomainError as exc:
                failure = exc
        if failure is not None:
            self.error = str(failure)
            return None
        self.token = token
        return rx.redirect(_landing(token))

    @rx.event
    @guarded("user")
    def sign_out(self):
        """Revoke the session server-side, then forget the token."""
        with session_scope() as session:
            end_session(session, self.token)
        self.token = ""
        return rx.redirect("/login")


def _card(*children: rx.Component) -> rx.Component:
    return rx.center(
        rx.card(rx.vstack(*children, spacing="4", width="100%"), width="100%", max_width="26em"),
        padding="1em", min_height="90vh",
    )


@rx.page(route="/login", title="Membook – kirjaudu / sign in")
def login_page() -> rx.Component:
    """Password form first, the email link below it."""
    return _card(
        rx.hstack(rx.heading("Membook", size="7"), rx.spacer(), lang_switch(), width="100%"),
        rx.text(t("Kirjaudu sisään", "Sign in"), size="4", weight="medium"),
        rx.cond(LoginState.error != "",
                rx.callout(LoginState.error, color_scheme="red", id="login-error")),
        rx.cond(LoginState.info != "",
                rx.callout(LoginState.info, color_scheme="green", id="login-info")),
        rx.form(
            rx.vstack(
                rx.text(t("Sähköposti", "Email"), as_="label", html_for="email", size="2"),
                rx.input(id="email", name="email", type="email", required=True, width="100%",
                         auto_complete="username"),
                rx.text(t("Salasana", "Password"), as_="label", html_for="password", size="2"),
                rx.input(id="password", name="password", type="password", width="100%",
                         auto_complete="current-password"),
                rx.button(t("Kirjaudu", "Sign in"), type="submit", id="sign-in", width="100%"),
                width="100%",
            ),
            on_submit=LoginState.sign_in,
            width="100%",
        ),
        rx.divider(),
        rx.text(t("Ei salasanaa? Saat kertakäyttöisen kirjautumislinkin sähköpostiisi.",
                  "No password? Get a one-time sign-in link by email."), size="2"),
        rx.form(
            rx.hstack(
                rx.input(id="link-email", name="email", type="email", required=True,
                         placeholder="nimi@esimerkki.fi", width="100%"),
                rx.button(t("Lähetä linkki", "Send link"), type="submit", id="send-link",
                          variant="soft"),
                width="100%",
            ),
            on_submit=LoginState.send_link,
            reset_on_submit=True,
            width="100%",
        ),
    )


@rx.page(route="/login/link", title="Membook – kirjautumislinkki / sign-in link",
         on_load=LoginState.use_link)
def link_page() -> rx.Component:
    """Shown only while the link is checked, or when it was refused."""
    return _card(
        rx.heading("Membook", size="7"),
        rx.cond(LoginState.error != "",
                rx.vstack(rx.callout(LoginState.error, color_scheme="red", id="link-error"),
                          rx.link(t("Takaisin kirjautumiseen", "Back to sign-in"),
                                  href="/login")),
                rx.text(t("Kirjaudutaan…", "Signing in…"))),
    )
