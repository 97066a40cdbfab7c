"""Users, their role grants, sign-in sessions and the traces sign-in leaves."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utcnow

ROLES = ("admin", "treasurer", "viewer")


class User(SQLModel, table=True):
    """Someone who can sign in: admin, treasurer, viewer, member (linked to a Person), operator."""

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str | None = Field(default=None, max_length=200)
    person_id: int | None = Field(default=None, foreign_key="person.id", unique=True)
    display_name: str = Field(default="", max_length=200)
    is_operator: bool = False
    active: bool = True
    language: str = Field(default="fi", max_length=2)
    created_at: datetime = Field(default_factory=utcnow)
    last_login_at: datetime | None = None


class RoleGrant(SQLModel, table=True):
    """A role on an organisation; it covers the organisation's whole subtree."""

    __table_args__ = (
        sa.UniqueConstraint("user_id", "organization_id", "role"),
        sa.CheckConstraint("role IN ('admin', 'treasurer', 'viewer')", name="ck_rolegrant_role"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class AuthSession(SQLModel, table=True):
    """A sign-in session; only the SHA-256 of its token is stored, so a database leak
    does not hand out live sessions."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
    client: str = Field(default="", max_length=100)


class UsedToken(SQLModel, table=True):
    """Ids of one-time tokens (sign-in links) already used; the primary key makes reuse fail."""

    jti: str = Field(primary_key=True, max_length=64)
    used_at: datetime = Field(default_factory=utcnow)


class LoginAttempt(SQLModel, table=True):
    """Every sign-in attempt, so repeated failures can be slowed down and audited."""

    __table_args__ = (
        sa.Index("ix_loginattempt_email_at", "email", "at"),
        sa.Index("ix_loginattempt_client_at", "client", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    client: str = Field(default="", max_length=100)
    at: datetime = Field(default_factory=utcnow)
    success: bool = False
    method: str = Field(default="password", max_length=20)
