"""Membership lifecycle on SQLite and PostgreSQL: status history and "deemed resigned"."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from membook_app.accounts.sessions import resolve_session
from membook_app.billing.fees import set_fee
from membook_app.billing.runs import commit_run
from membook_app.billing.status import refresh_overdue
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.register.lifecycle import (
    apply_deemed_resigned,
    deemed_resigned_candidates,
    status_history,
)
from membook_app.register.memberships import end_membership
from models import AuditEvent, Membership, MembershipStatusChange
from tests.factories import make_member, make_staff, make_tree

TODAY = date(2026, 6, 1)


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


def _membership(url: str, person_id: int) -> Membership:
    with session_scope(url) as s:
        return s.exec(select(Membership).where(Membership.person_id == person_id)).one()


@pytest.fixture
def club(db_url: str):  # type: ignore[no-untyped-def]
    tree = make_tree(db_url)
    people = {n: make_member(db_url, tree.club_a, tree.type_a, n.title(), "Testi")
              for n in ("paid", "unpaid", "unpaid2")}
    other = make_member(db_url, tree.club_b, tree.type_b, "Bertta", "Muu")
    admin = _actor(db_url, make_staff(db_url, "a@example.fi", tree.club_a, "admin"))
    return db_url, tree, people, other, admin


def _invoice_period(url: str, tree) -> None:  # type: ignore[no-untyped-def]
    """A 2026 invoice run for club A and club B, due 1.3.2026, then everything overdue."""
    with session_scope(url) as s:
        for org, mtype in ((tree.club_a, tree.type_a), (tree.club_b, tree.type_b)):
            set_fee(s, None, organization_id=org, period="2026", amount_cents=3000,
                    membership_type_id=mtype)
            commit_run(s, None, org, False, "2026", date(2026, 2, 1), date(2026, 3, 1),
                       today=date(2026, 2, 1))
        refresh_overdue(s, TODAY)


def test_every_transition_is_in_the_history(club) -> None:  # type: ignore[no-untyped-def]
    url, _tree, people, _other, admin = club
    m = _membership(url, people["paid"])
    with session_scope(url) as s:
        end_membership(s, admin, m.id, end_date=TODAY, status="ended", reason="Muutti pois")
    with session_scope(url) as s:
        changes = s.exec(select(MembershipStatusChange).where(
            MembershipStatusChange.membership_id == m.id)
            .order_by(MembershipStatusChange.id)).all()
        history = status_history(s, admin, people["paid"])
    assert [(c.from_status, c.to_status) for c in changes] == [(None, "active"),
                                                               ("active", "ended")]
    assert changes[1].reason == "Muutti pois"
    assert changes[1].actor_user_id == admin.user_id
    assert [h.to_status for h in history] == ["ended", "active"]


def test_no_invoices_no_candidates(club) -> None:  # type: ignore[no-untyped-def]
    url, tree, _people, _other, admin = club
    with session_scope(url) as s:
        assert deemed_resigned_candidates(s, admin, tree.club_a, "2026", TODAY) == []


def test_deemed_resigned_only_by_explicit_action(club) -> None:  # type: ignore[no-untyped-def]
    url, tree, people, other, admin = club
    _invoice_period(url, tree)
    with session_scope(url) as s:
        from membook_app.billing.status import refresh_invoices
        from models import Allocation, Invoice, Payment
        paid = s.exec(select(Invoice).where(Invoice.person_id == people["paid"])).one()
        payment = Payment(source="manual", source_id="t1", booking_date=date(2026, 2, 10),
                          amount_cents=paid.total_cents)
        s.add(payment)
        s.flush()
        s.add(Allocation(payment_id=payment.id, invoice_id=paid.id,  # type: ignore[arg-type]
                         amount_cents=paid.total_cents))
        s.flush()
        refresh_invoices(s, [paid.id], TODAY)  # type: ignore[list-item]
    with session_scope(url) as s:
        candidates = deemed_resigned_candidates(s, admin, tree.club_a, "2026", TODAY)
    assert sorted(c.person_id for c in candidates) == sorted([people["unpaid"],
                                                              people["unpaid2"]])
    assert all(c.open_cents == 3000 for c in candidates)
    # Nothing has changed just by listing them.
    assert _membership(url, people["unpaid"]).status == "active"
    target = _membership(url, people["unpaid"]).id
    with session_scope(url) as s:
        with pytest.raises(ValidationError, match="perustelu"):
            apply_deemed_resigned(s, admin, tree.club_a, "2026", [target], "", TODAY)
    with session_scope(url) as s:  # a paid member's id is refused, nothing is written
        with pytest.raises(NotFound):
            apply_deemed_resigned(s, admin, tree.club_a, "2026",
                                  [target, _membership(url, people["paid"]).id],
                                  "Hallituksen päätös 20.5.2026", TODAY)
    with session_scope(url) as s:  # another club's member through this club: refused
        with pytest.raises(NotFound):
            apply_deemed_resigned(s, admin, tree.club_a, "2026",
                                  [_membership(url, other).id], "Hallituksen päätös", TODAY)
    assert _membership(url, people["unpaid"]).status == "active"
    with session_scope(url) as s:
        count = apply_deemed_resigned(s, admin, tree.club_a, "2026", [target],
                                      "Hallituksen päätös 20.5.2026", TODAY)
    assert count == 1
    m = _membership(url, people["unpaid"])
    assert (m.status, m.end_date) == ("deemed_resigned", TODAY)
    assert _membership(url, people["unpaid2"]).status == "active"
    assert _membership(url, other).status == "active"
    with session_scope(url) as s:
        change = s.exec(select(MembershipStatusChange).where(
            MembershipStatusChange.membership_id == target,
            MembershipStatusChange.to_status == "deemed_resigned")).one()
        event = s.exec(select(AuditEvent).where(
            AuditEvent.action == "membership.deemed_resigned",
            AuditEvent.object_id == target)).one()
    assert "Hallituksen päätös" in (change.reason or "")
    assert change.actor_user_id == admin.user_id
    assert event.after["status"] == "deemed_resigned" and event.after["period"] == "2026"


def test_viewer_cannot_deem_resigned(club) -> None:  # type: ignore[no-untyped-def]
    url, tree, people, _other, _admin = club
    _invoice_period(url, tree)
    viewer = _actor(url, make_staff(url, "v@example.fi", tree.club_a, "viewer"))
    with session_scope(url) as s:
        with pytest.raises(PermissionDenied):
            apply_deemed_resigned(s, viewer, tree.club_a, "2026",
                                  [_membership(url, people["unpaid"]).id], "Päätös tehty", TODAY)
    assert _membership(url, people["unpaid"]).status == "active"
