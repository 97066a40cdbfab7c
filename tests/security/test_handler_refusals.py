"""Handlers called directly, as nobody, a member, a sibling admin and a viewer.

No browser: the state tree is built in-process and the registered handler
(the guarded wrapper Reflex would run) is awaited with attacker-chosen
arguments. Each call must be refused and the database must be unchanged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

import membook_app.membook_app  # noqa: F401
from membook_app.db import session_scope
from membook_app.ui.admin.outbox import OutboxState
from membook_app.ui.admin.person import PersonState
from membook_app.ui.admin.register import RegisterState
from membook_app.ui.portal.me import PortalState
from models import AuditEvent, CreditRefund, Membership, OutboxMessage, Person, utcnow
from tests.factories import make_member, make_member_login, make_staff, make_tree
from tests.handlers import call_handler, is_refusal, state_for


def _snapshot(url: str, person_id: int) -> tuple[Any, ...]:
    with session_scope(url) as s:
        p = s.get(Person, person_id)
        memberships = s.exec(
            select(Membership.status).where(Membership.person_id == person_id)).all()
        changes = s.exec(select(AuditEvent.id).where(AuditEvent.action != "person.viewed")).all()
        refunds = s.exec(select(CreditRefund.id).where(CreditRefund.person_id == person_id)).all()
        return (p.phone, p.street_address, p.first_name, tuple(memberships), len(changes),
                tuple(refunds))


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    tree = make_tree(db_url)
    victim = make_member(db_url, tree.club_a, tree.type_a, "Ville", "Uhri", "ville@example.fi",
                         phone="0401234567", street_address="Kotikatu 1")
    member = make_member(db_url, tree.club_b, tree.type_b, "Maija", "Jäsen", "maija@example.fi")
    return {
        "url": db_url,
        "tree": tree,
        "victim": victim,
        "member_person": member,
        "nobody": "",
        "forged": "not-a-real-session-token",
        "member": make_member_login(db_url, "maija@example.fi"),
        "sibling_admin": make_staff(db_url, "b.admin@example.fi", tree.club_b, "admin"),
        "viewer": make_staff(db_url, "viewer@example.fi", tree.club_a, "viewer"),
        "admin_a": make_staff(db_url, "a.admin@example.fi", tree.club_a, "admin"),
    }


ATTACKERS = ["nobody", "forged", "member", "sibling_admin", "viewer"]


@pytest.mark.parametrize("who", ATTACKERS)
async def test_person_save_refused(world: dict[str, Any], who: str) -> None:
    before = _snapshot(world["url"], world["victim"])
    state = state_for(PersonState, world[who])
    state.person_id = world["victim"]  # as if the attacker had steered the state
    result = await call_handler(state, "save", {"phone": "0509999999", "street_address": "Hack 1"})
    assert is_refusal(result), result
    assert _snapshot(world["url"], world["victim"]) == before


@pytest.mark.parametrize("who", [*ATTACKERS, "admin_a"])
async def test_refund_credit_refused(world: dict[str, Any], who: str) -> None:
    """Only the operator pays credit back; even the person's own club's admin may not."""
    before = _snapshot(world["url"], world["victim"])
    state = state_for(PersonState, world[who])
    state.person_id = world["victim"]
    result = await call_handler(state, "refund_from_credit",
                                {"amount": "1,00", "iban": "FI4250001510000023", "note": ""})
    assert is_refusal(result), result
    assert _snapshot(world["url"], world["victim"]) == before


@pytest.mark.parametrize("who", ATTACKERS)
async def test_end_membership_refused(world: dict[str, Any], who: str) -> None:
    with session_scope(world["url"]) as s:
        membership_id = s.exec(select(Membership.id).where(
            Membership.person_id == world["victim"])).one()
    before = _snapshot(world["url"], world["victim"])
    state = state_for(PersonState, world[who])
    state.person_id = world["victim"]
    result = await call_handler(state, "end", membership_id)
    assert is_refusal(result), result
    assert _snapshot(world["url"], world["victim"]) == before


@pytest.mark.parametrize("who", ["nobody", "forged", "member", "sibling_admin"])
async def test_register_of_other_organisation_refused(world: dict[str, Any], who: str) -> None:
    state = state_for(RegisterState, world[who])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "set_search", "Uhri")
    assert is_refusal(result), result
    assert state.rows == []


@pytest.mark.parametrize("who", ["nobody", "member", "sibling_admin", "viewer"])
async def test_select_org_outside_grants_refused(world: dict[str, Any], who: str) -> None:
    state = state_for(RegisterState, world[who])
    result = await call_handler(state, "select_org", str(world["tree"].federation))
    assert is_refusal(result), result
    assert state.org_id != str(world["tree"].federation)


@pytest.mark.parametrize("who", ["nobody", "member", "sibling_admin", "viewer", "admin_a"])
async def test_outbox_is_operator_only(world: dict[str, Any], who: str) -> None:
    state = state_for(OutboxState, world[who])
    result = await call_handler(state, "load")
    assert is_refusal(result), result
    assert state.messages == []
    # Mail stuck in 'sending' is the operator's to settle.
    with session_scope(world["url"]) as s:
        stuck = OutboxMessage(to_address="x@example.fi", subject="Lasku", text_body="…",
                              status="sending", created_at=utcnow() - timedelta(hours=1))
        s.add(stuck)
        s.flush()
        stuck_id = stuck.id
    for action in ("resend", "mark_sent"):
        assert is_refusal(await call_handler(state, "settle", stuck_id, action))
    with session_scope(world["url"]) as s:
        assert s.get(OutboxMessage, stuck_id).status == "sending"  # type: ignore[union-attr]


async def test_member_cannot_change_locked_fields(world: dict[str, Any]) -> None:
    """The portal form passes only member-editable keys; extra keys are ignored."""
    state = state_for(PortalState, world["member"])
    await call_handler(state, "save", {"first_name": "Hacked", "email": "x@evil.fi",
                                "city": "Tampere"})
    with session_scope(world["url"]) as s:
        p = s.get(Person, world["member_person"])
        assert (p.first_name, p.email, p.city) == ("Maija", "maija@example.fi", "Tampere")


async def test_member_portal_shows_only_own_record(world: dict[str, Any]) -> None:
    state = state_for(PortalState, world["member"])
    await call_handler(state, "load")
    assert state.name == "Maija Jäsen"
    assert all(m.organization == "Seura B ry" for m in state.memberships)


async def test_staff_is_sent_away_from_nothing_but_member_from_admin(world: dict[str, Any]) -> None:
    state = state_for(RegisterState, world["member"])
    result = await call_handler(state, "load")
    assert "/portal" in repr(result)


async def test_viewer_reads_but_cannot_write(world: dict[str, Any]) -> None:
    state = state_for(RegisterState, world["viewer"])
    await call_handler(state, "load_shell")
    await call_handler(state, "load")
    assert [r.name for r in state.rows] == ["Uhri Ville"]


async def test_admin_may_write(world: dict[str, Any]) -> None:
    """The positive control: the same call by the right admin does change the record."""
    state = state_for(PersonState, world["admin_a"])
    state.person_id = world["victim"]
    result = await call_handler(state, "save", {"phone": "0509999999"})
    assert result is None and state.saved
    with session_scope(world["url"]) as s:
        assert s.get(Person, world["victim"]).phone == "+358509999999"
