"""A treasurer credits one share of a run invoice on /admin/invoice, in the production build.

Run invoices carry their fee lines as a run price's lines (`RunPrice`); the credit form
names each line by its position, and the credit note's line must land on that line's
organisation and position.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from sqlmodel import col, select

from membook_app.db import session_scope
from models import Invoice, InvoiceLine, Organization, invoice_lines
from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def test_treasurer_credits_the_district_share_of_a_run_invoice(server: dict[str, str],
                                                               page: Page) -> None:
    url, base = server["DATABASE_URL"], server["base"]
    with session_scope(url) as s:
        club = s.exec(select(Organization).where(Organization.name == "Helsingin Reippaat ry")
                      ).one()
        credited = select(Invoice.credited_invoice_id).where(
            col(Invoice.credited_invoice_id).is_not(None))
        invoice = s.exec(select(Invoice).where(
            Invoice.organization_id == club.id, col(Invoice.run_price_id).is_not(None),
            Invoice.status == "open", col(Invoice.id).not_in(credited)).order_by(Invoice.id)
        ).first()
        assert invoice is not None, "the demo run invoices the club"
        lines = s.execute(sa.select(invoice_lines).where(
            invoice_lines.c.invoice_id == invoice.id).order_by(invoice_lines.c.position)).all()
        assert len(lines) >= 2 and s.exec(select(InvoiceLine).where(
            InvoiceLine.invoice_id == invoice.id)).first() is None  # all from the run price
        second = lines[1]
        invoice_id, reference = invoice.id, invoice.reference

    sign_in(page, base, "rahastonhoitaja@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.goto(f"{base}/admin/invoice?id={invoice_id}")
    expect(page.locator("#invoice-lines")).to_contain_text(second.description, timeout=30_000)
    # Paper delivery: the print links open this invoice's public page and PDF.
    public = page.locator("#invoice-public-link").get_attribute("href") or ""
    pdf = page.locator("#invoice-pdf-link").get_attribute("href") or ""
    assert "/i/" in public and pdf == public + ".pdf"
    printed = page.request.get(base + public[public.index("/i/"):])
    assert printed.ok and f'id="reference">{reference}<' in printed.text().replace(" ", "")
    as_pdf = page.request.get(base + pdf[pdf.index("/i/"):])
    assert as_pdf.ok and as_pdf.headers["content-type"] == "application/pdf"
    page.locator(f"input[name='line-{second.position}']").fill("2,00")
    page.locator("input[name='reason']").fill("Piirin osuus osittain")
    page.locator("#credit-submit").click()
    expect(page.locator("#invoice-message")).to_contain_text("Hyvityslasku", timeout=30_000)
    expect(page.locator("#invoice-credited_amount")).to_contain_text("2,00")
    shot(page, "invoice-credited-line")

    with session_scope(url) as s:
        note = s.exec(select(Invoice).where(Invoice.credited_invoice_id == invoice_id)).one()
        assert (note.kind, note.total_cents) == ("credit_note", -200)
        note_lines = s.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == note.id)).all()
        assert [(li.position, li.organization_id, li.amount_cents) for li in note_lines] == [
            (second.position, second.organization_id, -200)]
        original = s.get(Invoice, invoice_id)
        assert original is not None and original.credited_cents == 200
        assert original.reference == reference
