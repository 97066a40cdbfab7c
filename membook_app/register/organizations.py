"""Organisations: creating them in the tree and finding subtrees."""

from __future__ import annotations

from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.accounts.permissions import Actor
from membook_app.errors import NotFound, PermissionDenied
from membook_app.register import validation as v
from membook_app.register.plans import plan_by_code
from models import Organization


def get_organization(session: Session, org_id: int) -> Organization:
    """The organisation, or NotFound."""
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound("Yhdistystä ei löydy", "Organisation not found", field="organization")
    return org


def find_organization(session: Session, ref: str) -> Organization:
    """Look an organisation up by id or exact name (for the command line)."""
    org = None
    if ref.isdigit():
        org = session.get(Organization, int(ref))
    if org is None:
        org = session.exec(select(Organization).where(Organization.name == ref)).first()
    if org is None:
        raise NotFound(f"Yhdistystä {ref!r} ei löydy", f"Organisation {ref!r} not found",
                       field="organization")
    return org


def subtree_ids(session: Session, org: Organization) -> list[int]:
    """Ids of the organisation and all its descendants (one indexed prefix query)."""
    return list(
        session.exec(select(Organization.id).where(col(Organization.path).startswith(org.path)))
    )


def create_organization(
    session: Session,
    actor: Actor | None,
    *,
    name: str,
    parent_id: int | None = None,
    plan_code: str = "basic",
    business_id: str | None = None,
    association_id: str | None = None,
    iban: str | None = None,
    email: str | None = None,
) -> Organization:
    """Create an organisation under `parent_id`.

    Top-level customers are created by operators; admins may add
    sub-organisations inside their own subtree. `actor=None` is the system
    (seeding, the command line run by the operator on the server).
    """
    parent = get_organization(session, parent_id) if parent_id is not None else None
    if actor is not None:
        if parent is None and not actor.is_operator:
            raise PermissionDenied()
        if parent is not None:
            actor.require("org.manage", parent)
    if parent is not None:
        from membook_app.register.limits import check_suborganization_limit

        check_suborganization_limit(session, actor, parent, plan_code)
    org = Organization(
        name=v.clean_name(name, "name") if len(name) <= 100 else name.strip()[:200],
        parent_id=parent.id if parent else None,
        plan_id=plan_by_code(session, plan_code).id,  # type: ignore[arg-type]
        business_id=v.clean_business_id(business_id),
        association_id=v.clean_association_id(association_id),
        iban=v.clean_iban(iban),
        email=v.clean_email(email),
    )
    session.add(org)
    session.flush()
    org.path = f"{parent.path if parent else '/'}{org.id}/"
    session.add(org)
    audit.record(session, actor, "organization.created", "organization", org.id,
                 organization_id=org.id, after={"name": org.name, "parent_id": org.parent_id})
    return org
