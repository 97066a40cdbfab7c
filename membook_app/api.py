"""The Starlette app mounted beside Reflex: the `ROUTES` of every `membook_app.web` module."""

from __future__ import annotations

import importlib
import pkgutil

from starlette.applications import Starlette
from starlette.routing import BaseRoute

import membook_app.web


def collect_routes() -> list[BaseRoute]:
    """Routes from all web modules; a new module needs no edit here."""
    routes: list[BaseRoute] = []
    for module_info in pkgutil.iter_modules(membook_app.web.__path__, "membook_app.web."):
        module = importlib.import_module(module_info.name)
        routes.extend(getattr(module, "ROUTES", []))
    return routes


api = Starlette(routes=collect_routes())
