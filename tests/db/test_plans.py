"""Plans on SQLite and PostgreSQL: each limit refuses with a message; usage numbers."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from membook_app.accounts.sessions import resolve_session
from membook_app.accounts.users import get_or_create_user, grant_role
from membook_app.billing.fees import set_fee
from membook_app.billing.runs import commit_run
from membook_app.db import session_scope
from membook_app.errors import LimitReached, PermissionDenied
from membook_app.register.limits import payments_this_year, require_invoicing, usage
from membook_app.register.memberships import add_membership, end_membership
from membook_app.register.organizations import create_organization, get_organization
from membook_app.register.people import create_person
from membook_app.register.plans import DEFAULT_PLANS
from models import Allocation, Invoice, Membership, Organization, Plan, RoleGrant
from tests.factories import make_staff, make_tree


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


def _org(url: str, plan: str, parent: int | None = None) -> int:
    with session_scope(url) as s:
        return create_organization(s, None, name=f"{plan} ry", plan_code=plan,  # type: ignore[return-value]
                                   parent_id=parent).id


def _people(url: str, org_id: int, count: int, prefix: str,
            type_id: int | None = None) -> list[int]:
    with session_scope(url) as s:
        ids = []
        for i in range(count):
            person = create_person(s, None, {"first_name": f"{prefix}{i}", "last_name": "Testi"})
            add_membership(s, None, person_id=person.id, organization_id=org_id,  # type: ignore[arg-type]
                           type_id=type_id, start_date=date(2026, 1, 1))
            ids.append(person.id)
        return ids  # type: ignore[return-value]


def test_plans_are_seeded_as_data(db_url: str) -> None:
    make_tree(db_url)
    with session_scope(db_url) as s:
        plans = {p.code: p for p in s.exec(select(Plan))}
    assert list(plans) == [p["code"] for p in DEFAULT_PLANS]
    assert plans["free"].max_members == 50 and not plans["free"].invoicing_enabled
    assert plans["premium"].max_members is None


def test_member_limit_of_free_plan(db_url: str) -> None:
    make_tree(db_url)
    free = _org(db_url, "free")
    people = _people(db_url, free, 50, "J")
    with session_scope(db_url) as s:
        extra = create_person(s, None, {"first_name": "Viideskymmenes", "last_name": "Yksi"}).id
    with session_scope(db_url) as s:
        with pytest.raises(LimitReached) as exc:
            add_membership(s, None, person_id=extra, organization_id=free, type_id=None,
                           start_date=date(2026, 2, 1))
    assert "enintään 50 jäsentä" in exc.value.fi and "Free" in exc.value.fi
    assert "at most 50 members" in exc.value.en
    with session_scope(db_url) as s:
        assert s.exec(select(Membership).where(Membership.person_id == extra)).first() is None
        m = s.exec(select(Membership).where(Membership.person_id == people[0])).one()
        end_membership(s, None, m.id, end_date=date(2026, 3, 1))
    with session_scope(db_url) as s:  # a resignation frees a place
        add_membership(s, None, person_id=extra, organization_id=free, type_id=None,
                       start_date=date(2026, 3, 2))
    with session_scope(db_url) as s:
        line = next(x for x in usage(s, get_organization(s, free)).lines if x.key == "members")
    assert (line.used, line.limit, line.full, line.text()) == (50, 50, True, "50 / 50")


def test_limits_come_from_plan_rows(db_url: str) -> None:
    """The operator may edit a plan row; the check follows the data, not a constant."""
    make_tree(db_url)
    mini = _org(db_url, "basic_mini")
    with session_scope(db_url) as s:
        plan = s.exec(select(Plan).where(Plan.code == "basic_mini")).one()
        plan.max_members = 2
        s.add(plan)
    _people(db_url, mini, 2, "M")
    with pytest.raises(LimitReached, match="enintään 2 jäsentä"):
        _people(db_url, mini, 1, "N")


def test_suborganization_limits(db_url: str) -> None:
    make_tree(db_url)
    free, mini = _org(db_url, "free"), _org(db_url, "basic_mini")
    with pytest.raises(LimitReached, match="enintään 0 alayhdistystä"):
        _org(db_url, "free", parent=free)
    _org(db_url, "basic_mini", parent=mini)
    _org(db_url, "free", parent=mini)
    with pytest.raises(LimitReached, match="enintään 2 alayhdistystä") as exc:
        _org(db_url, "free", parent=mini)
    assert "at most 2 sub-organisations" in exc.value.en
    with session_scope(db_url) as s:
        assert len(s.exec(select(Organization).where(Organization.parent_id == mini)).all()) == 2
    other_mini = _org(db_url, "basic_mini")
    admin = _actor(db_url, make_staff(db_url, "mini@example.fi", other_mini, "admin"))
    with session_scope(db_url) as s:
        with pytest.raises(PermissionDenied, match="suurempi"):
            create_organization(s, admin, name="Iso ry", parent_id=other_mini,
                                plan_code="premium")


def test_admin_limit(db_url: str) -> None:
    make_tree(db_url)
    free = _org(db_url, "free")
    make_staff(db_url, "first@example.fi", free, "admin")
    make_staff(db_url, "treasurer@example.fi", free, "treasurer")  # not an admin: allowed
    with pytest.raises(LimitReached, match="enintään 1 pääkäyttäjää"):
        make_staff(db_url, "second@example.fi", free, "admin")
    with session_scope(db_url) as s:
        again = get_or_create_user(s, None, "first@example.fi")
        grant_role(s, None, again, free, "admin")  # the same admin again: no new admin
        admins = s.exec(select(RoleGrant).where(RoleGrant.organization_id == free,
                                                RoleGrant.role == "admin")).all()
    assert len(admins) == 1


def test_invoicing_and_payments_usage(db_url: str) -> None:
    tree = make_tree(db_url)
    free = _org(db_url, "free")
    with session_scope(db_url) as s:
        with pytest.raises(LimitReached, match="Laskutus ei kuulu Free-pakettiin"):
            require_invoicing(s, get_organization(s, free))
        require_invoicing(s, get_organization(s, tree.club_a))  # Basic: allowed
    _people(db_url, tree.club_a, 2, "P", tree.type_a)
    today = date(2026, 6, 1)
    with session_scope(db_url) as s:
        set_fee(s, None, organization_id=tree.club_a, period="2026", amount_cents=2000,
                membership_type_id=tree.type_a)
        commit_run(s, None, tree.club_a, False, "2026", date(2026, 2, 1), date(2026, 3, 1),
                   today=date(2026, 2, 1))
        invoices = s.exec(select(Invoice)).all()
        assert len(invoices) == 2
        from models import Payment
        for n, (inv, booked) in enumerate(zip(invoices, [date(2026, 2, 5), date(2025, 12, 30)],
                                              strict=True)):
            payment = Payment(source="manual", source_id=f"p{n}", booking_date=booked,
                              amount_cents=2000)
            s.add(payment)
            s.flush()
            s.add(Allocation(payment_id=payment.id, invoice_id=inv.id,  # type: ignore[arg-type]
                             amount_cents=2000))
        s.flush()
        club = get_organization(s, tree.club_a)
        assert payments_this_year(s, club, today) == 1
        assert payments_this_year(s, get_organization(s, tree.federation), today) == 1
        assert payments_this_year(s, get_organization(s, tree.club_b), today) == 0
        lines = {x.key: (x.used, x.limit) for x in usage(s, club, today).lines}
    assert lines == {"members": (2, 1000), "suborganizations": (0, 20), "admins": (0, 5),
                     "payments": (1, 3000)}
