"""SQLModel tables only; importing this package registers every table in the metadata."""

from models.account import ROLES, AuthSession, LoginAttempt, RoleGrant, UsedToken, User
from models.audit import AuditEvent
from models.base import utcnow
from models.mail import OutboxMessage
from models.organization import Organization, Plan
from models.person import LANGUAGES, MEMBERSHIP_STATUSES, Membership, MembershipType, Person

__all__ = [
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
