"""What a signed-in user may do, decided for the very object they touch.

A role granted on an organisation covers its whole subtree; the check is a
prefix comparison of materialised paths ("/1/4/" covers "/1/4/9/").
Operators are global. Members (users linked to a person) reach only their
own person record through the portal services, never through these roles.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.errors import PermissionDenied
from models import Organization, RoleGrant, User

# Which roles allow an action. Treasurers keep the register in most Finnish
# associations, so they may write it; only admins manage access and settings.
ACTION_ROLES: dict[str, frozenset[str]] = {
    "register.read": frozenset({"admin", "treasurer", "viewer"}),
    "register.write": frozenset({"admin", "treasurer"}),
    "billing.read": frozenset({"admin", "treasurer", "viewer"}),
    "billing.write": frozenset({"admin", "treasurer"}),
    "org.manage": frozenset({"admin"}),
    "grants.manage": frozenset({"admin"}),
}


@dataclass(frozen=True)
class Grant:
    organization_id: int
    path: str
    role: str
    name: str


@dataclass(frozen=True)
class Actor:
    """The resolved identity behind a request; built fresh from the database per event."""

    user_id: int
    email: str
    display_name: str
    is_operator: bool = False
    person_id: int | None = None
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @property
    def is_staff(self) -> bool:
        """True for anyone who may open the admin pages."""
        return self.is_operator or bool(self.grants)

    def roles_on(self, org_path: str) -> set[str]:
        """Roles that cover the organisation at `org_path` through it or an ancestor."""
        return {g.role for g in self.grants if org_path.startswith(g.path)}

    def can(self, action: str, org_path: str) -> bool:
        """Whether the action is allowed on the organisation with this path."""
        if action not in ACTION_ROLES:
            raise KeyError(f"unknown action {action!r}")
        if self.is_operator:
            return True
        return bool(self.roles_on(org_path) & ACTION_ROLES[action])

    def require(self, action: str, org: Organization) -> None:
        """Raise PermissionDenied unless the action is allowed on `org`."""
        if not self.can(action, org.path):
            raise PermissionDenied()

    def root_paths(self, action: str | None = None) -> list[str]:
        """Paths of the topmost organisations the grants cover (for subtree queries);
        with `action`, only the grants whose role allows it."""
        roles = ACTION_ROLES[action] if action else None
        paths = sorted({g.path for g in self.grants if roles is None or g.role in roles},
                       key=len)
        roots: list[str] = []
        for p in paths:
            if not any(p.startswith(r) for r in roots):
                roots.append(p)
        return roots


def in_subtrees(actor: Actor, action: str | None = None) -> sa.ColumnElement[bool]:
    """SQL condition on `Organization`: inside the actor's subtrees (those where `action`
    is allowed, when given); true for the operator, false for someone with no grant."""
    if actor.is_operator:
        return sa.true()
    return sa.or_(sa.false(), *(col(Organization.path).startswith(path)
                                for path in actor.root_paths(action)))


def load_actor(session: Session, user: User) -> Actor:
    """Build the Actor for a user with their grants and the grants' organisation paths."""
    rows = session.exec(
        select(RoleGrant.organization_id, Organization.path, RoleGrant.role, Organization.name)
        .join(Organization, Organization.id == RoleGrant.organization_id)
        .where(RoleGrant.user_id == user.id)
    ).all()
    assert user.id is not None
    return Actor(
        user_id=user.id,
        email=user.email,
        display_name=user.display_name or user.email,
        is_operator=user.is_operator,
        person_id=user.person_id,
        grants=tuple(Grant(org_id, path, role, name) for org_id, path, role, name in rows),
    )


def visible_organizations(session: Session, actor: Actor) -> list[Organization]:
    """Organisations for the switcher: the grants' subtrees (everything for operators)."""
    query = select(Organization).order_by(Organization.path)
    orgs = session.exec(query).all()
    if actor.is_operator:
        return list(orgs)
    roots = actor.root_paths()
    return [o for o in orgs if any(o.path.startswith(r) for r in roots)]
