"""Server-side sign-in sessions behind opaque random tokens.

The browser only ever holds the random token; the database holds its
SHA-256, expiry and revocation, so sign-out and expiry are enforced here and
a client-writable cookie can never grant more than the token it carries.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, select

from membook_app.accounts.permissions import Actor, load_actor
from membook_app.settings import get_settings
from models import AuthSession, User, utcnow


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, client: str = "") -> str:
    """Open a session for a user who has proven who they are; returns the browser token."""
    token = secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(
        AuthSession(
            token_hash=_digest(token),
            user_id=user.id,
            expires_at=utcnow() + timedelta(hours=get_settings().session_hours),
            client=client[:100],
        )
    )
    user.last_login_at = utcnow()
    session.add(user)
    return token


def resolve_session(session: Session, token: str | None) -> Actor | None:
    """The actor behind a token, or None when it is unknown, expired, revoked or disabled."""
    if not token or len(token) > 200:
        return None
    row = session.exec(
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.token_hash == _digest(token))
    ).first()
    if row is None:
        return None
    auth, user = row
    if auth.revoked_at is not None or auth.expires_at <= utcnow() or not user.active:
        return None
    return load_actor(session, user)


def end_session(session: Session, token: str | None) -> None:
    """Revoke the session so the token is worthless even if it was copied."""
    if not token:
        return
    auth = session.exec(select(AuthSession).where(AuthSession.token_hash == _digest(token))).first()
    if auth is not None and auth.revoked_at is None:
        auth.revoked_at = utcnow()
        session.add(auth)
