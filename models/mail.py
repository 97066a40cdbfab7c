"""The outbox: every message the product sends, and what happened to it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utcnow

MAIL_STATUSES = ("queued", "sending", "sent", "failed")


class OutboxMessage(SQLModel, table=True):
    """A message to one recipient; delivery state is recorded here, never only in a log."""

    __table_args__ = (sa.Index("ix_outbox_status", "status", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=254)
    subject: str = Field(max_length=300)
    text_body: str = Field(sa_type=sa.Text)
    html_body: str | None = Field(default=None, sa_type=sa.Text)
    kind: str = Field(default="general", max_length=40)
    organization_id: int | None = Field(default=None, foreign_key="organization.id")
    # A unique key per logical message (e.g. "invoice:42:initial") so that a
    # resumed or repeated send can never queue the same message twice.
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    status: str = Field(default="queued", max_length=20)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)
    # When delivery claimed it (queued → sending): mail still 'sending' long after its
    # claim was left by a crashed worker (membook_app/mail/recovery.py).
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
