"""People, membership types and memberships: the register itself."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utcnow

MEMBERSHIP_STATUSES = ("active", "resigned", "ended", "deemed_resigned")
LANGUAGES = ("fi", "sv", "en")


class Person(SQLModel, table=True):
    """One human, whatever organisations they belong to; the email is their login."""

    __table_args__ = (sa.Index("ix_person_name", "last_name", "first_name"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str | None = Field(default=None, max_length=254, unique=True)
    first_name: str = Field(max_length=100)
    last_name: str = Field(max_length=100)
    street_address: str | None = Field(default=None, max_length=200)
    postal_code: str | None = Field(default=None, max_length=10)
    city: str | None = Field(default=None, max_length=100)
    country: str = Field(default="FI", max_length=2)
    phone: str | None = Field(default=None, max_length=20)
    birth_date: date | None = None
    language: str = Field(default="fi", max_length=2)
    payer_id: int | None = Field(default=None, foreign_key="person.id", index=True)
    pseudonymised_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class MembershipType(SQLModel, table=True):
    """A category of member defined by one organisation (varsinainen jäsen, nuorisojäsen ...)."""

    __table_args__ = (sa.UniqueConstraint("organization_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    name: str = Field(max_length=100)
    description: str | None = Field(default=None, max_length=500)
    # Shared across the tree so a federation or district can charge its share
    # for "nuorisojäsen" in every club, whatever the club calls the type.
    category: str = Field(default="varsinainen", max_length=30)
    household_priced: bool = False
    active: bool = True


class Membership(SQLModel, table=True):
    """A person's membership in one organisation, numbered within that organisation."""

    __table_args__ = (
        sa.UniqueConstraint("organization_id", "member_number"),
        sa.Index("ix_membership_org_status", "organization_id", "status"),
        sa.CheckConstraint(
            "status IN ('active', 'resigned', 'ended', 'deemed_resigned')",
            name="ck_membership_status",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    organization_id: int = Field(foreign_key="organization.id")
    member_number: int
    type_id: int | None = Field(default=None, foreign_key="membershiptype.id", index=True)
    start_date: date
    end_date: date | None = None
    status: str = Field(default="active", max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class MembershipStatusChange(SQLModel, table=True):
    """The status history of a membership: every transition with its reason and actor."""

    id: int | None = Field(default=None, primary_key=True)
    membership_id: int = Field(foreign_key="membership.id", index=True)
    at: datetime = Field(default_factory=utcnow)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
