"""The audit trail: who changed what, when, with the fields before and after."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utcnow


class AuditEvent(SQLModel, table=True):
    """One change (or a sensitive read) of a register, money or access object."""

    __table_args__ = (sa.Index("ix_auditevent_object", "object_type", "object_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor_user_id: int | None = Field(default=None, foreign_key="user.id")
    actor_label: str = Field(default="", max_length=254)
    action: str = Field(max_length=64)
    object_type: str = Field(max_length=64)
    object_id: int | None = None
    organization_id: int | None = Field(default=None, index=True)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
