"""The Reflex app object and its routes — nothing else.

Every module under `membook_app.ui` is imported so its `@rx.page` routes
and `admin_page` routes register themselves; a new page needs no edit here.
"""

import importlib
import pkgutil

import reflex as rx

import membook_app.ui
from membook_app.api import api

for _module in pkgutil.walk_packages(membook_app.ui.__path__, "membook_app.ui."):
    importlib.import_module(_module.name)

app = rx.App(
    api_transformer=api,
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1")],
)
