"""Households on SQLite and PostgreSQL: setting and clearing a payer, the rules, audit."""

from __future__ import annotations

import pytest
from sqlmodel import select

from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.register.households import household_of, payer_candidates, set_payer
from models import AuditEvent, Person
from tests.factories import make_member, make_staff, make_tree


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


@pytest.fixture
def family(db_url: str):  # type: ignore[no-untyped-def]
    tree = make_tree(db_url)
    people = {
        "mother": make_member(db_url, tree.club_a, tree.type_a, "Anna", "Koti", "anna@example.fi"),
        "child": make_member(db_url, tree.club_a, tree.type_a, "Eero", "Koti"),
        "child2": make_member(db_url, tree.club_a, tree.type_a, "Aino", "Koti"),
        "other_club": make_member(db_url, tree.club_b, tree.type_b, "Olli", "Muu"),
    }
    admin = _actor(db_url, make_staff(db_url, "a@example.fi", tree.club_a, "admin"))
    return db_url, tree, people, admin


def _payer(url: str, person_id: int) -> int | None:
    with session_scope(url) as s:
        return s.get(Person, person_id).payer_id  # type: ignore[union-attr]


def test_set_and_clear_payer_is_audited(family) -> None:  # type: ignore[no-untyped-def]
    url, _tree, p, admin = family
    with session_scope(url) as s:
        set_payer(s, admin, p["child"], p["mother"])
        set_payer(s, admin, p["child2"], p["mother"])
    assert _payer(url, p["child"]) == p["mother"]
    with session_scope(url) as s:
        members = household_of(s, admin, p["child"])
    assert [(m.name, m.is_payer) for m in members] == [
        ("Koti Anna", True), ("Koti Aino", False), ("Koti Eero", False)]
    with session_scope(url) as s:
        set_payer(s, admin, p["child"], None)
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "person.payer_set",
                                                 AuditEvent.object_id == p["child"])
                        .order_by(AuditEvent.id)).all()
    assert _payer(url, p["child"]) is None
    assert [(e.before, e.after) for e in events] == [
        ({"payer_id": None}, {"payer_id": p["mother"]}),
        ({"payer_id": p["mother"]}, {"payer_id": None})]


def test_no_self_no_cycle_and_flat_households(family) -> None:  # type: ignore[no-untyped-def]
    url, _tree, p, admin = family
    with session_scope(url) as s:
        with pytest.raises(ValidationError, match="oma maksajansa"):
            set_payer(s, admin, p["mother"], p["mother"])
    with session_scope(url) as s:
        set_payer(s, admin, p["child"], p["mother"])
    with session_scope(url) as s:
        with pytest.raises(ValidationError, match="Kehä"):
            set_payer(s, admin, p["mother"], p["child"])
    with session_scope(url) as s:
        with pytest.raises(ValidationError, match="maksaa Koti Anna"):
            set_payer(s, admin, p["child2"], p["child"])
    assert _payer(url, p["mother"]) is None
    assert _payer(url, p["child2"]) is None


def test_payer_must_share_an_organisation(family) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, _admin = family
    district_admin = _actor(url, make_staff(url, "d@example.fi", tree.district, "admin"))
    with session_scope(url) as s:
        with pytest.raises(ValidationError, match="saman yhdistyksen"):
            set_payer(s, district_admin, p["child"], p["other_club"])
    assert _payer(url, p["child"]) is None


def test_refused_for_viewer_and_sibling_admin(family) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, _admin = family
    viewer = _actor(url, make_staff(url, "v@example.fi", tree.club_a, "viewer"))
    sibling = _actor(url, make_staff(url, "b@example.fi", tree.club_b, "admin"))
    with session_scope(url) as s:
        with pytest.raises(PermissionDenied):
            set_payer(s, viewer, p["child"], p["mother"])
    with session_scope(url) as s:
        with pytest.raises(NotFound):
            set_payer(s, sibling, p["child"], p["mother"])
    assert _payer(url, p["child"]) is None


def test_payer_candidates_are_from_common_organisations(family) -> None:  # type: ignore[no-untyped-def]
    url, _tree, p, admin = family
    with session_scope(url) as s:
        names = [c.label for c in payer_candidates(s, admin, p["child"], "koti")]
    assert names == ["Koti Aino", "Koti Anna <anna@example.fi>"]
