"""Weekly settlements: what each organisation is paid out of the escrow account.

A `SettlementRun` covers every allocation made up to its `cut_off` that no earlier run
settled. It holds one `Settlement` per organisation, and each settlement lists, per
allocation, that organisation's share (`SettlementLine`). The unique
(allocation, organisation) pair is what makes "no allocation is settled twice" a
database rule rather than a hope.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utcnow

SETTLEMENT_RUN_STATUSES = ("draft", "approved")
SETTLEMENT_STATUSES = ("draft", "approved", "carried")


class SettlementRun(SQLModel, table=True):
    """One settlement round (normally weekly): its cut-off and, once approved, the payout file."""

    __table_args__ = (
        sa.CheckConstraint("status IN ('draft', 'approved')", name="ck_settlementrun_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cut_off: datetime = Field(unique=True)
    previous_cut_off: datetime | None = None
    status: str = Field(default="draft", max_length=20)
    execution_date: date | None = None
    organization_count: int = 0
    payout_count: int = 0
    gross_cents: int = 0
    fee_cents: int = 0
    net_cents: int = 0
    payout_cents: int = 0
    pain001_version: str | None = Field(default=None, max_length=20)
    payout_xml: str | None = Field(default=None, sa_type=sa.Text)
    message_id: str | None = Field(default=None, max_length=35)
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    approved_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    approved_at: datetime | None = None


class Settlement(SQLModel, table=True):
    """One organisation's payout in one run, with its own RF reference.

    net = gross − reversals − fees + carried_in. A net of zero or less is not paid: the
    settlement is `carried` and its net becomes the next one's `carried_in_cents`.
    """

    __table_args__ = (
        sa.UniqueConstraint("run_id", "organization_id"),
        sa.Index("ix_settlement_org_run", "organization_id", "run_id"),
        sa.CheckConstraint("status IN ('draft', 'approved', 'carried')",
                           name="ck_settlement_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="settlementrun.id", index=True)
    organization_id: int = Field(foreign_key="organization.id")
    reference: str = Field(max_length=25, unique=True)
    status: str = Field(default="draft", max_length=20)
    payment_count: int = 0
    gross_cents: int = 0
    reversal_cents: int = 0
    fee_cents: int = 0
    carried_in_cents: int = 0
    net_cents: int = 0
    payout_cents: int = 0
    iban: str | None = Field(default=None, max_length=34)
    created_at: datetime = Field(default_factory=utcnow)


class SettlementLine(SQLModel, table=True):
    """One organisation's share of one allocation (a member payment, or its reversal)."""

    __table_args__ = (
        sa.UniqueConstraint("allocation_id", "organization_id",
                            name="uq_settlementline_allocation_org"),
    )

    id: int | None = Field(default=None, primary_key=True)
    settlement_id: int = Field(foreign_key="settlement.id", index=True)
    organization_id: int = Field(foreign_key="organization.id")
    allocation_id: int = Field(foreign_key="allocation.id", index=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    amount_cents: int
    fee_cents: int = 0
    kind: str = Field(default="payment", max_length=20)
