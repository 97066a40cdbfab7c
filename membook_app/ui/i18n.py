"""Finnish first, English switchable: the language lives in the browser's local storage."""

from __future__ import annotations

import reflex as rx

from membook_app.ui.guard import public


class UiState(rx.State):
    """User-interface preferences that are nobody's secret (language)."""

    lang: str = rx.LocalStorage("fi", name="membook_lang", sync=True)

    @rx.event
    @public
    def set_lang(self, lang: str) -> None:
        """Switch between Finnish and English."""
        self.lang = "en" if lang == "en" else "fi"


def t(fi: str, en: str) -> rx.Var:
    """A text in the chosen language (compiled into the page as both)."""
    return rx.cond(UiState.lang == "en", en, fi)


def lang_switch() -> rx.Component:
    """FI / EN toggle shown in every header."""
    return rx.hstack(
        rx.button("FI", size="1", variant=rx.cond(UiState.lang == "en", "ghost", "soft"),
                  on_click=UiState.set_lang("fi")),
        rx.button("EN", size="1", variant=rx.cond(UiState.lang == "en", "soft", "ghost"),
                  on_click=UiState.set_lang("en")),
        spacing="1",
    )
