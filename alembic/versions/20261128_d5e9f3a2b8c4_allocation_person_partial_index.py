"""allocation: index only the allocations that have a person

A bank import writes 100,000 invoice allocations, none of which names a person (only
payer-credit allocations do), and each went into `ix_allocation_person_id` as a NULL.
Every query on the column asks for one person (`person_id = ?`), which a partial index
answers on both databases.

Revision ID: d5e9f3a2b8c4
Revises: c4d8e2f1a7b3
Create Date: 2026-11-28 17:10:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d5e9f3a2b8c4"
down_revision: str | None = "c4d8e2f1a7b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_allocation_person_id", table_name="allocation")
    op.create_index("ix_allocation_person_id", "allocation", ["person_id"],
                    postgresql_where=sa.text("person_id IS NOT NULL"),
                    sqlite_where=sa.text("person_id IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_allocation_person_id", table_name="allocation")
    op.create_index("ix_allocation_person_id", "allocation", ["person_id"])
