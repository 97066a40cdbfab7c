"""A member pays an invoice online in the Paytrail sandbox and sees it paid."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from membook_app.billing.invoices import LineInput, create_manual_invoice
from membook_app.db import session_scope
from tests.e2e.conftest import shot
from tests.e2e.test_register_flows import _sign_in

pytestmark = pytest.mark.e2e


def _invoice_for_demo_member(database_url: str) -> str:
    """An open 35 € invoice for jasen@membook.example in the server's database."""
    engine = create_engine(database_url)
    with engine.connect() as c:
        person_id, org_id = c.execute(text(
            "SELECT p.id, m.organization_id FROM person p JOIN membership m "
            "ON m.person_id = p.id WHERE p.email = 'jasen@membook.example' LIMIT 1")).one()
    engine.dispose()
    with session_scope(database_url) as s:
        invoice = create_manual_invoice(
            s, None, organization_id=org_id, person_id=person_id,
            lines=[LineInput(organization_id=org_id, description="Jäsenmaksu 2027",
                             amount_cents=3500)],
            issue_date=date.today(), due_date=date.today() + timedelta(days=14),
            description="Jäsenmaksu 2027")
        return invoice.reference


def test_member_pays_online_and_sees_it_paid(server: dict[str, str], page: Page) -> None:
    base = server["base"]
    reference = _invoice_for_demo_member(server["DATABASE_URL"])
    page.set_viewport_size({"width": 390, "height": 844})
    _sign_in(page, base, "jasen@membook.example")
    expect(page).to_have_url(f"{base}/portal", timeout=60_000)
    page.locator("#portal-invoices-link").click()
    card = page.locator(".invoice-card", has_text=reference)
    expect(card).to_contain_text("35,00 €")
    shot(page, "portal-invoices")

    card.locator(".pay-online-button").click()
    page.locator("#start-payment").click()
    page.locator('button[data-provider="osuuspankki"]').click()
    shot(page, "sandbox-bank-page")
    page.get_by_role("button", name="Maksa").first.click()
    expect(page.locator("#payment-ok")).to_be_visible(timeout=30_000)
    shot(page, "payment-returned")

    page.goto(f"{base}/portal/invoices")
    paid = page.locator(".invoice-card", has_text=reference)
    expect(paid).to_contain_text("maksettu")
    expect(paid.locator(".pay-online-button")).to_have_count(0)

    engine = create_engine(server["DATABASE_URL"])
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT p.source, p.amount_cents FROM payment p JOIN allocation a "
            "ON a.payment_id = p.id JOIN invoice i ON i.id = a.invoice_id "
            "WHERE i.reference = :r"), {"r": reference}).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("paytrail", 3500)]

    # The club's admin sees the payment among the club's payments.
    page.set_viewport_size({"width": 1280, "height": 900})
    _sign_in(page, base, "helsinki.admin@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.goto(f"{base}/admin/payments")
    row = page.locator("#payments-table tr", has_text=reference)
    expect(row).to_contain_text("Paytrail")
    expect(row).to_contain_text("35,00")
    shot(page, "admin-sees-paytrail-payment")
