"""User accounts and role grants (who administers which part of the tree)."""

from __future__ import annotations

from sqlmodel import Session, select

from membook_app import audit
from membook_app.accounts.passwords import hash_password
from membook_app.accounts.permissions import Actor
from membook_app.errors import ValidationError
from membook_app.register import validation as v
from membook_app.register.organizations import get_organization
from models import ROLES, Person, RoleGrant, User


def get_or_create_user(session: Session, actor: Actor | None, email: str, *,
                       password: str | None = None, display_name: str = "",
                       is_operator: bool = False) -> User:
    """The user with this email, created when missing (linked to a person with that email)."""
    clean = v.clean_email(email)
    if clean is None:
        raise ValidationError("Sähköposti puuttuu", "Email is required", field="email")
    user = session.exec(select(User).where(User.email == clean)).first()
    if user is None:
        person = session.exec(select(Person).where(Person.email == clean)).first()
        user = User(email=clean, display_name=display_name,
                    person_id=person.id if person else None)
        if person and not display_name:
            user.display_name = f"{person.first_name} {person.last_name}"
        session.add(user)
        session.flush()
        audit.record(session, actor, "user.created", "user", user.id, after={"email": clean})
    if password is not None:
        user.password_hash = hash_password(password)
    if is_operator and not user.is_operator:
        if actor is not None and not actor.is_operator:
            raise ValidationError("Vain operaattori voi lisätä operaattorin",
                                  "Only an operator can make an operator")
        user.is_operator = True
        audit.record(session, actor, "user.operator_granted", "user", user.id,
                     after={"is_operator": True})
    session.add(user)
    return user


def grant_role(session: Session, actor: Actor | None, user: User, organization_id: int,
               role: str) -> RoleGrant:
    """Give a role on an organisation (idempotent); admins may grant only inside their subtree."""
    if role not in ROLES:
        raise ValidationError(f"Rooli on yksi näistä: {', '.join(ROLES)}",
                              f"Role must be one of: {', '.join(ROLES)}", field="role")
    org = get_organization(session, organization_id)
    if actor is not None:
        actor.require("grants.manage", org)
    existing = session.exec(select(RoleGrant).where(
        RoleGrant.user_id == user.id, RoleGrant.organization_id == org.id,
        RoleGrant.role == role)).first()
    if existing is not None:
        return existing
    if role == "admin":
        from membook_app.register.limits import check_admin_limit

        check_admin_limit(session, org, user.id)  # type: ignore[arg-type]
    grant = RoleGrant(user_id=user.id, organization_id=org.id, role=role)  # type: ignore[arg-type]
    session.add(grant)
    session.flush()
    audit.record(session, actor, "grant.created", "rolegrant", grant.id, organization_id=org.id,
                 after={"user": user.email, "role": role})
    return grant


def revoke_role(session: Session, actor: Actor | None, grant_id: int) -> None:
    """Remove a grant; audited with what it was."""
    grant = session.get(RoleGrant, grant_id)
    if grant is None:
        raise ValidationError("Oikeutta ei löydy", "Grant not found")
    org = get_organization(session, grant.organization_id)
    if actor is not None:
        actor.require("grants.manage", org)
    audit.record(session, actor, "grant.revoked", "rolegrant", grant.id, organization_id=org.id,
                 before={"user_id": grant.user_id, "role": grant.role})
    session.delete(grant)
