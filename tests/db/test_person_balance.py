"""A member's balance (`payments.views.person_balance`): credit on their account against
their open invoices, all of it for the member and the operator, each association's share
for its staff. Also what the admin person page and the portal show of it."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from membook_app.banking.references import make_national
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from membook_app.payments.views import person_balance
from membook_app.register.memberships import add_membership
from models import Person
from tests.db.test_bank_import_support import (
    TODAY,
    actor,
    camt054,
    make_invoice,
    make_world,
)
from tests.factories import make_member_login, make_staff

REFS = {key: make_national(str(5000 + n)) for n, key in enumerate("abcd", start=1)}


@pytest.fixture
def two_clubs(db_url: str) -> dict[str, Any]:
    """Niemi belongs to both sibling clubs: an open invoice and an over-payment in each."""
    world = make_world(db_url, invoices={})
    a, b, niemi = world.tree.club_a, world.tree.club_b, world.people["niemi"]
    with session_scope(db_url) as s:
        add_membership(s, None, person_id=niemi, organization_id=b,
                       type_id=world.tree.type_b, start_date=date(2025, 1, 1))
        person = s.get(Person, niemi)
        person.email = "pekka@example.fi"  # type: ignore[union-attr]
        s.add(person)
    invoices = {
        "a_open": make_invoice(db_url, a, niemi, REFS["a"], 2000),
        "b_open": make_invoice(db_url, b, niemi, REFS["b"], 3000),
        "a_over": make_invoice(db_url, a, niemi, REFS["c"], 800),
        "b_over": make_invoice(db_url, b, niemi, REFS["d"], 1000),
    }
    with session_scope(db_url) as s:
        import_bank_file(s, None, camt054([
            {"archive": "OVER-A", "cents": 1000, "ref": REFS["c"], "name": "Niemi Pekka"},
            {"archive": "OVER-B", "cents": 1500, "ref": REFS["d"], "name": "Niemi Pekka"},
        ]), "over.xml", today=TODAY)
    return {
        "niemi": niemi, "invoices": invoices, "virtanen": world.people["virtanen"],
        "tree": world.tree,
        "member": actor(db_url, make_member_login(db_url, "pekka@example.fi")),
        "operator": actor(db_url, make_staff(db_url, "op@example.fi", None, None,
                                             operator=True)),
        "district": actor(db_url, make_staff(db_url, "d@example.fi", world.tree.district,
                                             "viewer")),
        "treasurer_a": actor(db_url, make_staff(db_url, "ta@example.fi", a, "treasurer")),
        "treasurer_b": actor(db_url, make_staff(db_url, "tb@example.fi", b, "treasurer")),
    }


def figures(db_url: str, who: Any, person_id: int) -> tuple[int, int, int, list[str], list[int]]:
    with session_scope(db_url) as s:
        balance = person_balance(s, who, person_id)
    return (balance.credit_cents, balance.open_cents, balance.net_cents,
            [i.reference for i in balance.open_invoices],
            [c.amount_cents for c in balance.credits])


def test_member_and_operator_see_the_whole_balance(two_clubs: dict[str, Any],
                                                    db_url: str) -> None:
    whole = (700, 5000, -4300, [REFS["a"], REFS["b"]], [200, 500])
    assert figures(db_url, two_clubs["member"], two_clubs["niemi"]) == whole
    assert figures(db_url, two_clubs["operator"], two_clubs["niemi"]) == whole
    # the district covers both clubs
    assert figures(db_url, two_clubs["district"], two_clubs["niemi"]) == whole


def test_each_club_sees_its_own_share(two_clubs: dict[str, Any], db_url: str) -> None:
    assert figures(db_url, two_clubs["treasurer_a"], two_clubs["niemi"]) == (
        200, 2000, -1800, [REFS["a"]], [200])
    assert figures(db_url, two_clubs["treasurer_b"], two_clubs["niemi"]) == (
        500, 3000, -2500, [REFS["b"]], [500])


def test_open_invoice_rows_carry_what_the_pages_show(two_clubs: dict[str, Any],
                                                      db_url: str) -> None:
    with session_scope(db_url) as s:
        balance = person_balance(s, two_clubs["member"], two_clubs["niemi"])
    first = balance.open_invoices[0]
    assert (first.organization, first.status, first.open_cents, first.due_date) == (
        "Seura A ry", "open", 2000, date(2026, 12, 31))
    assert [c.rule for c in balance.credits] == ["overpayment", "overpayment"]


def test_the_payer_sees_invoices_they_pay_for_others(two_clubs: dict[str, Any],
                                                      db_url: str) -> None:
    child = make_invoice(db_url, two_clubs["tree"].club_a, two_clubs["virtanen"],
                         make_national("5009"), 1200, payer_id=two_clubs["niemi"])
    with session_scope(db_url) as s:
        balance = person_balance(s, two_clubs["member"], two_clubs["niemi"])
    assert child in {i.invoice_id for i in balance.open_invoices}
    assert balance.open_cents == 6200

