"""The paging and filter handlers that the paged admin lists share.

`PagingMixin` (register, invoices, and through `ListFiltersMixin` payments and
settlements): the page number and the subtree switch. `ListFiltersMixin` adds
whitelisted filters by name and the operator's every-organisation switch. A page's state
mixes one in beside `StaffState` and implements `_load`. Every handler is guarded; what a
list shows is still decided by the domain query that `_load` runs with the current actor.
"""

from __future__ import annotations

from typing import ClassVar

import reflex as rx

from membook_app.ui.guard import guarded


class PagingMixin(rx.State, mixin=True):
    """Page number and whether the sub-organisations are included."""

    include_sub: bool = True
    page: int = 1
    pages: int = 1

    def _load(self) -> None:
        raise NotImplementedError

    @rx.event
    @guarded("staff")
    def set_include_sub(self, value: bool) -> None:
        self.include_sub, self.page = bool(value), 1
        self._load()

    @rx.event
    @guarded("staff")
    def go_to_page(self, page: int) -> None:
        self.page = max(1, min(int(page), self.pages))
        self._load()


class ListFiltersMixin(PagingMixin, mixin=True):
    """Whitelisted text/select filters and the operator's every-organisation switch."""

    FILTERS: ClassVar[tuple[str, ...]] = ()
    all_orgs: bool = False

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
    @guarded("operator")
    def set_all_orgs(self, value: bool) -> None:
        self.all_orgs, self.page = bool(value), 1
        self._load()
