"""Signing in, sessions, sign-in links and permissions, on SQLite and PostgreSQL.

Every call goes through the real services in its own unit of work, committed
the way the login page commits: failures too, so the throttle sees them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import Session, func, select

from membook_app.accounts import tokens
from membook_app.accounts.permissions import ACTION_ROLES, Actor, Grant, visible_organizations
from membook_app.accounts.sessions import end_session, resolve_session
from membook_app.accounts.signin import (
    FREE_FAILURES_PER_EMAIL,
    LINK_REQUESTS_PER_WINDOW,
    TooManyAttempts,
    request_signin_link,
    sign_in_with_link,
    sign_in_with_password,
)
from membook_app.db import get_engine, session_scope
from membook_app.errors import PermissionDenied, ValidationError
from membook_app.settings import get_settings
from models import AuthSession, LoginAttempt, Organization, OutboxMessage, User
from tests.factories import PASSWORD, make_member, make_staff, make_tree

T = TypeVar("T")
BASE_URL = "http://127.0.0.1:3999"  # what conftest sets


def committed(url: str, call: Callable[[Session], T]) -> T:
    """Run a service call and commit whether it succeeds or raises (as the login page does)."""
    session = Session(get_engine(url), expire_on_commit=False)
    try:
        return call(session)
    finally:
        session.commit()
        session.close()


def attempts(url: str, email: str) -> list[tuple[bool, str]]:
    with session_scope(url) as s:
        rows = s.exec(select(LoginAttempt).where(LoginAttempt.email == email)
                      .order_by(LoginAttempt.id)).all()
        return [(a.success, a.method) for a in rows]


def outbox(url: str) -> list[OutboxMessage]:
    with session_scope(url) as s:
        return list(s.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all())


def link_token(message: OutboxMessage) -> str:
    """The token from the link in the message; the link must be on our base URL."""
    link = next(word for word in message.text_body.split() if "/login/link?" in word)
    parsed = urlparse(link)
    assert f"{parsed.scheme}://{parsed.netloc}" == BASE_URL
    assert parsed.path == "/login/link"
    assert f'href="{link}"' in (message.html_body or "")
    return parse_qs(parsed.query)["token"][0]


# --- password ---------------------------------------------------------------------------


def test_password_sign_in_opens_a_session(db_url: str) -> None:
    tree = make_tree(db_url)
    make_staff(db_url, "rahis@example.fi", tree.club_a, "treasurer")
    token = committed(db_url, lambda s: sign_in_with_password(s, "  Rahis@Example.FI ",
                                                               PASSWORD, "10.0.0.1"))
    assert len(token) >= 40
    with session_scope(db_url) as s:
        actor = resolve_session(s, token)
        assert actor is not None
        assert actor.email == "rahis@example.fi"
        assert [(g.organization_id, g.role) for g in actor.grants] == [(tree.club_a, "treasurer")]
        user = s.exec(select(User).where(User.email == "rahis@example.fi")).one()
        assert user.last_login_at is not None
        stored = s.exec(select(AuthSession.token_hash).where(AuthSession.user_id == user.id)).all()
        assert token not in stored  # only the digest is stored
    assert attempts(db_url, "rahis@example.fi") == [(True, "password")]


def test_wrong_password_unknown_email_and_disabled_user_get_the_same_refusal(
        db_url: str) -> None:
    make_staff(db_url, "admin@example.fi", None, None)
    make_staff(db_url, "gone@example.fi", None, None)
    with session_scope(db_url) as s:
        user = s.exec(select(User).where(User.email == "gone@example.fi")).one()
        user.active = False
        s.add(user)
    with pytest.raises(ValidationError) as wrong:
        committed(db_url, lambda s: sign_in_with_password(s, "admin@example.fi", "not the one!"))
    with pytest.raises(ValidationError) as unknown:
        committed(db_url, lambda s: sign_in_with_password(s, "nobody@example.fi", PASSWORD))
    with pytest.raises(ValidationError) as disabled:
        committed(db_url, lambda s: sign_in_with_password(s, "gone@example.fi", PASSWORD))
    assert str(wrong.value) == str(unknown.value) == str(disabled.value)
    assert wrong.value.en == "Wrong email or password"
    # Every failure was committed although the call raised.
    for email in ("admin@example.fi", "nobody@example.fi", "gone@example.fi"):
        assert attempts(db_url, email) == [(False, "password")]
    with session_scope(db_url) as s:
        assert s.exec(select(func.count()).select_from(AuthSession)).one() == 2  # make_staff's


def test_repeated_failures_pause_even_the_right_password(db_url: str) -> None:
    make_staff(db_url, "target@example.fi", None, None)
    for _ in range(FREE_FAILURES_PER_EMAIL):
        with pytest.raises(ValidationError):
            committed(db_url, lambda s: sign_in_with_password(s, "target@example.fi", "guess-guess",
                                                              "10.0.0.9"))
    with pytest.raises(TooManyAttempts) as paused:
        committed(db_url, lambda s: sign_in_with_password(s, "target@example.fi", PASSWORD,
                                                          "10.0.0.9"))
    assert paused.value.retry_after > 0
    # Another client does not help: the email itself is paused.
    with pytest.raises(TooManyAttempts):
        committed(db_url, lambda s: sign_in_with_password(s, "TARGET@example.fi", PASSWORD,
                                                          "10.9.9.9"))
    # The pause is a pause, not a lock-out: after it the right password works again.
    time.sleep(paused.value.retry_after + 0.2)
    token = committed(db_url, lambda s: sign_in_with_password(s, "target@example.fi", PASSWORD))
    with session_scope(db_url) as s:
        assert resolve_session(s, token) is not None
    assert attempts(db_url, "target@example.fi") == (
        [(False, "password")] * FREE_FAILURES_PER_EMAIL + [(True, "password")])


# --- sessions ---------------------------------------------------------------------------


def test_session_resolves_to_the_actor_with_grants(db_url: str) -> None:
    tree = make_tree(db_url)
    token = make_staff(db_url, "piiri@example.fi", tree.district, "admin")
    with session_scope(db_url) as s:
        actor = resolve_session(s, token)
    assert actor is not None and actor.is_staff and not actor.is_operator
    assert actor.grants[0].organization_id == tree.district
    assert actor.grants[0].name == "Piiri ry"
    assert actor.grants[0].path == f"/{tree.federation}/{tree.district}/"
    with session_scope(db_url) as s:
        assert resolve_session(s, token + "x") is None
        assert resolve_session(s, "") is None
        assert resolve_session(s, None) is None
        assert resolve_session(s, "a" * 500) is None


def test_sessions_end_expire_and_die_with_the_user(db_url: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    token = make_staff(db_url, "out@example.fi", None, None)
    other = make_staff(db_url, "out@example.fi", None, None)
    with session_scope(db_url) as s:
        end_session(s, token)
    with session_scope(db_url) as s:
        assert resolve_session(s, token) is None
        assert resolve_session(s, other) is not None  # only that session ended
        end_session(s, token)  # ending twice is harmless
        end_session(s, None)

    monkeypatch.setenv("SESSION_HOURS", "0")
    get_settings.cache_clear()
    expired = make_staff(db_url, "out@example.fi", None, None)
    with session_scope(db_url) as s:
        assert resolve_session(s, expired) is None
        assert resolve_session(s, other) is not None

        user = s.exec(select(User).where(User.email == "out@example.fi")).one()
        user.active = False
        s.add(user)
    with session_scope(db_url) as s:
        assert resolve_session(s, other) is None  # a disabled user's live session dies at once


# --- sign-in links ----------------------------------------------------------------------


def test_signin_link_works_once(db_url: str) -> None:
    make_staff(db_url, "linkki@example.fi", None, None)
    message = committed(db_url, lambda s: request_signin_link(s, "Linkki@Example.fi", "c1"))
    assert message is not None
    [queued] = outbox(db_url)
    assert queued.to_address == "linkki@example.fi"
    assert queued.kind == "signin_link" and queued.status == "queued"
    assert queued.subject == "Kirjautumislinkki Membookiin"
    token = link_token(queued)

    session_token = committed(db_url, lambda s: sign_in_with_link(s, token, "c1"))
    with session_scope(db_url) as s:
        actor = resolve_session(s, session_token)
        assert actor is not None and actor.email == "linkki@example.fi"

    with pytest.raises(ValidationError) as again:
        committed(db_url, lambda s: sign_in_with_link(s, token, "c1"))
    assert again.value.en == "The link has already been used"
    assert attempts(db_url, "linkki@example.fi") == [
        (True, "link-request"), (True, "link"), (False, "link")]
    with session_scope(db_url) as s:
        # make_staff's session and the one from the link; the reuse opened none.
        assert s.exec(select(func.count()).select_from(AuthSession)).one() == 2


def test_bad_links_are_refused(db_url: str) -> None:
    make_staff(db_url, "victim@example.fi", None, None)
    good = tokens.issue("signin", "victim@example.fi", 900)
    header, _, signature = good.split(".")
    forged_payload = tokens.issue("signin", "admin@example.fi", 900).split(".")[1]
    bad = {
        "expired": tokens.issue("signin", "victim@example.fi", -1),
        "other purpose": tokens.issue("invoice", "victim@example.fi", 900),
        # A valid token's payload with another subject, under the old signature.
        "tampered": f"{header}.{forged_payload}.{signature}",
        "garbage": "not-a-token",
        "disabled user": tokens.issue("signin", "was@example.fi", 900),
    }
    make_staff(db_url, "was@example.fi", None, None)
    with session_scope(db_url) as s:
        user = s.exec(select(User).where(User.email == "was@example.fi")).one()
        user.active = False
        s.add(user)
    for kind, token in bad.items():
        with pytest.raises(ValidationError) as refused:
            committed(db_url, lambda s, token=token: sign_in_with_link(s, token))
        assert refused.value.en == "The link is invalid or has expired", kind
    with session_scope(db_url) as s:
        assert s.exec(select(func.count()).select_from(AuthSession)).one() == 2  # make_staff's
        failures = s.exec(select(LoginAttempt).where(LoginAttempt.method == "link")).all()
        assert [a.success for a in failures] == [False] * len(bad)
    # The genuine token still works: the refusals burnt nothing.
    assert committed(db_url, lambda s: sign_in_with_link(s, good))


def test_member_gets_a_user_linked_to_their_person(db_url: str) -> None:
    # An unknown address gets nothing, and no user is made for it.
    assert committed(db_url, lambda s: request_signin_link(s, "stranger@example.fi")) is None
    assert outbox(db_url) == []
    with session_scope(db_url) as s:
        assert s.exec(select(func.count()).select_from(User)).one() == 0

    tree = make_tree(db_url)
    person_id = make_member(db_url, tree.club_a, tree.type_a, "Aino", "Äijälä",
                            email="aino@example.fi", language="en")
    with session_scope(db_url) as s:
        assert s.exec(select(User).where(User.email == "aino@example.fi")).first() is None
    committed(db_url, lambda s: request_signin_link(s, "aino@example.fi"))
    with session_scope(db_url) as s:
        user = s.exec(select(User).where(User.email == "aino@example.fi")).one()
        assert user.person_id == person_id
        assert user.display_name == "Aino Äijälä"
        assert user.password_hash is None
    [message] = outbox(db_url)
    assert message.subject == "Your Membook sign-in link"  # the member's language
    session_token = committed(db_url, lambda s: sign_in_with_link(s, link_token(message)))
    with session_scope(db_url) as s:
        actor = resolve_session(s, session_token)
    assert actor is not None
    assert actor.person_id == person_id
    # A member reaches only their own record (through the portal), never the register.
    assert not actor.is_staff and actor.grants == ()
    club_a = _paths(db_url, tree.club_a)[0]
    assert not any(actor.can(action, club_a) for action in ACTION_ROLES)
    with session_scope(db_url) as s:
        with pytest.raises(PermissionDenied):
            actor.require("register.read", s.get(Organization, tree.club_a))  # type: ignore[arg-type]
        assert visible_organizations(s, actor) == []


def test_link_requests_are_limited(db_url: str) -> None:
    make_staff(db_url, "spam@example.fi", None, None)
    for _ in range(LINK_REQUESTS_PER_WINDOW):
        committed(db_url, lambda s: request_signin_link(s, "spam@example.fi"))
    with pytest.raises(TooManyAttempts) as paused:
        committed(db_url, lambda s: request_signin_link(s, "spam@example.fi"))
    assert paused.value.retry_after > 0
    assert len(outbox(db_url)) == LINK_REQUESTS_PER_WINDOW


# --- permissions ------------------------------------------------------------------------


def _actor(url: str, token: str) -> Actor:
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


def _paths(url: str, *org_ids: int) -> list[str]:
    with session_scope(url) as s:
        return [s.get(Organization, i).path for i in org_ids]  # type: ignore[union-attr]


def test_grant_covers_its_subtree_only(db_url: str) -> None:
    tree = make_tree(db_url)
    fed, dist, a, b = _paths(db_url, tree.federation, tree.district, tree.club_a, tree.club_b)
    district_admin = _actor(db_url, make_staff(db_url, "d@example.fi", tree.district, "admin"))
    assert district_admin.can("register.write", dist)
    assert district_admin.can("register.write", a) and district_admin.can("org.manage", b)
    assert not district_admin.can("register.read", fed)

    club_admin = _actor(db_url, make_staff(db_url, "a@example.fi", tree.club_a, "admin"))
    assert club_admin.can("grants.manage", a)
    assert not club_admin.can("register.read", b)  # sibling
    assert not club_admin.can("register.read", dist)  # parent
    with session_scope(db_url) as s:
        names = [o.name for o in visible_organizations(s, club_admin)]
        assert names == ["Seura A ry"]
        assert len(visible_organizations(s, district_admin)) == 3


def test_path_prefix_is_not_a_number_prefix() -> None:
    """A grant on /1/4/ must not cover /1/40/ (the trailing slash is the boundary)."""
    actor = Actor(1, "x@example.fi", "x", grants=(Grant(4, "/1/4/", "admin", "Four"),))
    assert actor.can("register.read", "/1/4/9/")
    assert not actor.can("register.read", "/1/40/")
    with pytest.raises(KeyError):
        actor.can("register.delete", "/1/4/")


def test_viewer_reads_treasurer_writes_operator_does_all(db_url: str) -> None:
    tree = make_tree(db_url)
    fed, a, b = _paths(db_url, tree.federation, tree.club_a, tree.club_b)
    viewer = _actor(db_url, make_staff(db_url, "v@example.fi", tree.federation, "viewer"))
    assert viewer.can("register.read", a) and viewer.can("billing.read", fed)
    for action in ("register.write", "billing.write", "org.manage", "grants.manage"):
        assert not viewer.can(action, a), action
    treasurer = _actor(db_url, make_staff(db_url, "t@example.fi", tree.club_a, "treasurer"))
    assert treasurer.can("billing.write", a) and not treasurer.can("grants.manage", a)

    operator = _actor(db_url, make_staff(db_url, "op@example.fi", None, None, operator=True))
    assert operator.is_operator and operator.is_staff and operator.grants == ()
    for action in ("register.write", "billing.write", "org.manage", "grants.manage"):
        assert operator.can(action, fed) and operator.can(action, b)
    with session_scope(db_url) as s:
        assert len(visible_organizations(s, operator)) == 4
