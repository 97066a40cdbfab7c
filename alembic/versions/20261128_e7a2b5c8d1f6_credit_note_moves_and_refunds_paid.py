"""allocation.credit_note_id, payment.refunded_on

`allocation.credit_note_id`: the credit note that moved this money from its invoice to
the payer's credit balance. The allocation stays on the credited invoice (its paid amount,
its history, a bank correction of the payment all keep working unchanged); settlements
split it by that credit note's lines, so exactly the credited organisations give the money
back (docs/settlements.md, "Credit notes on paid invoices"). No foreign key and no index:
a bank import writes allocations by the 100,000 and would pay a trigger event per row for
a column that is almost always NULL; the settlement query reaches it through the
allocation it already reads.

`payment.refunded_on`: the day the operator paid a payment marked for refund back to its
payer, so escrow reconciliation stops counting it as still in the account.

Revision ID: e7a2b5c8d1f6
Revises: d5e9f3a2b8c4
Create Date: 2026-11-28 19:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e7a2b5c8d1f6"
down_revision: str | None = "d5e9f3a2b8c4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("allocation") as batch:
        batch.add_column(sa.Column("credit_note_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("payment") as batch:
        batch.add_column(sa.Column("refunded_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment") as batch:
        batch.drop_column("refunded_on")
    with op.batch_alter_table("allocation") as batch:
        batch.drop_column("credit_note_id")
