"""The operator uploads bank files on /admin/bank in the production build: a good KTL file
is imported (its summary and log row appear, the invoice is paid), a bad one is refused
with the line that is wrong and nothing imported."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from membook_app.billing.invoices import LineInput, create_manual_invoice
from membook_app.db import session_scope
from membook_app.demo.bank_files import BankLine, ktl_file
from tests.e2e.conftest import shot, sign_in

pytestmark = pytest.mark.e2e


def _scalar(url: str, sql: str, **params: object) -> object:
    engine = create_engine(url)
    with engine.connect() as c:
        value = c.execute(text(sql), params).scalar_one()
    engine.dispose()
    return value


def _upload(page: Page, path: Path) -> None:
    page.locator("#bank-upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#bank-upload")).to_contain_text(path.name)
    page.locator("#bank-upload-button").click()


def test_operator_uploads_a_file_then_a_refused_one(server: dict[str, str], page: Page,
                                                    tmp_path: Path) -> None:
    url, base = server["DATABASE_URL"], server["base"]
    person_id, org_id = _scalar(url, "SELECT m.person_id || ',' || m.organization_id "
                                     "FROM membership m ORDER BY m.id LIMIT 1").split(",")  # type: ignore[union-attr]
    today = date.today()
    with session_scope(url) as s:
        invoice = create_manual_invoice(
            s, None, organization_id=int(org_id), person_id=int(person_id),
            lines=[LineInput(int(org_id), "Syysleiri", 4200)], issue_date=today,
            due_date=today + timedelta(days=14))
        invoice_id, reference = invoice.id, invoice.reference
    lines = [BankLine("E2EUPLOAD0000001", reference, 4200, "LEIRILÄINEN LIISA",
                      today - timedelta(days=1)),
             BankLine("E2EUPLOAD0000002", "", 1500, "TUNTEMATON MAKSAJA",
                      today - timedelta(days=1))]
    good = tmp_path / "viitteet-e2e.txt"
    good.write_bytes(ktl_file(lines, account="12345600000785", created=datetime.now()))
    records = good.read_bytes().split(b"\r\n")
    records[-2] = records[-2][:10] + b"9" + records[-2][11:]  # totals no longer add up
    bad = tmp_path / "rikki-e2e.txt"
    bad.write_bytes(b"\r\n".join(records))

    sign_in(page, base, "operaattori@membook.example")
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)
    page.goto(f"{base}/admin/bank")
    expect(page.locator("#bank-import-log")).to_be_visible(timeout=30_000)

    _upload(page, good)
    result = page.locator("#bank-import-result")
    expect(result).to_contain_text("2 uutta maksua", timeout=30_000)
    expect(result).to_contain_text("1 kohdistettu, 1 kohdistamatta")
    expect(result).to_contain_text("1 matched, 1 unmatched")
    expect(result).to_contain_text("57,00")
    expect(page.locator("#bank-import-log")).to_contain_text("viitteet-e2e.txt")
    expect(page.locator("#bank-import-progress")).to_have_count(0)
    shot(page, "bank-upload-imported")
    assert _scalar(url, "SELECT status FROM invoice WHERE id = :i", i=invoice_id) == "paid"

    _upload(page, bad)
    error = page.locator("#bank-import-error")
    expect(error).to_contain_text("hylättiin", timeout=30_000)
    expect(error).to_contain_text("rikki-e2e.txt: KTL line")
    expect(page.locator("#bank-import-log")).to_contain_text("rikki-e2e.txt")
    shot(page, "bank-upload-refused")
    assert _scalar(url, "SELECT count(*) FROM bankimport WHERE filename = 'rikki-e2e.txt'") == 0
