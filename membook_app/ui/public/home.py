"""The root address sends each visitor where they belong."""

from __future__ import annotations

import reflex as rx

from membook_app.ui.guard import SessionState, public


class HomeState(SessionState):
    @rx.event
    @public
    def route(self):
        """Signed-in staff to /admin, members to /portal, everyone else to /login."""
        actor = self._resolve_actor()
        if actor is None:
            return rx.redirect("/login")
        return rx.redirect("/admin" if actor.is_staff else "/portal")


@rx.page(route="/", title="Membook", on_load=HomeState.route)
def home_page() -> rx.Component:
    return rx.center(rx.spinner(), min_height="80vh")
