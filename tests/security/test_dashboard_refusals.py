"""Dashboard handlers called directly by nobody, a forged token, a member and a sibling
club's treasurer who steers the state to another organisation: no figure may leak.

The pattern of test_handler_refusals.py: the in-process state tree and the registered
(guarded) handler awaited as an attacker would call it over the socket.
"""

from __future__ import annotations

from typing import Any

import pytest

import membook_app.membook_app  # noqa: F401
from membook_app.ui.admin.dashboard import DashboardState
from tests.factories import make_member, make_member_login, make_staff, make_tree
from tests.handlers import call_handler, is_refusal, state_for

ATTACKERS = ["nobody", "forged", "member", "sibling_treasurer"]


@pytest.fixture
def world(db_url: str) -> dict[str, Any]:
    tree = make_tree(db_url)
    make_member(db_url, tree.club_a, tree.type_a, "Ville", "Uhri", "ville@example.fi")
    make_member(db_url, tree.club_b, tree.type_b, "Maija", "Jäsen", "maija@example.fi")
    return {
        "tree": tree,
        "nobody": "",
        "forged": "not-a-real-session-token",
        "member": make_member_login(db_url, "maija@example.fi"),
        "sibling_treasurer": make_staff(db_url, "tb@example.fi", tree.club_b, "treasurer"),
        "treasurer_a": make_staff(db_url, "ta@example.fi", tree.club_a, "treasurer"),
    }


def _untouched(state: DashboardState) -> bool:
    return (not state.loaded and state.members_now == "" and state.member_chart == []
            and state.organization == "")


@pytest.mark.parametrize("who", ATTACKERS)
async def test_other_organisation_refused(world: dict[str, Any], who: str) -> None:
    state = state_for(DashboardState, world[who])
    state.org_id = str(world["tree"].club_a)  # as if the attacker had steered the state
    result = await call_handler(state, "load", str(world["tree"].club_a))
    assert is_refusal(result), result
    assert _untouched(state)


@pytest.mark.parametrize("who", ATTACKERS)
async def test_parent_organisation_refused(world: dict[str, Any], who: str) -> None:
    state = state_for(DashboardState, world[who])
    state.org_id = str(world["tree"].district)
    result = await call_handler(state, "load")
    assert is_refusal(result), result
    assert _untouched(state)


async def test_own_club_is_shown(world: dict[str, Any]) -> None:
    """The control: the same call by club A's treasurer fills the figures."""
    state = state_for(DashboardState, world["treasurer_a"])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "load")
    assert not is_refusal(result), result
    assert state.loaded and state.members_now == "1" and state.organization == "Seura A ry"
    assert len(state.member_chart) == 12 and len(state.week_rows) == 12
    assert state.billing and state.week_chart[-1]["week"].startswith("vk ")


@pytest.mark.parametrize("who", ATTACKERS)
async def test_period_choice_refused(world: dict[str, Any], who: str) -> None:
    """Choosing a period recomputes the figures: the same refusal as opening them."""
    state = state_for(DashboardState, world[who])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "choose_period", "2026")
    assert is_refusal(result), result
    assert _untouched(state) and state.chosen_period == ""


async def test_own_club_period_choice(world: dict[str, Any]) -> None:
    """The control: a period with no invoices falls back to the default, shown loaded."""
    state = state_for(DashboardState, world["treasurer_a"])
    state.org_id = str(world["tree"].club_a)
    result = await call_handler(state, "choose_period", "1999")
    assert not is_refusal(result), result
    assert state.loaded and state.chosen_period == "1999" and state.period != "1999"
    assert state.periods == []
