"""The filter and paging handlers that the paged admin lists (payments, settlements) share.

A page's state mixes this in beside `StaffState`, names its filter fields in `FILTERS`
and implements `_load`. Every handler is guarded; what a list shows is still decided by
the domain query that `_load` runs with the current actor.
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from membook_app.ui.guard import guarded


class ListFiltersMixin(rx.State, mixin=True):
    """Page number, whitelisted text/select filters and the organisation scope switches."""

    FILTERS: ClassVar[tuple[str, ...]] = ()
    include_sub: bool = True
    all_orgs: bool = False
    page: int = 1
    pages: int = 1

    def _load(self) -> None:
        raise NotImplementedError

    @rx.event
    @guarded("staff")
    def set_filter(self, name: str, value: str) -> None:
        """One handler for the page's filters; a name not in FILTERS changes nothing."""
        if name not in self.FILTERS:
            return
        setattr(self, name, str(value)[:20])
        self.page = 1
        self._load()

    @rx.event
    @guarded("staff")
    def set_include_sub(self, value: bool) -> None:
        self.include_sub, self.page = bool(value), 1
        self._load()

    @rx.event
    @guarded("operator")
    def set_all_orgs(self, value: bool) -> None:
        self.all_orgs, self.page = bool(value), 1
        self._load()

    @rx.event
    @guarded("staff")
    def go_to_page(self, page: int) -> None:
        self.page = max(1, min(int(page), self.pages))
        self._load()
