"""A member's balance in the production build: on the admin person page (the club's share)
and in the member's portal on a phone, in Finnish money."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

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
