"""Custom fields, data-protection requests and long-running jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utcnow

CUSTOM_FIELD_KINDS = ("text", "number", "date", "choice", "bool")


class CustomField(SQLModel, table=True):
    """An organisation's own register field (text, number, date, choice, yes/no)."""

    __table_args__ = (sa.UniqueConstraint("organization_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    key: str = Field(max_length=40)
    label: str = Field(max_length=100)
    kind: str = Field(default="text", max_length=10)
    choices: list[str] | None = Field(default=None, sa_type=sa.JSON)
    required: bool = False
    visible_to_member: bool = False
    position: int = 0


class CustomFieldValue(SQLModel, table=True):
    """A person's value of a custom field, stored as text in a canonical form."""

    __table_args__ = (sa.UniqueConstraint("field_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    field_id: int = Field(foreign_key="customfield.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    value: str = Field(max_length=1000)


class DeletionRequest(SQLModel, table=True):
    """A member's request to have their data removed; admins see and resolve it."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    requested_at: datetime = Field(default_factory=utcnow)
    message: str | None = Field(default=None, max_length=1000)
    status: str = Field(default="open", max_length=20)
    resolved_at: datetime | None = None
    resolved_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    resolution: str | None = Field(default=None, max_length=1000)


class Job(SQLModel, table=True):
    """A long piece of work run by the worker (import, export, invoice sending ...).

    The UI polls `progress`; `result` holds the report; files live under
    var/ and are served only through authenticated routes.
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=40, index=True)
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    status: str = Field(default="queued", max_length=20)
    progress: int = 0
    message: str | None = Field(default=None, max_length=1000)
    params: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    result: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    file_path: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
