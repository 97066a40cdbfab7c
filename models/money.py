"""Incoming money: bank imports, payments, allocations and Paytrail attempts."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.base import utcnow

PAYMENT_SOURCES = ("bank", "paytrail", "manual")


class BankImport(SQLModel, table=True):
    """One imported bank file; the hash makes importing the same file twice a no-op."""

    id: int | None = Field(default=None, primary_key=True)
    file_hash: str = Field(max_length=64, unique=True)
    filename: str = Field(max_length=255)
    format: str = Field(max_length=30)
    source: str = Field(default="upload", max_length=20)
    status: str = Field(default="imported", max_length=20)
    payment_count: int = 0
    duplicate_count: int = 0
    matched_count: int = 0
    unmatched_count: int = 0
    credit_cents: int = 0
    debit_cents: int = 0
    imported_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    message: str | None = Field(default=None, max_length=2000)
    # camt.053 statement balances (signed cents) for escrow reconciliation; None for
    # files without balances (KTL, camt.054).
    statement_iban: str | None = Field(default=None, max_length=34)
    opening_balance_cents: int | None = None
    closing_balance_cents: int | None = None
    closing_balance_date: date | None = None


class Payment(SQLModel, table=True):
    """One incoming money event; `source_id` (archive id, Paytrail transaction id) is unique,
    so the same payment can never be booked twice."""

    __table_args__ = (
        sa.UniqueConstraint("source", "source_id"),
        # Covering for sums by status and day (escrow reconciliation, dashboard).
        sa.Index("ix_payment_status_day", "status", "booking_date", "source", "amount_cents"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=20)
    source_id: str = Field(max_length=64)
    bank_import_id: int | None = Field(default=None, foreign_key="bankimport.id", index=True)
    booking_date: date
    value_date: date | None = None
    amount_cents: int
    currency: str = Field(default="EUR", max_length=3)
    reference: str | None = Field(default=None, max_length=40)
    national_reference: str | None = Field(default=None, max_length=20, index=True)
    payer_name: str | None = Field(default=None, max_length=140)
    payer_iban: str | None = Field(default=None, max_length=34)
    message: str | None = Field(default=None, max_length=500)
    status: str = Field(default="unmatched", max_length=20)
    match_rule: str | None = Field(default=None, max_length=40)
    reverses_payment_id: int | None = Field(default=None, foreign_key="payment.id")
    # The day a payment marked for refund was paid back to its payer (payments/refunds.py):
    # from then on it is no longer in the escrow account.
    refunded_on: date | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Allocation(SQLModel, table=True):
    """Money from a payment booked to an invoice, or to a payer's credit balance.

    Reversals are new negative allocations, never edits, so history stays.
    """

    # Settlement runs select unsettled allocations by creation time (the cut-off). A
    # payment's allocations with what the reports sum, so the dashboard's weekly money and
    # the journal's "booked" test read this index alone, not each allocation's row.
    __table_args__ = (
        sa.Index("ix_allocation_created_at", "created_at"),
        sa.Index("ix_allocation_payment", "payment_id", "invoice_id", "amount_cents",
                 "created_by_user_id", "rule"),
        # Only payer-credit allocations have a person; the invoice allocations a bank
        # import writes by the 100,000 add nothing to a partial index.
        sa.Index("ix_allocation_person_id", "person_id",
                 postgresql_where=sa.text("person_id IS NOT NULL"),
                 sqlite_where=sa.text("person_id IS NOT NULL")),
    )

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id")
    invoice_id: int | None = Field(default=None, foreign_key="invoice.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="person.id")
    amount_cents: int
    kind: str = Field(default="invoice", max_length=20)
    rule: str | None = Field(default=None, max_length=40)
    reverses_allocation_id: int | None = Field(default=None, foreign_key="allocation.id")
    # Set on the negative allocation with which a credit note moved money from its (paid)
    # invoice to the payer's credit: settlements split it by that credit note's lines. No
    # foreign key or index: the bank import writes allocations by the 100,000 (migration
    # e7a2b5c8d1f6).
    credit_note_id: int | None = None
    # Set on the negative `refund` allocations with which the operator paid credit back to
    # the payer (payments/credit_refunds.py). No foreign key or index, for the same reason
    # (migration f8b3c6d9e2a7).
    credit_refund_id: int | None = None
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class CreditRefund(SQLModel, table=True):
    """Credit the operator pays back to a payer's account; owed until `paid_on` is set.

    The money leaves the payer's balance with `refund` allocations at once; it leaves the
    escrow account only when the operator has transferred it and records the day."""

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    amount_cents: int
    iban: str = Field(max_length=34)
    note: str = Field(default="", max_length=500)
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    paid_on: date | None = None
    paid_by_user_id: int | None = Field(default=None, foreign_key="user.id")


class PaytrailAttempt(SQLModel, table=True):
    """One "pay online" attempt: a fresh stamp each time; state only moves forward."""

    id: int | None = Field(default=None, primary_key=True)
    invoice_id: int = Field(foreign_key="invoice.id", index=True)
    stamp: str = Field(max_length=64, unique=True)
    transaction_id: str | None = Field(default=None, max_length=64, unique=True)
    amount_cents: int
    status: str = Field(default="new", max_length=20)
    href: str | None = Field(default=None, max_length=500)
    payment_id: int | None = Field(default=None, foreign_key="payment.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
