"""outbox: when a message was claimed for sending

A message is 'sending' from its claim until the SMTP server's answer is recorded. Mail
left 'sending' by a crashed worker is settled by the operator (mail/recovery.py); to tell
it from mail being sent right now, the claim's time is needed, not the message's creation
time: a big invoice run queues 100,000 messages at once and sends them over many minutes.

Revision ID: b7e2d4c1a903
Revises: a3f1c6d2e801
Create Date: 2026-11-28 15:40:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "b7e2d4c1a903"
down_revision: str | None = "a3f1c6d2e801"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outboxmessage") as batch:
        batch.add_column(sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outboxmessage") as batch:
        batch.drop_column("claimed_at")
