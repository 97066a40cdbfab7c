"""The one layout shell of every admin page: sidebar, header, organisation switcher.

`admin_page(...)` registers a route wrapped in the shell, the way the Reflex
dashboard template does, so every admin page gets the same navigation,
organisation switcher, user menu, language switch and colour mode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import reflex as rx

from membook_app.accounts.permissions import visible_organizations
from membook_app.db import session_scope
from membook_app.errors import PermissionDenied
from membook_app.ui.guard import SessionState, current_actor, guarded
from membook_app.ui.i18n import lang_switch, t
from membook_app.ui.public.login import LoginState


@dataclasses.dataclass
class OrgOption:
    id: str
    label: str


class StaffState(SessionState):
    """Who is signed in and which organisation the admin pages are looking at."""

    user_name: str = ""
    is_operator: bool = False
    org_id: str = ""
    org_name: str = ""
    orgs: list[OrgOption] = []

    @rx.event
    @guarded("staff")
    def load_shell(self) -> None:
        """Fill the switcher with the organisations the user's grants cover."""
        actor = current_actor()
        with session_scope() as session:
            orgs = visible_organizations(session, actor)
        self.user_name = actor.display_name
        self.is_operator = actor.is_operator
        self.orgs = [OrgOption(str(o.id), "\u2003" * (o.path.count("/") - 2) + o.name)
                     for o in orgs]
        ids = {o.id for o in self.orgs}
        if self.org_id not in ids and self.orgs:
            self.org_id = self.orgs[0].id
        self.org_name = next((o.label.strip() for o in self.orgs if o.id == self.org_id), "")

    @rx.event
    @guarded("staff")
    def select_org(self, org_id: str) -> None:
        """Switch organisation; only ones the grants cover are accepted."""
        actor = current_actor()
        with session_scope() as session:
            allowed = {str(o.id): o.name for o in visible_organizations(session, actor)}
        if org_id not in allowed:
            raise PermissionDenied()
        self.org_id = org_id
        self.org_name = allowed[org_id]


@dataclasses.dataclass(frozen=True)
class NavItem:
    href: str
    icon: str
    fi: str
    en: str
    order: int
    operator_only: bool


NAV: list[NavItem] = []


def nav_item(href: str, icon: str, fi: str, en: str, *, order: int,
             operator_only: bool = False) -> None:
    """Add a sidebar entry; each page module registers its own, in `order`."""
    if all(item.href != href for item in NAV):
        NAV.append(NavItem(href, icon, fi, en, order, operator_only))


nav_item("/admin/members", "users", "Jäsenrekisteri", "Member register", order=10)
nav_item("/admin/outbox", "mail", "Lähtevät viestit", "Outbox", order=900, operator_only=True)


def _nav_link(item: NavItem) -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon(item.icon, size=18), rx.text(t(item.fi, item.en)), spacing="2",
                  align="center"),
        href=item.href, underline="none", padding="0.4em 0.6em", border_radius="6px",
        width="100%", _hover={"background": rx.color("accent", 3)},
    )


def sidebar() -> rx.Component:
    """Navigation by capability; operator-only entries appear for operators."""
    items = []
    for item in sorted(NAV, key=lambda i: i.order):
        link = _nav_link(item)
        items.append(rx.cond(StaffState.is_operator, link) if item.operator_only else link)
    return rx.vstack(
        rx.heading("Membook", size="5", padding="0.4em 0.6em"),
        *items,
        spacing="1", width="14em", padding="1em", height="100vh", position="sticky", top="0",
        border_right=f"1px solid {rx.color('gray', 5)}",
        display=["none", "none", "flex"],
    )


def header(on_org_change: Callable[[], rx.EventSpec] | None) -> rx.Component:
    """Organisation switcher, language, colour mode and the user menu."""
    events = [StaffState.select_org]
    if on_org_change is not None:
        events.append(on_org_change)
    return rx.hstack(
        rx.select.root(
            rx.select.trigger(placeholder=t("Yhdistys", "Organisation"), id="org-switcher",
                              min_width="16em"),
            rx.select.content(rx.foreach(
                StaffState.orgs, lambda o: rx.select.item(o.label, value=o.id))),
            value=StaffState.org_id,
            on_change=events,
        ),
        rx.spacer(),
        lang_switch(),
        rx.color_mode.button(size="1", variant="ghost"),
        rx.menu.root(
            rx.menu.trigger(rx.button(rx.icon("user", size=16), StaffState.user_name,
                                      variant="soft", size="2", id="user-menu")),
            rx.menu.content(
                rx.menu.item(t("Kirjaudu ulos", "Sign out"), on_click=LoginState.sign_out,
                             id="sign-out"),
            ),
        ),
        width="100%", padding="0.6em 1em", align="center", wrap="wrap",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def admin_page(route: str, title: str, on_load: list | None = None,
               on_org_change: Callable[[], rx.EventSpec] | None = None):
    """Register an admin route wrapped in the shell; the shell loads before the page."""

    def decorator(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        def page() -> rx.Component:
            return rx.hstack(
                sidebar(),
                # min_width 0 lets the content column shrink beside the sidebar, so a
                # wide table scrolls in its own box instead of widening the page.
                rx.vstack(header(on_org_change), rx.box(content(), padding="1em", width="100%"),
                          width="100%", min_width="0", spacing="0"),
                spacing="0", width="100%", align="start",
            )

        page.__name__ = content.__name__
        rx.page(route=route, title=f"Membook – {title}",
                on_load=[StaffState.load_shell, *(on_load or [])])(page)
        return content

    return decorator
