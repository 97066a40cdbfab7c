"""Browser flows against the production build in headless Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

# `_sign_in` is also what test_pay_online.py and test_settlement_pages.py import from here.
from tests.e2e.conftest import shot
from tests.e2e.conftest import sign_in as _sign_in

pytestmark = pytest.mark.e2e


def _some_member(database_url: str) -> tuple[str, str, str]:
    """A member of Helsingin Reippaat ry with a distinctive surname, from the seeded data."""
    engine = create_engine(database_url)
    with engine.connect() as c:
        row = c.execute(text(
            "SELECT p.first_name, p.last_name, p.email FROM person p "
            "JOIN membership m ON m.person_id = p.id "
            "JOIN organization o ON o.id = m.organization_id "
            "WHERE o.name = 'Helsingin Reippaat ry' AND m.status = 'active' "
            "AND p.email IS NOT NULL AND p.email NOT LIKE '%membook.example' "
            "ORDER BY p.id LIMIT 1")).one()
    engine.dispose()
    return row[0], row[1], row[2]


def test_admin_finds_member_and_changes_phone(server: dict[str, str], page: Page) -> None:
    base = server["base"]
    first, last, email = _some_member(server["DATABASE_URL"])
    _sign_in(page, base, "helsinki.admin@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)  # the dashboard
    page.goto(f"{base}/admin/members")
    expect(page.locator("#register-table")).to_be_visible()
    shot(page, "admin-register")

    page.locator("#register-search").fill(email)
    row_link = page.get_by_role("link", name=f"{last} {first}")
    expect(row_link).to_have_count(1)
    expect(page.locator("#register-total")).to_contain_text("1")
    row_link.click()

    expect(page.locator("#first_name")).to_have_value(first)  # the record has loaded
    page.locator("#phone").fill("040 765 4321")
    page.locator("#save-person").click()
    expect(page.locator("#saved-note")).to_be_visible()
    shot(page, "admin-person-saved")

    page.reload()
    expect(page.locator("#first_name")).to_have_value(first)
    expect(page.locator("#phone")).to_have_value("+358407654321")

    page.locator("#phone").fill("12")
    page.locator("#save-person").click()
    expect(page.locator("#phone-error")).to_contain_text("Puhelinnumero ei kelpaa")
    shot(page, "admin-person-error")


def test_member_edits_address_and_is_kept_out_of_admin(server: dict[str, str],
                                                      page: Page) -> None:
    base = server["base"]
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    _sign_in(page, base, "jasen@membook.example")
    expect(page).to_have_url(f"{base}/portal", timeout=60_000)
    expect(page.locator("#portal-name")).not_to_be_empty()
    expect(page.locator("#language")).to_have_value("fi")  # the record has loaded

    page.locator("#street_address").fill("Uusikatu 5 B 12")
    page.locator("#postal_code").fill("00100")
    page.locator("#city").fill("Helsinki")
    page.locator("#portal-save").click()
    expect(page.locator("#portal-saved")).to_be_visible()
    shot(page, "member-portal-saved")
    page.reload()
    expect(page.locator("#language")).to_have_value("fi")
    expect(page.locator("#street_address")).to_have_value("Uusikatu 5 B 12")

    page.goto(f"{base}/admin/members")
    expect(page).to_have_url(f"{base}/portal", timeout=30_000)
    expect(page.locator("#register-table")).to_have_count(0)


def test_signed_out_visitor_goes_to_login(server: dict[str, str], page: Page) -> None:
    base = server["base"]
    page.goto(f"{base}/admin")
    expect(page).to_have_url(f"{base}/login", timeout=30_000)
    page.locator("#email").fill("helsinki.admin@membook.example")
    page.locator("#password").fill("wrong password!")
    page.locator("#sign-in").click()
    expect(page.locator("#login-error")).to_contain_text("Väärä sähköposti tai salasana")


def test_member_signs_in_with_emailed_link_once(server: dict[str, str], page: Page) -> None:
    """The link form queues mail in the outbox; the link signs in once, then is refused."""
    base = server["base"]
    page.goto(f"{base}/login")
    page.locator("#link-email").fill("jasen2@membook.example")
    page.locator("#send-link").click()
    expect(page.locator("#login-info")).to_be_visible()
    engine = create_engine(server["DATABASE_URL"])
    with engine.connect() as c:
        body = c.execute(text(
            "SELECT text_body FROM outboxmessage WHERE to_address = 'jasen2@membook.example' "
            "AND kind = 'signin_link' ORDER BY id DESC LIMIT 1")).scalar_one()
    engine.dispose()
    link = next(line for line in body.splitlines() if "/login/link?token=" in line).strip()
    assert link.startswith(base)
    page.goto(link)
    expect(page).to_have_url(f"{base}/portal", timeout=30_000)
    expect(page.locator("#portal-name")).not_to_be_empty()
    page.locator("#portal-sign-out").click()
    expect(page).to_have_url(f"{base}/login", timeout=30_000)
    page.goto(link)
    expect(page.locator("#link-error")).to_contain_text("jo käytetty")
