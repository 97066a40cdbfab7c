"""A member's balance in the production build: on the admin person page (the club's share)
and in the member's portal on a phone, in Finnish money."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from membook_app.banking.references import make_national
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from tests.db.test_bank_import_support import camt054, make_invoice
from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def _person_with_open_invoice(database_url: str) -> int:
    """A payer with an open invoice of Helsingin Reippaat ry, from the seeded data."""
    engine = create_engine(database_url)
    with engine.connect() as c:
        person_id = c.execute(text(
            "SELECT i.payer_id FROM invoice i JOIN organization o ON o.id = i.organization_id "
            "WHERE o.name = 'Helsingin Reippaat ry' AND i.status IN ('open', 'overdue') "
            "AND i.kind = 'invoice' ORDER BY i.id LIMIT 1")).scalar_one()
    engine.dispose()
    return int(person_id)


def test_admin_sees_a_members_balance(server: dict[str, str], page: Page) -> None:
    base = server["base"]
    person_id = _person_with_open_invoice(server["DATABASE_URL"])
    sign_in(page, base, "helsinki.admin@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.goto(f"{base}/admin/person?id={person_id}")
    expect(page.locator("#balance-open")).to_contain_text("€", timeout=30_000)
    expect(page.locator("#balance-open")).not_to_have_text("0,00\xa0€")
    expect(page.locator("#balance-invoices")).to_contain_text("Helsingin Reippaat ry")
    shot(page, "admin-person-balance")


def test_member_sees_own_balance_on_a_phone(server: dict[str, str], page: Page) -> None:
    base = server["base"]
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base, "jasen@membook.example")
    expect(page).to_have_url(f"{base}/portal", timeout=60_000)
    balance = page.locator("#portal-balance")
    expect(balance).to_be_visible(timeout=30_000)
    expect(page.locator("#portal-open")).to_contain_text("€")
    box = balance.bounding_box()
    assert box is not None and box["width"] <= 390
    shot(page, "member-portal-balance")


def _payer_with_club_credit(database_url: str) -> int:
    """A Helsingin Reippaat ry payer who over-pays a club invoice by 10,00 € (a real bank
    import) and then has another open invoice of the club to pay from that credit."""
    engine = create_engine(database_url)
    with engine.connect() as c:
        club, person_id = c.execute(text(
            "SELECT o.id, i.payer_id FROM invoice i "
            "JOIN organization o ON o.id = i.organization_id "
            "WHERE o.name = 'Helsingin Reippaat ry' AND i.kind = 'invoice' "
            "ORDER BY i.id DESC LIMIT 1")).one()
    engine.dispose()
    make_invoice(database_url, club, person_id, make_national("987640"), 1500)
    with session_scope(database_url) as s:
        import_bank_file(s, None, camt054([{"archive": "E2E-CREDIT", "cents": 2500,
                                            "ref": make_national("987640")}],
                                          msg_id="E2E-CREDIT"), "over.xml")
    make_invoice(database_url, club, person_id, make_national("987650"), 3500)
    return int(person_id)


def test_treasurer_pays_from_credit_on_a_phone(server: dict[str, str], page: Page) -> None:
    base = server["base"]
    person_id = _payer_with_club_credit(server["DATABASE_URL"])
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base, "helsinki.admin@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.goto(f"{base}/admin/person?id={person_id}")
    offers = page.locator("#credit-offers")
    expect(offers).to_contain_text(make_national("987650"), timeout=30_000)
    offer = offers.locator("form").filter(has_text=make_national("987650"))
    amount = offer.locator("input[name=amount]")
    expected = "10,00"
    expect(amount).to_have_value(expected)
    box = offers.bounding_box()
    assert box is not None and box["width"] <= 390
    offer.get_by_role("button").click()
    expect(page.locator("#credit-message")).to_contain_text(f"{expected}\xa0€")
    expect(page.locator("#balance-credit")).to_have_text("0,00\xa0€")
    shot(page, "admin-person-pay-from-credit")


def _payer_with_credit_to_refund(database_url: str) -> tuple[int, int]:
    """A Helsingin Reippaat ry member who pays a 15,00 € invoice twice from their own
    account (a real bank import): (person id, their whole credit in cents)."""
    engine = create_engine(database_url)
    with engine.connect() as c:
        club, person_id = c.execute(text(
            "SELECT o.id, p.id FROM person p JOIN membership m ON m.person_id = p.id "
            "JOIN organization o ON o.id = m.organization_id "
            "WHERE o.name = 'Helsingin Reippaat ry' ORDER BY p.id DESC LIMIT 1")).one()
    engine.dispose()
    make_invoice(database_url, club, person_id, make_national("987670"), 1500)
    with session_scope(database_url) as s:
        import_bank_file(s, None, camt054([
            {"archive": f"E2E-TWICE-{n}", "cents": 1500, "ref": make_national("987670")}
            for n in (1, 2)], msg_id="E2E-TWICE"), "twice.xml")
    engine = create_engine(database_url)
    with engine.begin() as c:
        c.execute(text("UPDATE payment SET payer_iban = 'FI4250001510000023' "
                       "WHERE source_id LIKE 'E2E-TWICE-%'"))
        credit = c.execute(text(
            "SELECT SUM(amount_cents) FROM allocation WHERE person_id = :p "
            "AND invoice_id IS NULL"), {"p": person_id}).scalar_one()
    engine.dispose()
    return int(person_id), int(credit)


def test_operator_refunds_credit_to_the_payers_account(server: dict[str, str],
                                                        page: Page) -> None:
    base = server["base"]
    person_id, credit = _payer_with_credit_to_refund(server["DATABASE_URL"])
    whole = f"{credit // 100},{credit % 100:02d}"
    sign_in(page, base, "operaattori@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.goto(f"{base}/admin/person?id={person_id}")
    expect(page.locator("#refund-amount")).to_have_value(whole, timeout=30_000)
    expect(page.locator("#refund-iban")).to_have_value("FI4250001510000023")
    page.locator("#refund-note").fill("maksoi kahdesti")
    page.locator("#refund-submit").click()
    expect(page.locator("#credit-message")).to_contain_text(f"{whole}\xa0€")
    expect(page.locator("#balance-credit")).to_have_text("0,00\xa0€")
    shot(page, "admin-person-refund-credit")
    engine = create_engine(server["DATABASE_URL"])
    with engine.connect() as c:
        refund_id = c.execute(text("SELECT id FROM creditrefund WHERE person_id = :p"),
                              {"p": person_id}).scalar_one()
    engine.dispose()
    page.goto(f"{base}/admin/escrow")
    row = page.locator(f"#credit-refund-{refund_id}")
    expect(row).to_contain_text(f"{whole} €", timeout=30_000)
    expect(row).to_contain_text("maksoi kahdesti")
    # Marking it paid back is left to the in-process handler test: the server is shared,
    # and the escrow page's own e2e test counts the refunds paid back.
    expect(page.locator(f"#credit-refund-paid-{refund_id}")).to_be_visible()
    shot(page, "escrow-credit-refund-owed")
