"""The reports page in the production build: a treasurer opens a report, narrows its
detail rows, and downloads the .xlsx through the authenticated route."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from membook_app.demo.seed import DEMO_PASSWORD
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e


def test_treasurer_opens_receivables_and_downloads_xlsx(server: dict[str, str],
                                                        page: Page) -> None:
    base = server["base"]
    page.goto(f"{base}/login")
    page.locator("#email").fill("rahastonhoitaja@membook.example")
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("#sign-in").click()
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)

    page.goto(f"{base}/admin/reports")
    expect(page.locator("#report-link-receivables")).to_be_visible(timeout=30_000)
    expect(page.locator("#report-link-escrow")).to_have_count(0)  # the operator's only
    page.locator("#report-link-receivables").click()

    buckets = page.locator("#report-table-bucket")
    expect(buckets).to_contain_text("Yhteensä / Total")
    expect(buckets).to_contain_text("€")
    expect(page.locator("#report-detail")).to_contain_text("Helsingin Reippaat ry")
    shot(page, "report-receivables")

    with page.expect_download() as info:
        page.locator("#report-download").click()
    download = info.value
    assert download.suggested_filename.startswith("receivables")
    with open(download.path(), "rb") as handle:
        book = load_workbook(io.BytesIO(handle.read()))
    assert book.sheetnames == ["Yhteenveto", "Tiedot"]
    rows = list(book["Tiedot"].iter_rows(min_row=2, values_only=True))
    assert rows and all(isinstance(r[8], int | float) for r in rows)

    # Another report through the same page: the invoicing totals by period.
    page.goto(f"{base}/admin/reports?r=invoicing")
    expect(page.locator("#report-table-period")).to_contain_text("2027", timeout=30_000)
    shot(page, "report-invoicing")

    # A half-typed date is no filter: its error shows beside the field when the field is
    # left, and the report stands; a whole date applies on Enter.
    start = page.locator("#report-date_from")
    expect(start).to_have_attribute("placeholder", "alkaen p.k.vvvv")
    start.fill("1.1.2")
    expect(page.locator("#report-date_from-error")).to_have_count(0)  # not while typing
    start.press("Tab")
    expect(page.locator("#report-date_from-error")).to_contain_text("p.k.vvvv")
    expect(page.locator("#report-table-period")).to_contain_text("2027")
    shot(page, "report-date-error")
    start.fill("1.1.2030")
    start.press("Enter")
    expect(page.locator("#report-date_from-error")).to_have_count(0)
    expect(page.locator("#report-table-period")).not_to_contain_text("2027")
    shot(page, "report-date-filter")
