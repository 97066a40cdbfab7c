"""Fee setup across the hierarchy and the pricing of memberships (fee_lines), both databases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pytest
from sqlmodel import select

from membook_app.accounts.permissions import Actor, load_actor
from membook_app.accounts.users import get_or_create_user, grant_role
from membook_app.billing.fees import (
    LineSpec,
    create_membership_type,
    delete_fee,
    fee_lines,
    fee_preview,
    set_fee,
    update_membership_type,
)
from membook_app.db import session_scope
from membook_app.errors import PermissionDenied, ValidationError
from models import AuditEvent, Fee, Membership, Person
from tests.factories import Tree, make_member, make_tree

P = "2027"


def actor_for(url: str, email: str, org_id: int | None, role: str | None,
              operator: bool = False) -> Actor:
    """A staff user's Actor, loaded as a request loads it (no password needed here)."""
    with session_scope(url) as s:
        user = get_or_create_user(s, None, email, is_operator=operator)
        if org_id is not None and role is not None:
            grant_role(s, None, user, org_id, role)
        s.flush()
        return load_actor(s, user)


@dataclass
class World:
    url: str
    tree: Tree
    youth: int
    family: int
    people: dict[str, int]

    def membership(self, person: str) -> int:
        with session_scope(self.url) as s:
            return s.exec(select(Membership.id).where(
                Membership.person_id == self.people[person])).one()


def set_payer(url: str, person_id: int, payer_id: int) -> None:
    with session_scope(url) as s:
        p = s.get(Person, person_id)
        p.payer_id = payer_id
        s.add(p)


def billing_world(url: str) -> World:
    """federation → district → club A (3 types) and club B, fees for 2027, a household.

    Club A "Varsinainen jäsen" 30 €, "Nuorisojäsen" 15 €, "Perhejäsen" (household) 50 €;
    club B 25 €; district: varsinainen 10 €, nuoriso 5 €; federation: varsinainen 8 €,
    nuoriso 0 €, perhe 12 €.
    """
    tree = make_tree(url)
    with session_scope(url) as s:
        youth = create_membership_type(s, None, organization_id=tree.club_a, name="Nuorisojäsen",
                                       category="nuoriso")
        family = create_membership_type(s, None, organization_id=tree.club_a, name="Perhejäsen",
                                        category="perhe", household_priced=True)
        for org, kw, cents in [
            (tree.club_a, {"membership_type_id": tree.type_a}, 3000),
            (tree.club_a, {"membership_type_id": youth.id}, 1500),
            (tree.club_a, {"membership_type_id": family.id}, 5000),
            (tree.club_b, {"membership_type_id": tree.type_b}, 2500),
            (tree.district, {"category": "varsinainen"}, 1000),
            (tree.district, {"category": "nuoriso"}, 500),
            (tree.federation, {"category": "varsinainen"}, 800),
            (tree.federation, {"category": "nuoriso"}, 0),
            (tree.federation, {"category": "perhe"}, 1200),
        ]:
            set_fee(s, None, organization_id=org, period=P, amount_cents=cents, **kw)
        youth_id, family_id = youth.id, family.id
    a, b = tree.club_a, tree.club_b
    people = {
        "full": make_member(url, a, tree.type_a, "Matti", "Virtanen", "matti@example.fi"),
        "youth": make_member(url, a, youth_id, "Aino", "Nuori", "aino@example.fi"),
        "parent": make_member(url, a, family_id, "Pirjo", "Perhe", "pirjo@example.fi"),
        "child1": make_member(url, a, family_id, "Eetu", "Perhe"),
        "child2": make_member(url, a, family_id, "Elli", "Perhe"),
        "dependant": make_member(url, a, tree.type_a, "Ville", "Virtanen"),
        "paper": make_member(url, b, tree.type_b, "Paavo", "Paperi"),
        "notype": make_member(url, b, None, "Nelli", "Tyypitön", "nelli@example.fi"),
    }
    set_payer(url, people["child1"], people["parent"])
    set_payer(url, people["child2"], people["parent"])
    set_payer(url, people["dependant"], people["full"])
    return World(url, tree, youth_id, family_id, people)  # type: ignore[arg-type]


@pytest.fixture
def world(db_url: str) -> World:
    return billing_world(db_url)


def test_a_secondary_membership_pays_only_its_club(world: World) -> None:
    """A member of two clubs: full member of A, secondary member ("sivu") of B. The
    district and federation charge nothing for the category, so B's invoice has B's
    line alone and their shares are billed once, on A's."""
    from membook_app.register.memberships import add_membership

    t = world.tree
    with session_scope(world.url) as s:
        second = create_membership_type(s, None, organization_id=t.club_b, name="Sivujäsen",
                                        category="sivu")
        set_fee(s, None, organization_id=t.club_b, period=P, amount_cents=1000,
                membership_type_id=second.id)
        extra = add_membership(s, None, person_id=world.people["full"],
                               organization_id=t.club_b, type_id=second.id,
                               start_date=date(2026, 1, 1)).id
        main = s.exec(select(Membership.id).where(
            Membership.person_id == world.people["full"],
            Membership.organization_id == t.club_a)).one()
        lines = fee_lines(s, [main, extra], P)  # type: ignore[list-item]
    assert _amounts(lines[main]) == [(t.club_a, 3000), (t.district, 1000), (t.federation, 800)]
    assert _amounts(lines[extra]) == [(t.club_b, 1000)]


def _amounts(lines: list[LineSpec]) -> list[tuple[int, int]]:
    return [(line.organization_id, line.amount_cents) for line in lines]


def test_fee_lines_follow_the_chain(world: World) -> None:
    t = world.tree
    ids = {k: world.membership(k) for k in world.people}
    with session_scope(world.url) as s:
        lines = fee_lines(s, ids.values(), P)
    assert _amounts(lines[ids["full"]]) == [(t.club_a, 3000), (t.district, 1000),
                                            (t.federation, 800)]
    # federation charges 0 for youth: no line at all
    assert _amounts(lines[ids["youth"]]) == [(t.club_a, 1500), (t.district, 500)]
    # district has no "perhe" fee; the household is priced once, on the payer
    assert _amounts(lines[ids["parent"]]) == [(t.club_a, 5000), (t.federation, 1200)]
    assert lines[ids["child1"]] == [] and lines[ids["child2"]] == []
    # a dependant on a normal type pays the normal price (billed to the payer by the run)
    assert sum(a for _, a in _amounts(lines[ids["dependant"]])) == 4800
    assert _amounts(lines[ids["paper"]]) == [(t.club_b, 2500), (t.district, 1000),
                                             (t.federation, 800)]
    assert lines[ids["notype"]] == []
    assert "Seura A ry" in lines[ids["full"]][0].description


def test_other_period_has_no_fees(world: World) -> None:
    with session_scope(world.url) as s:
        lines = fee_lines(s, [world.membership("full")], "2028")
    assert list(lines.values()) == [[]]


def test_household_price_carried_by_dependant_when_payer_not_on_type(world: World) -> None:
    """The payer is not a family member: the lowest membership of the household carries it."""
    url = world.url
    with session_scope(url) as s:
        s.exec(select(Membership).where(Membership.person_id == world.people["parent"])
               ).one().type_id = world.tree.type_a
    c1, c2 = world.membership("child1"), world.membership("child2")
    with session_scope(url) as s:
        alone = fee_lines(s, [c2], P)  # pricing a subset gives the same answer
        both = fee_lines(s, [c1, c2], P)
    assert alone[c2] == []
    assert sum(line.amount_cents for line in both[min(c1, c2)]) == 6200
    assert both[max(c1, c2)] == []


def test_own_category_fee_when_club_has_no_type_fee(world: World) -> None:
    t = world.tree
    with session_scope(world.url) as s:
        set_fee(s, None, organization_id=t.club_b, period="2028", category="varsinainen",
                amount_cents=2200)
        lines = fee_lines(s, [world.membership("paper")], "2028")
    assert _amounts(next(iter(lines.values()))) == [(t.club_b, 2200)]


def test_fee_crud_is_audited_and_checked(world: World) -> None:
    t = world.tree
    treasurer = actor_for(world.url, "rh@example.fi", t.club_a, "treasurer")
    with session_scope(world.url) as s:
        fee = set_fee(s, treasurer, organization_id=t.club_a, period=P,
                      membership_type_id=t.type_a, amount_cents=3500)
        assert fee.amount_cents == 3500
        again = set_fee(s, treasurer, organization_id=t.club_a, period=P,
                        membership_type_id=t.type_a, amount_cents=3500)
        assert again.id == fee.id
        fee_id = fee.id
    with session_scope(world.url) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.object_type == "fee",
                                                 AuditEvent.object_id == fee_id,
                                                 AuditEvent.action == "fee.updated")).all()
        assert len(events) == 1  # the no-change save wrote nothing
        assert events[0].before == {"amount_cents": 3000}
        assert events[0].after == {"amount_cents": 3500}
    with pytest.raises(ValidationError):  # club B's type is not club A's
        with session_scope(world.url) as s:
            set_fee(s, treasurer, organization_id=t.club_a, period=P,
                    membership_type_id=t.type_b, amount_cents=100)
    with pytest.raises(ValidationError):
        with session_scope(world.url) as s:
            set_fee(s, treasurer, organization_id=t.club_a, period=P, category="nosuch",
                    amount_cents=100)
    with pytest.raises(ValidationError):
        with session_scope(world.url) as s:
            set_fee(s, treasurer, organization_id=t.club_a, period=P, category="nuoriso",
                    amount_cents=-1)
    with session_scope(world.url) as s:
        delete_fee(s, treasurer, fee_id)  # type: ignore[arg-type]
    with session_scope(world.url) as s:
        assert s.get(Fee, fee_id) is None
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "fee.deleted")).one()


def test_fee_permissions(world: World) -> None:
    t = world.tree
    sibling = actor_for(world.url, "b@example.fi", t.club_b, "treasurer")
    viewer = actor_for(world.url, "v@example.fi", t.club_a, "viewer")
    club_treasurer = actor_for(world.url, "a@example.fi", t.club_a, "treasurer")
    for who, org, kw in [
        (sibling, t.club_a, {"membership_type_id": t.type_a}),
        (viewer, t.club_a, {"membership_type_id": t.type_a}),
        (club_treasurer, t.district, {"category": "varsinainen"}),  # not above one's grant
    ]:
        with pytest.raises(PermissionDenied):
            with session_scope(world.url) as s:
                set_fee(s, who, organization_id=org, period=P, amount_cents=1, **kw)
    with pytest.raises(PermissionDenied):
        with session_scope(world.url) as s:
            create_membership_type(s, viewer, organization_id=t.club_a, name="X")
    with session_scope(world.url) as s:
        amounts = sorted(f.amount_cents for f in s.exec(select(Fee)).all())
    assert amounts == sorted([3000, 1500, 5000, 2500, 1000, 500, 800, 0, 1200])


def test_membership_types_are_audited(world: World) -> None:
    t = world.tree
    admin = actor_for(world.url, "adm@example.fi", t.club_a, "admin")
    with session_scope(world.url) as s:
        mt = create_membership_type(s, admin, organization_id=t.club_a, name="Kunniajäsen",
                                    category="kunnia")
        update_membership_type(s, admin, mt.id, category="kannatus", household_priced=True)  # type: ignore[arg-type]
        mt_id = mt.id
    with pytest.raises(ValidationError):
        with session_scope(world.url) as s:
            create_membership_type(s, admin, organization_id=t.club_a, name="Kunniajäsen")
    with session_scope(world.url) as s:
        events = s.exec(select(AuditEvent).where(AuditEvent.object_type == "membershiptype",
                                                 AuditEvent.object_id == mt_id)
                        .order_by(AuditEvent.id)).all()
    assert [e.action for e in events] == ["membership_type.created", "membership_type.updated"]
    assert events[1].after == {"category": "kannatus", "household_priced": True}


def test_fee_preview_per_type_and_club(world: World) -> None:
    t = world.tree
    fed_admin = actor_for(world.url, "liitto@example.fi", t.federation, "admin")
    with session_scope(world.url) as s:
        rows = fee_preview(s, fed_admin, t.federation, P)
    by = {(r.organization, r.type_name): r for r in rows}
    full = by[("Seura A ry", "Varsinainen jäsen")]
    assert [(sh.organization, sh.amount_cents) for sh in full.shares] == [
        ("Seura A ry", 3000), ("Piiri ry", 1000), ("Liitto ry", 800)]
    assert full.total_cents == 4800
    assert by[("Seura A ry", "Nuorisojäsen")].total_cents == 2000
    assert by[("Seura A ry", "Perhejäsen")].household_priced
    assert by[("Seura B ry", "Varsinainen jäsen")].total_cents == 4300
    assert len(rows) == 4
    sibling = actor_for(world.url, "b2@example.fi", t.club_b, "viewer")
    with pytest.raises(PermissionDenied):
        with session_scope(world.url) as s:
            fee_preview(s, sibling, t.club_a, P)


def test_fee_lines_in_bulk_use_few_queries(world: World) -> None:
    """Thousands of memberships are priced with a fixed number of statements."""
    from sqlalchemy import event

    import membook_app.db as db

    t = world.tree
    with session_scope(world.url) as s:
        start = date(2024, 1, 1)
        base = s.exec(select(Person.id)).all()
        import sqlalchemy as sa
        s.execute(sa.insert(Person), [{"first_name": f"P{i}", "last_name": "Bulk"}
                                      for i in range(3000)])
        ids = [i for i in s.exec(select(Person.id)).all() if i not in set(base)]
        s.execute(sa.insert(Membership), [
            {"person_id": pid, "organization_id": t.club_a, "member_number": 1000 + n,
             "type_id": t.type_a, "start_date": start, "status": "active"}
            for n, pid in enumerate(ids)])
        mids = s.exec(select(Membership.id).where(Membership.member_number >= 1000)).all()
    statements: list[str] = []
    engine = db.get_engine(world.url)

    def count(*_args: object) -> None:
        statements.append("x")

    event.listen(engine, "before_cursor_execute", count)
    try:
        with session_scope(world.url) as s:
            lines = fee_lines(s, mids, P)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(lines) == 3000
    assert all(sum(line.amount_cents for line in v) == 4800 for v in lines.values())
    assert len(statements) < 10
