"""Organisations (the customer tree) and the plans they are on."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.base import utcnow


class Plan(SQLModel, table=True):
    """A price plan as data: limits are read from rows, never from constants in code."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=100)
    max_members: int | None = None
    max_payments_per_year: int | None = None
    max_suborganizations: int | None = None
    max_admins: int | None = None
    invoicing_enabled: bool = True
    transaction_fee_cents: int = 0
    monthly_price_cents: int = 0
    sort_order: int = 0


class Organization(SQLModel, table=True):
    """A federation, district or club; `path` materialises the ancestry ("/1/4/9/").

    The path makes "this organisation and everything below it" one indexed
    prefix comparison, which both the permission checks and the register
    filters need on every request.
    """

    id: int | None = Field(default=None, primary_key=True)
    parent_id: int | None = Field(default=None, foreign_key="organization.id", index=True)
    path: str = Field(default="/", max_length=512, index=True)
    name: str = Field(max_length=200)
    business_id: str | None = Field(default=None, max_length=9)
    association_id: str | None = Field(default=None, max_length=6)
    iban: str | None = Field(default=None, max_length=34)
    bic: str | None = Field(default=None, max_length=11)
    email: str | None = Field(default=None, max_length=254)
    plan_id: int = Field(foreign_key="plan.id")
    # Data protection: remove personal data N years after the membership ended.
    retention_years: int | None = None
    retention_enabled: bool = False
    created_at: datetime = Field(default_factory=utcnow)
