"""The Reflex app object and its routes — nothing else."""

import reflex as rx

from membook_app.api import api
from membook_app.ui.admin import outbox, person, register  # noqa: F401  (registers pages)
from membook_app.ui.portal import me  # noqa: F401
from membook_app.ui.public import home, login  # noqa: F401

app = rx.App(
    api_transformer=api,
    head_components=[rx.el.meta(name="viewport", content="width=device-width, initial-scale=1")],
)
