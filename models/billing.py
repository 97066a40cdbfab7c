"""Fees, invoices, invoice runs and reminders."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utcnow

INVOICE_STATUSES = ("open", "partly_paid", "paid", "credited", "overdue")


class Fee(SQLModel, table=True):
    """What one organisation charges for a period.

    A club prices its own membership types (`membership_type_id`); a district
    or federation charges its share per member category (`category`) for
    every member in its subtree. An invoice carries one line per
    organisation in the chain that charges.
    """

    __table_args__ = (
        sa.UniqueConstraint("organization_id", "period", "membership_type_id"),
        sa.UniqueConstraint("organization_id", "period", "category"),
        sa.CheckConstraint("amount_cents >= 0", name="ck_fee_amount"),
        sa.CheckConstraint(
            "(membership_type_id IS NULL) <> (category IS NULL)", name="ck_fee_target"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    period: str = Field(max_length=20)
    membership_type_id: int | None = Field(default=None, foreign_key="membershiptype.id")
    category: str | None = Field(default=None, max_length=30)
    amount_cents: int
    created_at: datetime = Field(default_factory=utcnow)


class InvoiceRun(SQLModel, table=True):
    """One confirmed invoice run (an organisation, optionally its subtree, a period)."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    include_suborganizations: bool = True
    period: str = Field(max_length=20)
    issue_date: date
    due_date: date
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    invoice_count: int = 0
    total_cents: int = 0


class Invoice(SQLModel, table=True):
    """A bill to a payer (or a credit note against one), with its own reference.

    `paid_cents` and `status` are maintained only by the billing status
    function from the allocations, inside the same transaction. Neither is in any
    index, and on PostgreSQL the table keeps half of each page free (fillfactor 50,
    set by migration a3f1c6d2e801), so a payment's update is a heap-only (HOT) update
    that writes none of the indexes.
    """

    __table_args__ = (
        sa.Index("ix_invoice_org_due", "organization_id", "due_date"),
        # Only credit notes have it: a partial index costs a run's invoices nothing.
        sa.Index("ix_invoice_credited_invoice_id", "credited_invoice_id",
                 postgresql_where=sa.text("credited_invoice_id IS NOT NULL"),
                 sqlite_where=sa.text("credited_invoice_id IS NOT NULL")),
        sa.CheckConstraint(
            "status IN ('open', 'partly_paid', 'paid', 'credited', 'overdue')",
            name="ck_invoice_status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    person_id: int = Field(foreign_key="person.id", index=True)
    payer_id: int = Field(foreign_key="person.id", index=True)
    membership_id: int | None = Field(default=None, foreign_key="membership.id")
    run_id: int | None = Field(default=None, foreign_key="invoicerun.id", index=True)
    # A run invoice's fee lines are its run price's lines (RunPriceLine); its own lines in
    # InvoiceLine are only what is added later (reminder fees). `invoice_lines` reads both.
    run_price_id: int | None = Field(default=None, foreign_key="runprice.id")
    period: str | None = Field(default=None, max_length=20)
    kind: str = Field(default="invoice", max_length=20)
    credited_invoice_id: int | None = Field(default=None, foreign_key="invoice.id")
    # Run invoices get "<org>:<membership>:<period>" so a repeated run creates nothing.
    dedupe_key: str | None = Field(default=None, max_length=80, unique=True)
    reference: str = Field(max_length=20, unique=True)
    description: str = Field(default="", max_length=200)
    issue_date: date
    due_date: date
    total_cents: int
    paid_cents: int = 0
    credited_cents: int = 0
    status: str = Field(default="open", max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class RunPrice(SQLModel, table=True):
    """What every invoice of one run for one club and membership type charges.

    An invoice run writes its fee lines once per price, not once per invoice: 100,000
    invoices share a few dozen prices, so a run writes 100,000 invoice rows instead of
    400,000 rows, and PostgreSQL checks one foreign key per invoice for the lines instead
    of two per line (docs/billing.md, "Invoice lines").
    """

    __table_args__ = (sa.UniqueConstraint("run_id", "organization_id", "membership_type_id"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="invoicerun.id")
    organization_id: int = Field(foreign_key="organization.id")
    membership_type_id: int = Field(foreign_key="membershiptype.id")
    total_cents: int


class RunPriceLine(SQLModel, table=True):
    """One organisation's share in a run price; every invoice of the price carries it."""

    __table_args__ = (sa.UniqueConstraint("run_price_id", "position"),)

    id: int | None = Field(default=None, primary_key=True)
    run_price_id: int = Field(foreign_key="runprice.id")
    organization_id: int = Field(foreign_key="organization.id", index=True)
    description: str = Field(max_length=200)
    amount_cents: int
    kind: str = Field(default="fee", max_length=20)
    position: int


class InvoiceLine(SQLModel, table=True):
    """A line written for one invoice: a manual invoice's or credit note's lines, or a
    reminder fee. A line is known by (invoice, position), positions unique per invoice
    across these and the run price's lines; read all of them through `invoice_lines`."""

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    description: str = Field(max_length=200)
    amount_cents: int
    kind: str = Field(default="fee", max_length=20)
    position: int = 0


class ReminderRule(SQLModel, table=True):
    """When an organisation's overdue invoices get reminders, and the reminder fee."""

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", unique=True)
    enabled: bool = True
    first_after_days: int = 14
    second_after_days: int | None = 28
    fee_cents: int = 500


class Reminder(SQLModel, table=True):
    """A reminder sent for an invoice (first or second), never twice."""

    __table_args__ = (sa.UniqueConstraint("invoice_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    number: int
    sent_at: datetime = Field(default_factory=utcnow)
    fee_cents: int = 0
    outbox_message_id: int | None = Field(default=None, foreign_key="outboxmessage.id")


# Every line of every invoice: its own lines and, for a run invoice, its run price's lines.
# A view (migration c4d8e2f1a7b3), kept out of SQLModel's metadata so that autogenerate
# and `alembic check` see no table to create; queries use this Table like any other.
VIEWS = sa.MetaData()
invoice_lines = sa.Table(
    "invoice_lines", VIEWS,
    sa.Column("invoice_id", sa.Integer), sa.Column("position", sa.Integer),
    sa.Column("organization_id", sa.Integer), sa.Column("description", sa.String(200)),
    sa.Column("amount_cents", sa.Integer), sa.Column("kind", sa.String(20)))
