"""Small reusable widgets: form fields with their error, stat lines, pagers."""

from __future__ import annotations

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
