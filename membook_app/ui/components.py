"""Small reusable widgets: form fields with their error, stat lines, pagers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx


def field(label: rx.Var | str, name: str, value: rx.Var, error: rx.Var, *,
          type_: str = "text", read_only: bool | rx.Var = False,
          placeholder: str = "") -> rx.Component:
    """A labelled input with its validation message right below it."""
    return rx.box(
        rx.text(label, as_="label", size="2", weight="medium", html_for=name),
        rx.input(id=name, name=name, default_value=value, type=type_, read_only=read_only,
                 placeholder=placeholder, width="100%"),
        rx.cond(error != "", rx.text(error, color_scheme="red", size="1", id=f"{name}-error")),
        width="100%",
    )


def page_title(text: rx.Var | str) -> rx.Component:
    """The one heading of a page."""
    return rx.heading(text, size="6", margin_bottom="0.5em")


def pager(*total: rx.Var | str, page: rx.Var, pages: rx.Var,
          go_to: Callable[[Any], rx.event.EventSpec], id_prefix: str) -> rx.Component:
    """The total line (`total`: its texts) and ‹ page / pages › of a server-side paged
    table; `go_to` is the page state's guarded handler taking the page number."""
    return rx.hstack(
        rx.text(*total, id=f"{id_prefix}-total"),
        rx.spacer(),
        rx.button("‹", variant="soft", disabled=page <= 1, on_click=go_to(page - 1),
                  id=f"{id_prefix}-prev"),
        rx.text(page, " / ", pages),
        rx.button("›", variant="soft", disabled=page >= pages, on_click=go_to(page + 1),
                  id=f"{id_prefix}-next"),
        width="100%", align="center",
    )


def choice_select(value: rx.Var, options: dict[str, str],
                  on_change: Callable[[str], Any], *, all_label: str = "Kaikki / All",
                  id: str) -> rx.Component:
    """A filter select with an "all" choice (value "all") before `options` (key → label)."""
    return rx.select.root(
        rx.select.trigger(id=id),
        rx.select.content(rx.select.item(all_label, value="all"),
                          *[rx.select.item(label, value=key) for key, label in options.items()]),
        value=value, on_change=on_change,
    )
