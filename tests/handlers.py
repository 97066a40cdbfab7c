"""Calling Reflex handlers in-process, as an attacker would over the socket.

The state tree is built without a server; the registered handler (the guarded
wrapper Reflex itself would run) is awaited with attacker-chosen arguments.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from membook_app.ui.guard import SessionState


def state_for(cls: type[rx.State], token: str) -> Any:
    """The state `cls` in a fresh tree whose session cookie holds `token`."""
    root = rx.State(_reflex_internal_init=True)  # type: ignore[call-arg]
    session = root.get_substate(SessionState.get_full_name().split(".")[1:])
    session.token = token
    return root.get_substate(cls.get_full_name().split(".")[1:])


async def call_handler(state: Any, handler: str, *args: Any) -> Any:
    """Run the handler exactly as registered (the guarded wrapper), inherited ones too."""
    for cls in type(state).__mro__:
        handlers = getattr(cls, "event_handlers", {})
        if handler in handlers:
            return await handlers[handler].fn(state, *args)
    raise KeyError(handler)


def is_refusal(result: Any) -> bool:
    """A redirect away or an error toast, never data."""
    text = repr(result)
    return "_redirect" in text or "toast" in text
