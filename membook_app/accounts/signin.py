"""Signing in: password or one-time link, with failures slowed down and logged.

Both ways end in `start_session`; both record a LoginAttempt so the same
throttle counts every failure for an email address and for a client.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from membook_app.accounts import tokens
from membook_app.accounts.passwords import hash_password, needs_rehash, verify_password
from membook_app.accounts.sessions import start_session
from membook_app.errors import DomainError, ValidationError
from membook_app.mail.outbox import queue_message
from membook_app.mail.templates import render
from membook_app.settings import get_settings
from models import LoginAttempt, OutboxMessage, Person, UsedToken, User, utcnow

log = logging.getLogger(__name__)

WINDOW = timedelta(minutes=15)
FREE_FAILURES_PER_EMAIL = 5
FREE_FAILURES_PER_CLIENT = 20
MAX_DELAY_SECONDS = 15 * 60
LINK_REQUESTS_PER_WINDOW = 5


class TooManyAttempts(DomainError):
    """Sign-in is paused for this email or client; `retry_after` seconds remain."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Liian monta epäonnistunutta yritystä. Yritä uudelleen {retry_after} s kuluttua.",
            f"Too many failed attempts. Try again in {retry_after} s.",
        )


def _delay_after(failures: int, free: int) -> int:
    """Exponential back-off once the free failures are used up: 1, 2, 4 ... s, capped."""
    if failures < free:
        return 0
    return int(min(MAX_DELAY_SECONDS, 2 ** (failures - free)))


def check_throttle(session: Session, email: str, client: str) -> None:
    """Refuse early when the email or the client has failed too often lately."""
    since = utcnow() - WINDOW
    for column, value, free in (
        (LoginAttempt.email, email, FREE_FAILURES_PER_EMAIL),
        (LoginAttempt.client, client, FREE_FAILURES_PER_CLIENT),
    ):
        if not value:
            continue
        count, last = session.exec(
            select(func.count(), func.max(LoginAttempt.at)).where(
                column == value, LoginAttempt.success.is_(False), LoginAttempt.at >= since
            )
        ).one()
        delay = _delay_after(count, free)
        if delay and last is not None:
            remaining = (last + timedelta(seconds=delay) - utcnow()).total_seconds()
            if remaining > 0:
                raise TooManyAttempts(math.ceil(remaining))


def _record(session: Session, email: str, client: str, success: bool, method: str) -> None:
    session.add(LoginAttempt(email=email, client=client[:100], success=success, method=method))
    if not success:
        log.warning("failed sign-in (%s) for %r from %r", method, email, client)


def normalise_email(email: str) -> str:
    """Emails are compared lower-cased and trimmed; the login is case-insensitive."""
    return email.strip().lower()


def sign_in_with_password(session: Session, email: str, password: str, client: str = "") -> str:
    """Check the password and open a session; the same message for every failure.

    The caller must commit even when this raises, so that the failed attempt
    is recorded (the throttle depends on it).
    """
    email = normalise_email(email)
    check_throttle(session, email, client)
    user = session.exec(select(User).where(User.email == email)).first()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        _record(session, email, client, False, "password")
        raise ValidationError("Väärä sähköposti tai salasana", "Wrong email or password")
    if needs_rehash(user.password_hash or ""):
        user.password_hash = hash_password(password)
    _record(session, email, client, True, "password")
    return start_session(session, user, client)


def _user_for_email(session: Session, email: str) -> User | None:
    """The user behind an email; a member whose person record has it gets a user on first use."""
    user = session.exec(select(User).where(User.email == email)).first()
    if user is not None:
        return user
    person = session.exec(select(Person).where(Person.email == email)).first()
    if person is None:
        return None
    user = User(email=email, person_id=person.id, language=person.language,
                display_name=f"{person.first_name} {person.last_name}")
    session.add(user)
    session.flush()
    return user


def request_signin_link(session: Session, email: str, client: str = "") -> OutboxMessage | None:
    """Queue a one-time sign-in link (15 min) if the address is known.

    The caller shows the same answer either way, so the form cannot be used
    to find out who is a member.
    """
    email = normalise_email(email)
    check_throttle(session, email, client)
    recent = session.exec(
        select(func.count()).where(
            LoginAttempt.email == email,
            LoginAttempt.method == "link-request",
            LoginAttempt.at >= utcnow() - WINDOW,
        )
    ).one()
    if recent >= LINK_REQUESTS_PER_WINDOW:
        raise TooManyAttempts(int(WINDOW.total_seconds()))
    session.add(LoginAttempt(email=email, client=client[:100], success=True, method="link-request"))
    user = _user_for_email(session, email)
    if user is None or not user.active:
        log.info("sign-in link requested for unknown address %r", email)
        return None
    settings = get_settings()
    token = tokens.issue("signin", user.email, settings.signin_link_minutes * 60)
    link = f"{settings.base_url.rstrip('/')}/login/link?token={token}"
    subject, text, html = render(
        "signin_link", user.language, link=link, minutes=settings.signin_link_minutes
    )
    return queue_message(session, to=user.email, subject=subject, text=text, html=html,
                         kind="signin_link")


def sign_in_with_link(session: Session, token: str, client: str = "") -> str:
    """Use a sign-in link once: its id is burnt in the same transaction as the session opens."""
    try:
        claims = tokens.read(token, "signin")
    except ValidationError:
        _record(session, "", client, False, "link")
        raise
    email = str(claims["sub"])
    check_throttle(session, email, client)
    user = session.exec(select(User).where(User.email == email)).first()
    if user is None or not user.active:
        _record(session, email, client, False, "link")
        raise ValidationError("Linkki on virheellinen tai vanhentunut",
                              "The link is invalid or has expired")
    try:
        with session.begin_nested():
            session.add(UsedToken(jti=str(claims["jti"])))
    except IntegrityError:
        _record(session, email, client, False, "link")
        raise ValidationError("Linkki on jo käytetty", "The link has already been used") from None
    _record(session, email, client, True, "link")
    return start_session(session, user, client)
