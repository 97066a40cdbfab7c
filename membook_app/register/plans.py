"""The four plans as data. Limits live in the Plan rows; this only seeds them."""

from __future__ import annotations

from sqlmodel import Session, select

from models import Plan

DEFAULT_PLANS: tuple[dict[str, object], ...] = (
    {"code": "free", "name": "Free", "max_members": 50, "max_payments_per_year": 0,
     "max_suborganizations": 0, "max_admins": 1, "invoicing_enabled": False,
     "transaction_fee_cents": 0, "monthly_price_cents": 0, "sort_order": 1},
    {"code": "basic_mini", "name": "Basic Mini", "max_members": 150,
     "max_payments_per_year": 300, "max_suborganizations": 2, "max_admins": 2,
     "invoicing_enabled": True, "transaction_fee_cents": 45, "monthly_price_cents": 900,
     "sort_order": 2},
    {"code": "basic", "name": "Basic", "max_members": 1000, "max_payments_per_year": 3000,
     "max_suborganizations": 20, "max_admins": 5, "invoicing_enabled": True,
     "transaction_fee_cents": 35, "monthly_price_cents": 2900, "sort_order": 3},
    {"code": "premium", "name": "Premium", "max_members": None, "max_payments_per_year": None,
     "max_suborganizations": None, "max_admins": None, "invoicing_enabled": True,
     "transaction_fee_cents": 25, "monthly_price_cents": 9900, "sort_order": 4},
)


def ensure_plans(session: Session) -> None:
    """Insert any missing default plan; existing rows (maybe edited by the operator) stay."""
    existing = set(session.exec(select(Plan.code)).all())
    for plan in DEFAULT_PLANS:
        if plan["code"] not in existing:
            session.add(Plan(**plan))  # type: ignore[arg-type]
    session.flush()


def plan_by_code(session: Session, code: str) -> Plan:
    """The plan with this code; a clear error when it does not exist."""
    from membook_app.errors import NotFound

    plan = session.exec(select(Plan).where(Plan.code == code)).first()
    if plan is None:
        raise NotFound(f"Tuntematon paketti {code!r}", f"Unknown plan {code!r}", field="plan")
    return plan
