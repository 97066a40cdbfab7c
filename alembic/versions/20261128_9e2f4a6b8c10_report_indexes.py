"""report indexes: payments by status and day, allocations by payment, covering

The escrow reconciliation and the dashboard sum payments by status and booking day;
with source and amount in the (status, booking_date) index those sums are read from
the index alone instead of looking up 300,000 payment rows (SQLite: 0.6 s → 0.05 s of
CPU for the escrow's bank sums). It replaces ix_payment_status, which is its prefix.

The dashboard's weekly money and the payments journal read a payment's allocations
with their invoice, amount, person who booked them and rule: with those in the
payment_id index they are read from the index alone (SQLite weekly money 0.19 s →
0.135 s). It replaces ix_allocation_payment_id, its prefix.

Revision ID: 9e2f4a6b8c10
Revises: 8d4e6a2b1c70
Create Date: 2026-11-28 13:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "9e2f4a6b8c10"
down_revision: str | None = "8d4e6a2b1c70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_payment_status_day", "payment",
                    ["status", "booking_date", "source", "amount_cents"], unique=False)
    op.drop_index("ix_payment_status", table_name="payment")
    op.create_index("ix_allocation_payment", "allocation",
                    ["payment_id", "invoice_id", "amount_cents", "created_by_user_id", "rule"],
                    unique=False)
    op.drop_index("ix_allocation_payment_id", table_name="allocation")


def downgrade() -> None:
    op.create_index("ix_allocation_payment_id", "allocation", ["payment_id"], unique=False)
    op.drop_index("ix_allocation_payment", table_name="allocation")
    op.create_index("ix_payment_status", "payment", ["status", "booking_date"], unique=False)
    op.drop_index("ix_payment_status_day", table_name="payment")
