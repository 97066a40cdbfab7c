"""Builders for test data, written through the real services (never raw rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from membook_app.accounts.passwords import hash_password
from membook_app.accounts.sessions import start_session
from membook_app.accounts.users import get_or_create_user, grant_role
from membook_app.db import session_scope
from membook_app.register.memberships import add_membership
from membook_app.register.organizations import create_organization
from membook_app.register.people import create_person
from membook_app.register.plans import ensure_plans
from models import MembershipType

PASSWORD = "correct horse battery"


@cache
def password_hash() -> str:
    """argon2 costs ~0.5 s a hash here by design; tests hash the shared password once."""
    return hash_password(PASSWORD)


@dataclass
class Tree:
    """federation → district → club_a, club_b (siblings), each with one type."""

    federation: int
    district: int
    club_a: int
    club_b: int
    type_a: int
    type_b: int


def make_tree(url: str) -> Tree:
    with session_scope(url) as s:
        ensure_plans(s)
        fed = create_organization(s, None, name="Liitto ry", plan_code="premium")
        dist = create_organization(s, None, name="Piiri ry", parent_id=fed.id)
        a = create_organization(s, None, name="Seura A ry", parent_id=dist.id)
        b = create_organization(s, None, name="Seura B ry", parent_id=dist.id)
        ta = MembershipType(organization_id=a.id, name="Varsinainen jäsen")
        tb = MembershipType(organization_id=b.id, name="Varsinainen jäsen")
        s.add(ta)
        s.add(tb)
        s.flush()
        return Tree(fed.id, dist.id, a.id, b.id, ta.id, tb.id)  # type: ignore[arg-type]


def make_member(url: str, org_id: int, type_id: int | None, first: str, last: str,
                email: str | None = None, **fields: object) -> int:
    """A person with an active membership; returns the person id."""
    with session_scope(url) as s:
        person = create_person(s, None, {"first_name": first, "last_name": last,
                                         "email": email, **fields})
        add_membership(s, None, person_id=person.id, organization_id=org_id,  # type: ignore[arg-type]
                       type_id=type_id, start_date=date(2024, 1, 1))
        return person.id  # type: ignore[return-value]


def make_staff(url: str, email: str, org_id: int | None, role: str | None,
               operator: bool = False) -> str:
    """A staff user with a password and an open session; returns the session token."""
    with session_scope(url) as s:
        user = get_or_create_user(s, None, email, is_operator=operator)
        user.password_hash = password_hash()
        if org_id is not None and role is not None:
            grant_role(s, None, user, org_id, role)
        return start_session(s, user, "test")


def make_member_login(url: str, person_email: str) -> str:
    """A member user (linked to their person) with an open session; returns the token."""
    with session_scope(url) as s:
        user = get_or_create_user(s, None, person_email)
        user.password_hash = password_hash()
        assert user.person_id is not None
        return start_session(s, user, "test")
