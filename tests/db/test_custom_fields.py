"""Custom fields on SQLite and PostgreSQL: definitions, validation by kind, values, filters."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlmodel import select

from membook_app.accounts.sessions import resolve_session
from membook_app.db import session_scope
from membook_app.errors import FormErrors, NotFound, PermissionDenied
from membook_app.register import custom_fields as cf
from membook_app.register.search import RegisterQuery, register_page
from models import AuditEvent, CustomFieldValue
from tests.factories import make_member, make_staff, make_tree


def _actor(url: str, token: str):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        actor = resolve_session(s, token)
    assert actor is not None
    return actor


@pytest.fixture
def fields(db_url: str):  # type: ignore[no-untyped-def]
    tree = make_tree(db_url)
    a = make_member(db_url, tree.club_a, tree.type_a, "Aila", "Alanen")
    b = make_member(db_url, tree.club_a, tree.type_a, "Bert", "Bäck")
    c = make_member(db_url, tree.club_b, tree.type_b, "Cecilia", "Cox")
    admin = _actor(db_url, make_staff(db_url, "a@example.fi", tree.club_a, "admin"))
    with session_scope(db_url) as s:
        ids = {
            "shirt": cf.create_field(s, admin, tree.club_a, {
                "key": "shirt", "label": "Paitakoko", "kind": "choice", "choices": "S, M, L",
                "visible_to_member": True}).id,
            "km": cf.create_field(s, admin, tree.club_a, {
                "key": "km", "label": "Kilometrit", "kind": "number"}).id,
            "licence": cf.create_field(s, admin, tree.club_a, {
                "key": "licence", "label": "Lisenssi voimassa", "kind": "date",
                "required": True}).id,
            "coach": cf.create_field(s, admin, tree.club_a, {
                "key": "coach", "label": "Valmentaja", "kind": "bool"}).id,
            "note": cf.create_field(s, None, tree.federation, {
                "key": "note", "label": "Liiton huomio", "kind": "text"}).id,
        }
    return db_url, tree, {"a": a, "b": b, "c": c}, admin, ids


def test_values_are_validated_by_kind_all_errors_at_once(fields) -> None:  # type: ignore[no-untyped-def]
    url, _tree, p, admin, _ids = fields
    with session_scope(url) as s:
        with pytest.raises(FormErrors) as exc:
            cf.set_values(s, admin, p["a"], {"shirt": "XXL", "km": "paljon",
                                              "licence": "31.2.2026", "coach": "ehkä",
                                              "nope": "x"})
    assert set(exc.value.errors) == {"shirt", "km", "licence", "coach", "nope"}
    assert "S, M, L" in exc.value.errors["shirt"].fi
    with session_scope(url) as s:
        with pytest.raises(FormErrors) as exc:
            cf.set_values(s, admin, p["a"], {"licence": ""})
    assert "pakollinen" in exc.value.errors["licence"].fi
    with session_scope(url) as s:
        assert s.exec(select(CustomFieldValue)).all() == []


def test_values_are_stored_canonically_and_audited(fields) -> None:  # type: ignore[no-untyped-def]
    url, _tree, p, admin, ids = fields
    with session_scope(url) as s:
        changed = cf.set_values(s, admin, p["a"], {"shirt": "m", "km": "1 200,50",
                                                    "licence": "1.3.2027", "coach": "kyllä",
                                                    "note": " Hyvä "})
    assert changed == {"shirt": "M", "km": "1200.5", "licence": "2027-03-01", "coach": "true",
                       "note": "Hyvä"}
    with session_scope(url) as s:
        values = cf.values_for(s, [p["a"], p["b"]], ids.values())
        fields_by_id = {f.id: f for f in cf.fields_for_person(s, p["a"])}
        event = s.exec(select(AuditEvent).where(
            AuditEvent.action == "person.custom_fields")).one()
    assert p["b"] not in values
    typed = {fields_by_id[k].key: cf.typed_value(fields_by_id[k], v)
             for k, v in values[p["a"]].items()}
    assert typed == {"shirt": "M", "km": Decimal("1200.5"), "licence": date(2027, 3, 1),
                     "coach": True, "note": "Hyvä"}
    assert cf.display_value(fields_by_id[ids["km"]], "1200.5") == "1200,5"
    assert event.after["km"] == "1200.5" and event.before["km"] is None
    # Clearing an optional value removes the row.
    with session_scope(url) as s:
        cf.set_values(s, admin, p["a"], {"note": ""})
        assert ids["note"] not in cf.values_for(s, [p["a"]], ids.values())[p["a"]]


def test_definition_rules(fields) -> None:  # type: ignore[no-untyped-def]
    url, tree, _p, admin, ids = fields
    with session_scope(url) as s:
        with pytest.raises(FormErrors) as exc:
            cf.create_field(s, admin, tree.club_a, {"key": "shirt", "label": "Toinen"})
    assert "key" in exc.value.errors
    with session_scope(url) as s:
        with pytest.raises(FormErrors) as exc:
            cf.create_field(s, admin, tree.club_a, {"key": "Bad Key", "label": "X",
                                                    "kind": "choice"})
    assert {"key", "choices"} & set(exc.value.errors)
    treasurer = _actor(url, make_staff(url, "t@example.fi", tree.club_a, "treasurer"))
    with session_scope(url) as s:
        with pytest.raises(PermissionDenied):
            cf.create_field(s, treasurer, tree.club_a, {"key": "x", "label": "X"})
    with session_scope(url) as s:
        assert [f.key for f in cf.list_fields(s, tree.club_a)] == ["shirt", "km", "licence",
                                                                   "coach"]
        assert [f.key for f in cf.list_fields(s, tree.club_a, include_ancestors=True)][0] == \
            "note"


def test_choice_in_use_cannot_be_dropped(fields) -> None:  # type: ignore[no-untyped-def]
    url, _tree, p, admin, ids = fields
    with session_scope(url) as s:
        cf.set_values(s, admin, p["a"], {"shirt": "L"})
    with session_scope(url) as s:
        with pytest.raises(FormErrors, match="käytössä: L"):
            cf.update_field(s, admin, ids["shirt"], {"choices": "S, M"})
    with session_scope(url) as s:
        cf.update_field(s, admin, ids["shirt"], {"choices": "S, M, L, XL", "label": "Koko"})
        assert cf.get_field(s, ids["shirt"]).choices == ["S", "M", "L", "XL"]


def test_other_clubs_fields_and_people_are_out_of_reach(fields) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, admin, _ids = fields
    sibling = _actor(url, make_staff(url, "b@example.fi", tree.club_b, "admin"))
    with session_scope(url) as s:
        with pytest.raises(NotFound):
            cf.set_values(s, sibling, p["a"], {"shirt": "S"})
    with session_scope(url) as s:
        with pytest.raises(FormErrors):  # club A's field does not apply to club B's member
            cf.set_values(s, None, p["c"], {"shirt": "S"})
    with session_scope(url) as s:
        assert s.exec(select(CustomFieldValue)).all() == []


def test_bulk_set_and_register_filter(fields) -> None:  # type: ignore[no-untyped-def]
    url, tree, p, admin, ids = fields
    with session_scope(url) as s:
        written = cf.bulk_set_values(s, admin, tree.club_a, {
            p["a"]: {"shirt": "S", "km": "12", "coach": "x"},
            p["b"]: {"shirt": "m", "km": "7,5", "note": "Tuomari"}})
    assert written == 6
    with session_scope(url) as s:
        with pytest.raises(FormErrors):
            cf.bulk_set_values(s, admin, tree.club_a, {p["a"]: {"km": "x"}})

    def names(field: str, value: str) -> list[str]:
        with session_scope(url) as s:
            page = register_page(s, admin, RegisterQuery(
                organization_id=tree.club_a, custom_field_id=ids[field], custom_value=value))
        return [r.last_name for r in page.rows]

    assert names("shirt", "s") == ["Alanen"]
    assert names("km", "7.5") == ["Bäck"]
    assert names("coach", "kyllä") == ["Alanen"]
    assert names("coach", "-") == ["Bäck"]
    assert names("note", "tuom") == ["Bäck"]
    assert names("km", "") == ["Alanen", "Bäck"]


def test_member_sees_only_visible_fields(fields) -> None:  # type: ignore[no-untyped-def]
    url, _tree, p, admin, _ids = fields
    with session_scope(url) as s:
        cf.set_values(s, admin, p["a"], {"shirt": "S", "km": "3"})
        shown = cf.person_values(s, p["a"], member_only=True)
    assert [(v.key, v.value) for v in shown] == [("shirt", "S")]
