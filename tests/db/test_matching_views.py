"""What others' pages show: an invoice's payments, a member's balance, the payments list."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied
from membook_app.payments.bank_import import import_bank_file
from membook_app.payments.views import (
    PaymentQuery,
    export_payments_xlsx,
    invoice_payments,
    list_payments,
    person_balance,
)
from models import Person
from tests.db.test_bank_import_support import TODAY, actor, camt054, make_world, sample
from tests.factories import make_member_login, make_staff


@pytest.fixture
def viewed(db_url: str):  # type: ignore[no-untyped-def]
    world = make_world(db_url)
    with session_scope(db_url) as s:
        import_bank_file(s, None, sample("ktl_reference_payments.txt"), "ktl.txt", today=TODAY)
        # Virtanen pays his (paid) invoice again: 35.00 on his balance.
        import_bank_file(s, None, camt054([{"archive": "AGAIN", "cents": 3500,
                                            "ref": "20260011", "date": "2026-11-27"}]),
                         "again.xml", today=TODAY)
        person = s.get(Person, world.people["virtanen"])
        person.email = "matti@example.fi"  # type: ignore[union-attr]
        s.add(person)
    actors = {
        "operator": actor(db_url, make_staff(db_url, "op@example.fi", None, None, operator=True)),
        "viewer_a": actor(db_url, make_staff(db_url, "va@example.fi", world.tree.club_a,
                                             "viewer")),
        "treasurer_b": actor(db_url, make_staff(db_url, "tb@example.fi", world.tree.club_b,
                                                "treasurer")),
        "matti": actor(db_url, make_member_login(db_url, "matti@example.fi")),
    }
    return world, actors


def test_invoice_shows_payments_and_reversal(viewed, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = viewed
    with session_scope(db_url) as s:
        view = invoice_payments(s, actors["viewer_a"], world.invoices["20240015"])
        assert view.status == "open"
        assert [(a.amount_cents, a.kind) for a in view.allocations] == [
            (5000, "invoice"), (-5000, "reversal")]
        assert view.allocations[1].reverses_allocation_id == view.allocations[0].allocation_id
        own = invoice_payments(s, actors["matti"], world.invoices["20260011"])
        assert [a.source_id for a in own.allocations] == ["261126593497A001"]
        with pytest.raises(NotFound):
            invoice_payments(s, actors["treasurer_b"], world.invoices["20260011"])
        with pytest.raises(NotFound):
            invoice_payments(s, actors["matti"], world.invoices["100000010"])


def test_person_balance(viewed, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = viewed
    with session_scope(db_url) as s:
        mine = person_balance(s, actors["matti"], world.people["virtanen"])
        assert (mine.credit_cents, mine.open_cents, mine.net_cents) == (3500, 0, 3500)
        assert [c.rule for c in mine.credits] == ["paid_invoice"]
        korhonen = person_balance(s, actors["viewer_a"], world.people["korhonen"])
        assert (korhonen.credit_cents, korhonen.open_cents) == (0, 5000)
        with pytest.raises((NotFound, PermissionDenied)):
            person_balance(s, actors["treasurer_b"], world.people["virtanen"])
        with pytest.raises((NotFound, PermissionDenied)):
            person_balance(s, actors["matti"], world.people["korhonen"])


def test_payments_list_filters_and_export(viewed, db_url: str) -> None:  # type: ignore[no-untyped-def]
    world, actors = viewed
    with session_scope(db_url) as s:
        everything = list_payments(s, actors["operator"], PaymentQuery())
        assert everything.total == 8
        club_a = list_payments(s, actors["viewer_a"],
                               PaymentQuery(organization_id=world.tree.club_a))
        assert club_a.total == 5
        assert {r.invoices for r in club_a.rows} >= {"20260011", "20240015"}
        assert list_payments(s, actors["operator"], PaymentQuery(status="unmatched")).total == 1
        assert list_payments(s, actors["operator"], PaymentQuery(
            date_from=date(2026, 11, 27))).total == 1
        assert list_payments(s, actors["operator"], PaymentQuery(source="paytrail")).total == 0
        paged = list_payments(s, actors["operator"], PaymentQuery(page_size=3, page=3))
        assert (paged.pages, len(paged.rows)) == (3, 2)
        with pytest.raises(PermissionDenied):
            list_payments(s, actors["viewer_a"], PaymentQuery())
        with pytest.raises(PermissionDenied):
            list_payments(s, actors["treasurer_b"],
                          PaymentQuery(organization_id=world.tree.club_a))
        data = export_payments_xlsx(s, actors["viewer_a"],
                                    PaymentQuery(organization_id=world.tree.club_a))
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert rows[0][0] == "Kirjauspäivä / Booked" and len(rows) == 6
    assert 35.0 in {r[1] for r in rows[1:]}
    # Money a number in euros with a euro format, the day a date, codes in words.
    first = next(sheet.iter_rows(min_row=2, max_row=2))  # type: ignore[union-attr]
    assert first[0].is_date and first[0].value.date() == date(2026, 11, 26)
    assert first[0].number_format == "d.m.yyyy"
    assert first[1].value == 35 and first[1].number_format == '#,##0.00 "€"'
    assert {r[2] for r in rows[1:]} == {"pankki / bank"}
    assert "kohdistettu / matched" in {r[6] for r in rows[1:]}
    assert "viite / reference" in {r[7] for r in rows[1:]}
    assert not {"matched", "bank", "reference"} & {c for r in rows[1:] for c in r}
