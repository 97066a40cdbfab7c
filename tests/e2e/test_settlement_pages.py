"""The settlements page and the escrow page in the production build: a treasurer opens
their settlement and downloads its report over HTTP; the operator reconciles the escrow
account against the imported statement."""

from __future__ import annotations

from datetime import date, timedelta
from io import BytesIO

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from membook_app.billing.invoices import LineInput, create_manual_invoice
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from membook_app.settlements.runs import approve_run, create_run
from tests.db.test_escrow_reconciliation import camt053
from tests.e2e.conftest import shot
from tests.e2e.test_register_flows import _sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def settled(server: dict[str, str]) -> dict[str, str]:
    """A 42,00 € club invoice of the treasurer's club, paid on a camt.053 statement, and an
    approved settlement run that includes it."""
    url = server["DATABASE_URL"]
    engine = create_engine(url)
    with engine.connect() as c:
        person_id, org_id, last, first = c.execute(text(
            "SELECT p.id, o.id, p.last_name, p.first_name FROM person p "
            "JOIN membership m ON m.person_id = p.id "
            "JOIN organization o ON o.id = m.organization_id "
            "WHERE o.name = 'Helsingin Reippaat ry' ORDER BY p.id LIMIT 1")).one()
    engine.dispose()
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    with session_scope(url) as s:
        reference = create_manual_invoice(
            s, None, organization_id=org_id, person_id=person_id,
            lines=[LineInput(org_id, "Jäsenmaksu 2027", 4200)], issue_date=date.today(),
            due_date=date.today() + timedelta(days=14)).reference
    with session_scope(url) as s:
        import_bank_file(s, None, camt053(
            [{"archive": "E2E-1", "cents": 4200, "ref": reference, "name": f"{last} {first}"}],
            0, yesterday, "E2E-STMT"), "e2e-statement.xml")
    with session_scope(url) as s:
        run_id = create_run(s, None).id
    with session_scope(url) as s:
        approve_run(s, None, run_id)  # type: ignore[arg-type]
    return {"reference": reference, "member": f"{last} {first}"}


def _open_from_sidebar(page: Page, base: str, email: str, link: str, path: str) -> None:
    """Sign in, land on the dashboard, follow the sidebar link to the page."""
    _sign_in(page, base, email)
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.get_by_role("link", name=link).click()
    expect(page).to_have_url(f"{base}{path}", timeout=30_000)


def test_treasurer_opens_settlement_and_downloads_report(server: dict[str, str], page: Page,
                                                         settled: dict[str, str]) -> None:
    base = server["base"]
    _open_from_sidebar(page, base, "rahastonhoitaja@membook.example", "Tilitykset",
                       "/admin/settlements")
    row = page.locator("#settlements-table tbody tr").first
    expect(row).to_contain_text("Helsingin Reippaat ry")
    expect(row).to_contain_text("hyväksytty")
    shot(page, "settlements-list")
    row.get_by_role("button", name="Avaa").click()
    expect(page.locator("#settlement-summary")).to_contain_text("Maksetaan")
    lines = page.locator("#settlement-lines-table tbody tr")
    expect(lines.filter(has_text=settled["reference"])).to_contain_text(settled["member"])
    expect(lines.filter(has_text=settled["reference"])).to_contain_text("42,00 €")
    shot(page, "settlement-detail")

    href = page.locator("#settlement-report").get_attribute("href")
    assert href and href.startswith("/api/settlements/")
    answer = page.request.get(f"{base}{href}")
    assert answer.status == 200
    book = load_workbook(BytesIO(answer.body()))
    assert book.sheetnames == ["Yhteenveto", "Maksut"]
    assert settled["reference"] in [c.value for c in book["Maksut"]["C"]]
    stranger = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        assert stranger.request.get(f"{base}{href}").status == 401
    finally:
        stranger.close()


def test_operator_reconciles_escrow(server: dict[str, str], page: Page,
                                    settled: dict[str, str]) -> None:
    base = server["base"]
    _open_from_sidebar(page, base, "operaattori@membook.example", "Asiakasvaratili",
                       "/admin/escrow")
    expect(page.locator("#escrow-statement")).to_contain_text("e2e-statement.xml")
    expect(page.locator("#escrow-closing")).to_contain_text("42,00 €")
    expect(page.locator("#escrow-reference")).to_contain_text("€")
    expect(page.locator("#escrow-explained")).to_contain_text("Palvelumaksut")
    shot(page, "escrow")


def test_operator_records_a_refund_paid_back(server: dict[str, str], page: Page,
                                             settled: dict[str, str]) -> None:
    """A payment nobody could place is marked for refund; on the escrow page the operator
    records it paid back today, and the row shows the day."""
    from sqlmodel import select

    from membook_app.accounts.permissions import load_actor
    from membook_app.formatting import fi_date
    from membook_app.payments.unmatched import mark_refund
    from models import Payment, User
    from tests.db.test_bank_import_support import camt054

    url = server["DATABASE_URL"]
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    with session_scope(url) as s:
        import_bank_file(s, None, camt054([{
            "archive": "E2E-REFUND-1", "cents": 1234, "ustrd": "vahingossa maksettu",
            "name": "Väärä Maksaja", "date": yesterday}], msg_id="E2E-REFUND"),
            "e2e-refund.xml")
    with session_scope(url) as s:
        payment_id = s.exec(select(Payment.id).where(
            Payment.payer_name == "Väärä Maksaja", Payment.status == "unmatched")).one()
        operator = s.exec(select(User).where(User.email == "operaattori@membook.example")).one()
        mark_refund(s, load_actor(s, operator), payment_id)  # type: ignore[arg-type]

    base = server["base"]
    _open_from_sidebar(page, base, "operaattori@membook.example", "Asiakasvaratili",
                       "/admin/escrow")
    row = page.locator(f"#refund-{payment_id}")
    expect(row).to_contain_text("12,34 €")
    expect(page.locator("#escrow-refunds_owed")).to_contain_text("12,34 €")
    expect(page.locator("#refund-day")).to_have_value(fi_date(date.today()))
    page.locator(f"#refund-paid-{payment_id}").click()
    expect(row).to_contain_text(fi_date(date.today()))
    expect(page.locator("#escrow-refunds_paid")).to_contain_text("12,34 €")
    shot(page, "escrow-refund-paid")
