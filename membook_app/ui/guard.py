"""The one guard every data handler passes, and the auth root state.

Any Reflex event handler can be called by anyone with any arguments, so the
browser's idea of "signed in" counts for nothing: each guarded call resolves
the opaque session token against the database, checks the kind of user, and
hands the handler an Actor through a context variable. The service the
handler calls then checks the very object touched (`Actor.require`).
A test walks all states and fails on any handler that is neither guarded
nor explicitly public.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import reflex as rx

from membook_app.accounts.permissions import Actor
from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope
from membook_app.errors import DomainError
from membook_app.settings import get_settings

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])
GUARD_ATTR = "__membook_guard__"
KINDS = ("user", "staff", "operator", "member")
_current_actor: ContextVar[Actor | None] = ContextVar("membook_actor", default=None)


def current_actor() -> Actor:
    """The actor of the running guarded handler; calling it elsewhere is a programming error."""
    actor = _current_actor.get()
    if actor is None:
        raise RuntimeError("current_actor() used outside a guarded handler")
    return actor


def public(fn: F) -> F:
    """Mark a handler that needs no sign-in (the sign-in form, the language switch)."""
    setattr(fn, GUARD_ATTR, "public")
    return fn


class SessionState(rx.State):
    """Auth root: holds only the opaque session token (a cookie the browser keeps)."""

    token: str = rx.Cookie(
        "", name="membook_session", same_site="strict", path="/",
        max_age=get_settings().session_hours * 3600,
    )

    def _resolve_actor(self) -> Actor | None:
        with session_scope() as session:
            return resolve_session(session, self.token)


def _refusal(actor: Actor | None, kind: str) -> Any | None:
    if actor is None:
        return rx.redirect("/login")
    if kind == "staff" and not actor.is_staff:
        return rx.redirect("/portal")
    if kind == "operator" and not actor.is_operator:
        return rx.toast.error("Ei oikeutta / Not allowed")
    if kind == "member" and actor.person_id is None:
        return rx.redirect("/admin")
    return None


def guarded(kind: str) -> Callable[[F], F]:
    """Guard a handler of a SessionState substate: sign-in, user kind, and domain errors.

    Put it under `@rx.event`. Handlers stay plain functions (not generators)
    so the actor's context variable is set exactly for the call.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown guard kind {kind!r}")

    def decorator(fn: F) -> F:
        if inspect.isasyncgenfunction(fn) or inspect.isgeneratorfunction(fn):
            raise TypeError(f"{fn.__qualname__}: guarded handlers must not be generators")

        @functools.wraps(fn)
        async def wrapper(self: SessionState, *args: Any, **kwargs: Any) -> Any:
            actor = self._resolve_actor()
            refusal = _refusal(actor, kind)
            if refusal is not None:
                log.info("refused %s for %s", fn.__qualname__,
                         actor.email if actor else "anonymous")
                return refusal
            marker = _current_actor.set(actor)
            try:
                result = fn(self, *args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                return result
            except DomainError as exc:
                return rx.toast.error(str(exc))
            finally:
                _current_actor.reset(marker)

        setattr(wrapper, GUARD_ATTR, kind)
        return wrapper  # type: ignore[return-value]

    return decorator
