"""Who is asking, for plain HTTP routes: the same opaque session cookie the UI uses."""

from __future__ import annotations

from starlette.requests import Request

from membook_app.accounts.permissions import Actor
from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope

SESSION_COOKIE = "membook_session"


def actor_from_request(request: Request) -> Actor | None:
    """The signed-in actor behind the request's session cookie, or None.

    The cookie is SameSite=Strict, so a cross-site page cannot make the
    browser send it; routes that change state still check the Origin.
    """
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    with session_scope() as session:
        return resolve_session(session, token)
