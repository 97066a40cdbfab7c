"""index invoice.credited_invoice_id

refresh_invoices sums credit notes per invoice with a correlated subquery;
without this index each invoice would scan the invoice table.

Revision ID: 7c3d2f1e9b55
Revises: 5b1c9e7d2a40
Create Date: 2026-11-28 10:15:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "7c3d2f1e9b55"
down_revision: str | None = "5b1c9e7d2a40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invoice_credited_invoice_id"),
                              ["credited_invoice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invoice_credited_invoice_id"))
