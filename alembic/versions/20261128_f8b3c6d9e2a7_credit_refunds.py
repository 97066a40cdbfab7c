"""creditrefund, allocation.credit_refund_id

`creditrefund`: credit the operator pays back to a payer (a member who paid twice by
mistake), owed until the operator records the day it was paid (`paid_on`); escrow
reconciliation counts it as paid back from then on.

`allocation.credit_refund_id`: the credit refund a negative `refund` allocation took the
payer's credit for. No foreign key and no index, as `allocation.credit_note_id`
(e7a2b5c8d1f6): a bank import writes allocations by the 100,000 and would pay a trigger
event per row for a column that is almost always NULL.

Revision ID: f8b3c6d9e2a7
Revises: e7a2b5c8d1f6
Create Date: 2026-11-28 20:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel

from alembic import op

revision: str = "f8b3c6d9e2a7"
down_revision: str | None = "e7a2b5c8d1f6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "creditrefund",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("iban", sqlmodel.sql.sqltypes.AutoString(length=34), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("paid_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["paid_by_user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_creditrefund_person_id", "creditrefund", ["person_id"])
    with op.batch_alter_table("allocation") as batch:
        batch.add_column(sa.Column("credit_refund_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("allocation") as batch:
        batch.drop_column("credit_refund_id")
    op.drop_index("ix_creditrefund_person_id", table_name="creditrefund")
    op.drop_table("creditrefund")
