"""SQLModel tables only; importing this package registers every table in the metadata."""

from models.account import ROLES, AuthSession, LoginAttempt, RoleGrant, UsedToken, User
from models.audit import AuditEvent
from models.base import utcnow
from models.billing import (
    INVOICE_STATUSES,
    Fee,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    Reminder,
    ReminderRule,
    RunPrice,
    RunPriceLine,
    invoice_lines,
)
from models.extras import CUSTOM_FIELD_KINDS, CustomField, CustomFieldValue, DeletionRequest, Job
from models.mail import OutboxMessage
from models.money import (
    PAYMENT_SOURCES,
    Allocation,
    BankImport,
    CreditRefund,
    Payment,
    PaytrailAttempt,
)
from models.organization import Organization, Plan
from models.person import (
    LANGUAGES,
    MEMBERSHIP_STATUSES,
    Membership,
    MembershipStatusChange,
    MembershipType,
    Person,
)
from models.settlement import (
    SETTLEMENT_RUN_STATUSES,
    SETTLEMENT_STATUSES,
    Settlement,
    SettlementLine,
    SettlementRun,
)

__all__ = [
    "CUSTOM_FIELD_KINDS",
    "INVOICE_STATUSES",
    "PAYMENT_SOURCES",
    "Allocation",
    "BankImport",
    "CreditRefund",
    "CustomField",
    "CustomFieldValue",
    "DeletionRequest",
    "Fee",
    "Invoice",
    "InvoiceLine",
    "InvoiceRun",
    "RunPrice",
    "RunPriceLine",
    "invoice_lines",
    "Job",
    "MembershipStatusChange",
    "Payment",
    "PaytrailAttempt",
    "Reminder",
    "ReminderRule",
    "SETTLEMENT_RUN_STATUSES",
    "SETTLEMENT_STATUSES",
    "Settlement",
    "SettlementLine",
    "SettlementRun",
    "LANGUAGES",
    "MEMBERSHIP_STATUSES",
    "ROLES",
    "AuditEvent",
    "AuthSession",
    "LoginAttempt",
    "Membership",
    "MembershipType",
    "Organization",
    "OutboxMessage",
    "Person",
    "Plan",
    "RoleGrant",
    "UsedToken",
    "User",
    "utcnow",
]
