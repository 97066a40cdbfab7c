"""Register services on SQLite and PostgreSQL: search, filters, edits, memberships, audit."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope
from membook_app.errors import FormErrors, NotFound, PermissionDenied, ValidationError
from membook_app.register.memberships import add_membership, end_membership
from membook_app.register.people import open_person_record, update_own_person, update_person
from membook_app.register.search import RegisterQuery, register_page
from models import AuditEvent, Membership
from tests.factories import make_member, make_member_login, make_staff, make_tree


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


@pytest.fixture
def setup(db_url: str):  # type: ignore[no-untyped-def]
    tree = make_tree(db_url)
    people = {
        "virtanen": make_member(db_url, tree.club_a, tree.type_a, "Matti", "Virtanen",
                                "matti.virtanen@example.fi", city="Oulu"),
        "korhonen": make_member(db_url, tree.club_a, tree.type_a, "Liisa", "Korhonen",
                                "liisa@example.fi"),
        "makinen": make_member(db_url, tree.club_b, tree.type_b, "Pekka", "Mäkinen",
                               "pekka@example.fi"),
    }
    return db_url, tree, people


def test_subtree_search_sort_and_count(setup) -> None:  # type: ignore[no-untyped-def]
    url, tree, _ = setup
    admin = _actor(url, make_staff(url, "d@example.fi", tree.district, "admin"))
    with session_scope(url) as s:
        page = register_page(s, admin, RegisterQuery(organization_id=tree.district))
        assert page.total == 3
        assert [r.last_name for r in page.rows] == ["Korhonen", "Mäkinen", "Virtanen"]
        only_a = register_page(s, admin, RegisterQuery(organization_id=tree.district,
                                                       include_suborganizations=True,
                                                       search="virt matt"))
        assert [r.email for r in only_a.rows] == ["matti.virtanen@example.fi"]
        by_email = register_page(s, admin, RegisterQuery(organization_id=tree.district,
                                                         search="PEKKA@"))
        assert by_email.total == 1
        club = register_page(s, admin, RegisterQuery(organization_id=tree.club_a,
                                                     include_suborganizations=False,
                                                     type_id=tree.type_a, sort="name",
                                                     descending=True, page_size=1, page=2))
        assert club.total == 2 and club.pages == 2
        assert [r.last_name for r in club.rows] == ["Korhonen"]
        assert register_page(s, admin, RegisterQuery(
            organization_id=tree.district, search="1")).total == 2  # member number 1 in A and B


def test_sibling_admin_cannot_read_other_club(setup) -> None:  # type: ignore[no-untyped-def]
    url, tree, people = setup
    admin_b = _actor(url, make_staff(url, "b@example.fi", tree.club_b, "admin"))
    with session_scope(url) as s:
        with pytest.raises(PermissionDenied):
            register_page(s, admin_b, RegisterQuery(organization_id=tree.club_a))
        with pytest.raises(NotFound):
            open_person_record(s, admin_b, people["virtanen"])


def test_update_person_validates_every_field_and_audits(setup) -> None:  # type: ignore[no-untyped-def]
    url, tree, people = setup
    admin = _actor(url, make_staff(url, "a@example.fi", tree.club_a, "treasurer"))
    with session_scope(url) as s, pytest.raises(FormErrors) as caught:
        update_person(s, admin, people["virtanen"],
                      {"phone": "12", "postal_code": "ABC", "email": "not-an-email"})
    assert set(caught.value.errors) == {"phone", "postal_code", "email"}
    with session_scope(url) as s, pytest.raises(FormErrors):
        update_person(s, admin, people["virtanen"], {"email": "liisa@example.fi"})  # taken
    with session_scope(url) as s:
        person = update_person(s, admin, people["virtanen"],
                               {"phone": "040 123 4567", "birth_date": "1.2.1980"})
        assert person.phone == "+358401234567" and person.birth_date == date(1980, 2, 1)
    with session_scope(url) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.action == "person.updated")).all()
        assert len(events) == 1
        assert events[0].after == {"phone": "+358401234567", "birth_date": "1980-02-01"}
        assert events[0].before == {"phone": None, "birth_date": None}
        assert events[0].actor_label == "a@example.fi"


def test_viewer_cannot_write_and_open_is_logged(setup) -> None:  # type: ignore[no-untyped-def]
    url, tree, people = setup
    viewer = _actor(url, make_staff(url, "v@example.fi", tree.federation, "viewer"))
    with session_scope(url) as s:
        open_person_record(s, viewer, people["makinen"])
    with session_scope(url) as s, pytest.raises(PermissionDenied):
        update_person(s, viewer, people["makinen"], {"city": "Turku"})
    with session_scope(url) as s:
        views = s.exec(select(AuditEvent).where(AuditEvent.action == "person.viewed")).all()
        assert [(e.object_id, e.actor_label) for e in views] == [
            (people["makinen"], "v@example.fi")]


def test_member_edits_only_own_contact_fields(setup) -> None:  # type: ignore[no-untyped-def]
    url, _, people = setup
    member = _actor(url, make_member_login(url, "liisa@example.fi"))
    with session_scope(url) as s:
        person = update_own_person(s, member, {"city": "Tampere", "postal_code": "33100"})
        assert person.id == people["korhonen"] and person.city == "Tampere"
    with session_scope(url) as s, pytest.raises(PermissionDenied):
        update_own_person(s, member, {"last_name": "Hacker"})


def test_membership_lifecycle(setup) -> None:  # type: ignore[no-untyped-def]
    url, tree, people = setup
    admin = _actor(url, make_staff(url, "fed@example.fi", tree.federation, "admin"))
    with session_scope(url) as s:
        joined = add_membership(s, admin, person_id=people["makinen"],
                                organization_id=tree.club_a, type_id=tree.type_a,
                                start_date=date(2026, 1, 1))
        assert joined.member_number == 3  # two members already in club A
    with session_scope(url) as s, pytest.raises(ValidationError):
        add_membership(s, admin, person_id=people["makinen"], organization_id=tree.club_a,
                       type_id=tree.type_a, start_date=date(2026, 1, 1))  # already a member
    with session_scope(url) as s, pytest.raises(ValidationError):
        add_membership(s, admin, person_id=people["virtanen"], organization_id=tree.club_b,
                       type_id=tree.type_a, start_date=date(2026, 1, 1))  # A's type in B
    with session_scope(url) as s:
        ended = end_membership(s, admin, joined.id, end_date=date(2026, 6, 30))  # type: ignore[arg-type]
        assert (ended.status, ended.end_date) == ("resigned", date(2026, 6, 30))
    with session_scope(url) as s:
        actions = [e.action for e in s.exec(select(AuditEvent).where(
            AuditEvent.object_type == "membership", AuditEvent.object_id == joined.id))]
        assert actions == ["membership.created", "membership.ended"]
        assert s.get(Membership, joined.id).status == "resigned"


def test_pages_agree_from_both_ends_and_search_folds_case(db_url: str) -> None:
    """Late pages are read in reverse internally; the rows must be the same as forward."""
    tree = make_tree(db_url)
    names = ["Ärölä", "Aalto", "Björk", "Öhman", "Laine", "Virta", "Niemi", "Salo", "Koski",
             "Mäki", "Heino", "Lahti", "Aho", "Rinne", "Vuori"]
    for i, last in enumerate(names):
        make_member(db_url, tree.club_a, tree.type_a, f"Etu{i}", last, f"p{i}@example.fi")
    admin = _actor(url := db_url, make_staff(url, "x@example.fi", tree.club_a, "admin"))
    with session_scope(url) as s:
        everything = register_page(s, admin, RegisterQuery(organization_id=tree.club_a,
                                                           page_size=200))
        forward = [r.membership_id for r in everything.rows]
        paged = []
        for page in range(1, 5):
            paged += [r.membership_id for r in register_page(s, admin, RegisterQuery(
                organization_id=tree.club_a, page_size=4, page=page)).rows]
        assert paged == forward and len(forward) == 15
        backwards = []
        for page in range(1, 5):
            backwards += [r.membership_id for r in register_page(s, admin, RegisterQuery(
                organization_id=tree.club_a, page_size=4, page=page, descending=True)).rows]
        assert backwards == list(reversed(forward))
        found = register_page(s, admin, RegisterQuery(organization_id=tree.club_a,
                                                      search="ÄRÖ"))
        assert [r.last_name for r in found.rows] == ["Ärölä"]
