"""Households, lifecycle, custom fields, settings and data protection handlers, called
directly as nobody, a forged token, a member, a sibling admin and a viewer.

The pattern of test_handler_refusals.py: the registered (guarded) handler is
awaited in an in-process state tree with attacker-chosen arguments; each call
must be refused and the database must be unchanged. A positive control shows
the same call by the right person does change it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import func, select

import membook_app.membook_app  # noqa: F401
from membook_app.accounts.sessions import resolve_session
from membook_app.billing.fees import set_fee
from membook_app.billing.runs import commit_run
from membook_app.billing.status import refresh_overdue
from membook_app.db import session_scope
from membook_app.privacy.deletion_requests import request_deletion
from membook_app.register import custom_fields as cf
from membook_app.register.memberships import add_membership
from membook_app.register.people import create_person
from membook_app.ui.admin.org_settings import SettingsState, UnpaidState
from membook_app.ui.admin.person import PersonState
from membook_app.ui.admin.privacy import PrivacyAdminState
from membook_app.ui.portal.privacy import PortalPrivacyState
from models import (
    AuditEvent,
    CustomField,
    CustomFieldValue,
    DeletionRequest,
    Membership,
    Organization,
    Person,
)
from tests.factories import make_member, make_member_login, make_staff, make_tree
from tests.handlers import call_handler, is_refusal, state_for

ATTACKERS = ["nobody", "forged", "member", "sibling_admin", "viewer"]








def _snapshot(url: str) -> tuple[Any, ...]:
    """Everything these handlers could change."""
    with session_scope(url) as s:
        people = tuple(s.exec(select(Person.id, Person.first_name, Person.email,
                                     Person.payer_id, Person.pseudonymised_at)
                              .order_by(Person.id)).all())
        memberships = tuple(s.exec(select(Membership.id, Membership.status)
                                   .order_by(Membership.id)).all())
        fields = tuple(s.exec(select(CustomField.id, CustomField.label, CustomField.required)
                              .order_by(CustomField.id)).all())
        values = tuple(s.exec(select(CustomFieldValue.person_id, CustomFieldValue.value)
                              .order_by(CustomFieldValue.id)).all())
        orgs = tuple(s.exec(select(Organization.id, Organization.retention_years,
                                   Organization.retention_enabled)).all())
        requests = tuple(s.exec(select(DeletionRequest.id, DeletionRequest.status)).all())
        events = s.exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action != "person.viewed")).one()
        return people, memberships, fields, values, orgs, requests, events


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    tree = make_tree(db_url)
    victim = make_member(db_url, tree.club_a, tree.type_a, "Ville", "Uhri", "ville@example.fi")
    parent = make_member(db_url, tree.club_a, tree.type_a, "Paula", "Uhri", "paula@example.fi")
    make_member(db_url, tree.club_b, tree.type_b, "Maija", "Jäsen", "maija@example.fi")
    with session_scope(db_url) as s:
        late = create_person(s, None, {"first_name": "Lasse", "last_name": "Myöhä"})
        add_membership(s, None, person_id=late.id, organization_id=tree.club_a,  # type: ignore[arg-type]
                       type_id=tree.type_a, start_date=date(2025, 1, 1))
        field = cf.create_field(s, None, tree.club_a, {"key": "shirt", "label": "Paita",
                                                       "kind": "choice", "choices": "S,M"})
        cf.set_values(s, None, victim, {"shirt": "S"})
        set_fee(s, None, organization_id=tree.club_a, period="2026", amount_cents=3000,
                membership_type_id=tree.type_a)
        commit_run(s, None, tree.club_a, False, "2026", date(2026, 1, 2), date(2026, 1, 20),
                   today=date(2026, 1, 2))
        refresh_overdue(s, date(2026, 6, 1))
        late_membership = s.exec(select(Membership.id).where(
            Membership.person_id == late.id)).one()
    victim_login = make_member_login(db_url, "ville@example.fi")
    with session_scope(db_url) as s:
        actor = resolve_session(s, victim_login)
        request_id = request_deletion(s, actor, "poistakaa").id  # type: ignore[arg-type]
    return {
        "url": db_url, "tree": tree, "victim": victim, "parent": parent,
        "field": field.id, "late_membership": late_membership, "request": request_id,
        "nobody": "", "forged": "not-a-real-session-token",
        "member": make_member_login(db_url, "maija@example.fi"),
        "victim_login": victim_login,
        "sibling_admin": make_staff(db_url, "b.admin@example.fi", tree.club_b, "admin"),
        "viewer": make_staff(db_url, "viewer@example.fi", tree.club_a, "viewer"),
        "admin_a": make_staff(db_url, "a.admin@example.fi", tree.club_a, "admin"),
    }


def _person_state(world: dict[str, Any], who: str) -> Any:
    state = state_for(PersonState, world[who])
    state.person_id = world["victim"]
    state.org_id = str(world["tree"].club_a)
    state.custom = []  # the form names are checked against what the page loaded
    return state


def _settings_state(world: dict[str, Any], who: str) -> Any:
    state = state_for(SettingsState, world[who])
    state.org_id = str(world["tree"].club_a)  # as if the attacker had steered the state
    state.retention_years = "1"
    state.retention_enabled = True
    state.dry_run_years = "1"
    return state


PERSON_CALLS = [
    ("choose_payer", lambda w: (str(w["parent"]),)),
    ("clear_payer", lambda w: ()),
    ("save_custom", lambda w: ({f"cf_{w['field']}": "M"},)),
    ("end", lambda w: (w["late_membership"], "ended")),
]
SETTINGS_CALLS = [
    ("save_rule", lambda w: ()),
    ("create_field", lambda w: ({"key": "evil", "label": "Evil", "kind": "text"},)),
    ("toggle_required", lambda w: (w["field"],)),
    ("toggle_visible", lambda w: (w["field"],)),
    ("remove_field", lambda w: (w["field"],)),
]


@pytest.mark.parametrize("who", ATTACKERS)
@pytest.mark.parametrize("handler,args", PERSON_CALLS, ids=[c[0] for c in PERSON_CALLS])
async def test_person_depth_writes_refused(world: dict[str, Any], who: str, handler: str,
                                           args: Any) -> None:
    if handler == "clear_payer":  # give the victim a payer first, so clearing would change it
        from membook_app.register.households import set_payer
        with session_scope(world["url"]) as s:
            set_payer(s, None, world["victim"], world["parent"])
    before = _snapshot(world["url"])
    state = _person_state(world, who)
    if handler == "save_custom":
        from membook_app.ui.admin.person import CustomView
        state.custom = [CustomView(f"cf_{world['field']}", "Paita", "choice", "S", ["S", "M"])]
    result = await call_handler(state, handler, *args(world))
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", ATTACKERS)
@pytest.mark.parametrize("handler,args", SETTINGS_CALLS, ids=[c[0] for c in SETTINGS_CALLS])
async def test_settings_writes_refused(world: dict[str, Any], who: str, handler: str,
                                       args: Any) -> None:
    before = _snapshot(world["url"])
    state = _settings_state(world, who)
    result = await call_handler(state, handler, *args(world))
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", ATTACKERS)
async def test_dry_run_and_settings_reads_refused(world: dict[str, Any], who: str) -> None:
    state = _settings_state(world, who)
    result = await call_handler(state, "run_dry_run")
    assert is_refusal(result), result
    assert state.dry_run_count == -1 and state.dry_run_rows == []


@pytest.mark.parametrize("who", ATTACKERS)
async def test_deemed_resigned_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = state_for(UnpaidState, world[who])
    state.org_id, state.period = str(world["tree"].club_a), "2026"
    state.selected = [world["late_membership"]]
    result = await call_handler(state, "apply", {"reason": "Hyökkääjän päätös"})
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", ["nobody", "forged", "member", "sibling_admin"])
async def test_unpaid_list_refused(world: dict[str, Any], who: str) -> None:
    state = state_for(UnpaidState, world[who])
    state.org_id, state.period = str(world["tree"].club_a), "2026"
    result = await call_handler(state, "set_period", "2026")
    assert is_refusal(result), result
    assert state.candidates == []


@pytest.mark.parametrize("who", ATTACKERS)
async def test_resolve_deletion_request_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = state_for(PrivacyAdminState, world[who])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "resolve", {"request_id": str(world["request"]),
                                            "outcome": "rejected",
                                            "resolution": "hyökkääjä hylkää"})
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


@pytest.mark.parametrize("who", ["nobody", "forged", "member", "sibling_admin", "viewer"])
async def test_deletion_requests_list_not_shown(world: dict[str, Any], who: str) -> None:
    state = state_for(PrivacyAdminState, world[who])
    state.org_id = str(world["tree"].club_a)
    await call_handler(state, "load")
    assert state.requests == []


@pytest.mark.parametrize("who", ["nobody", "forged", "sibling_admin", "viewer"])
async def test_portal_privacy_is_members_only(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"])
    state = state_for(PortalPrivacyState, world[who])
    result = await call_handler(state, "request_deletion", {"message": "x"})
    assert is_refusal(result), result
    assert _snapshot(world["url"]) == before


async def test_member_sees_only_own_extras_and_requests(world: dict[str, Any]) -> None:
    with session_scope(world["url"]) as s:
        cf.update_field(s, None, world["field"], {"visible_to_member": True})
    state = state_for(PortalPrivacyState, world["member"])
    await call_handler(state, "load")
    assert state.extras == [] and state.requests == [] and not state.has_open
    victim = state_for(PortalPrivacyState, world["victim_login"])
    await call_handler(victim, "load")
    assert [(e.label, e.value) for e in victim.extras] == [("Paita", "S")]
    assert victim.has_open


async def test_positive_controls(world: dict[str, Any]) -> None:
    """The right admin's calls do change the database."""
    state = _person_state(world, "admin_a")
    assert await call_handler(state, "choose_payer", str(world["parent"])) is None
    assert state.payer_name == "Uhri Paula"
    settings = _settings_state(world, "admin_a")
    assert await call_handler(settings, "run_dry_run") is None
    assert settings.dry_run_count == 0
    assert await call_handler(settings, "save_rule") is None
    unpaid = state_for(UnpaidState, world["admin_a"])
    unpaid.org_id = str(world["tree"].club_a)
    await call_handler(unpaid, "load")
    assert world["late_membership"] in [c.membership_id for c in unpaid.candidates]
    unpaid.selected = [world["late_membership"]]
    assert await call_handler(unpaid, "apply", {"reason": "Hallituksen päätös 1.6."}) is None
    with session_scope(world["url"]) as s:
        assert s.get(Person, world["victim"]).payer_id == world["parent"]
        org = s.get(Organization, world["tree"].club_a)
        assert (org.retention_years, org.retention_enabled) == (1, True)
        assert s.get(Membership, world["late_membership"]).status == "deemed_resigned"
