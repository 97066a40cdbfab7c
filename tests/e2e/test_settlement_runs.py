"""The operator's weekly settlement in the production build: preview, create, review and
approve a run, then download its SEPA payout file and check it against the official XSD."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from lxml import etree
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from membook_app.banking.pain001 import validate_pain001
from membook_app.billing.invoices import LineInput, create_manual_invoice
from membook_app.db import session_scope
from membook_app.demo.bank_files import BankLine, ktl_file
from membook_app.payments.bank_import import import_bank_file
from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def paid_invoice(server: dict[str, str]) -> dict[str, str]:
    """A 55,00 € invoice of Oulun Liikkujat ry, paid by reference on today's KTL file."""
    url = server["DATABASE_URL"]
    engine = create_engine(url)
    with engine.connect() as c:
        person_id, org_id, iban = c.execute(text(
            "SELECT p.id, o.id, o.iban FROM person p "
            "JOIN membership m ON m.person_id = p.id "
            "JOIN organization o ON o.id = m.organization_id "
            "WHERE o.name = 'Oulun Liikkujat ry' ORDER BY p.id LIMIT 1")).one()
    engine.dispose()
    today = date.today()
    with session_scope(url) as s:
        reference = create_manual_invoice(
            s, None, organization_id=org_id, person_id=person_id,
            lines=[LineInput(org_id, "Kevätleiri", 5500)], issue_date=today,
            due_date=today + timedelta(days=14)).reference
    line = BankLine("E2ERUNS000000001", reference, 5500, "LEIRILÄINEN", today - timedelta(1))
    with session_scope(url) as s:
        import_bank_file(s, None, ktl_file([line], account="12345600000785",
                                           created=datetime.now()), "e2e-runs.txt")
    return {"iban": iban}


def test_operator_approves_a_run_and_downloads_the_payout_file(
        server: dict[str, str], page: Page, paid_invoice: dict[str, str]) -> None:
    base = server["base"]
    sign_in(page, base, "operaattori@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.get_by_role("link", name="Tilitysajot").click()
    expect(page).to_have_url(f"{base}/admin/settlement-runs", timeout=30_000)
    # The e2e installation runs on the built-in example escrow account: warned.
    expect(page.locator("#settlement-escrow-example")).to_contain_text("ESCROW_IBAN")

    page.locator("#settlement-preview").click()
    expect(page.locator("#settlement-preview-table")).to_contain_text("Oulun Liikkujat ry")
    expect(page.locator("#settlement-preview-table")).to_contain_text("€")
    shot(page, "settlement-run-preview")

    page.locator("#settlement-create").click()
    expect(page.locator("#settlement-message")).to_contain_text("luotu")
    review = page.locator("#settlement-review-table")
    expect(review).to_contain_text("Oulun Liikkujat ry")
    expect(review).to_contain_text(paid_invoice["iban"])
    expect(review).to_contain_text("Oikaisut")
    page.locator("#settlement-approve").click()  # asks first; nothing happens yet
    expect(page.get_by_role("alertdialog")).to_contain_text("Hyväksytäänkö tilitysajo?")
    expect(page.locator("#settlement-message")).to_have_count(1)
    expect(page.locator("#settlement-message")).not_to_contain_text("hyväksytty")
    page.locator("#settlement-approve-confirm").click()
    expect(page.locator("#settlement-message")).to_contain_text("hyväksytty")
    shot(page, "settlement-run-approved")

    link = page.locator("#settlement-runs").get_by_role("link", name="Maksutiedosto").first
    href = link.get_attribute("href")
    assert href and href.startswith("/api/settlement-runs/")
    answer = page.request.get(f"{base}{href}")
    assert answer.status == 200
    xml = answer.body()
    validate_pain001(xml)
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
    tree = etree.fromstring(xml)
    ibans = tree.xpath("//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN/text()", namespaces=ns)
    refs = tree.xpath("//p:CdtTrfTxInf//p:CdtrRefInf/p:Ref/text()", namespaces=ns)
    assert paid_invoice["iban"] in ibans
    assert refs and all(r.startswith("RF") for r in refs)
    # Someone who is not signed in gets nothing.
    stranger = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        assert stranger.request.get(f"{base}{href}").status in (401, 403, 404)
    finally:
        stranger.close()
