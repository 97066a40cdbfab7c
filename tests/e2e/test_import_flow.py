"""Importing members in the browser: a file with a bad row, the error beside its row, the
fixed file imported; and 10,000 rows through the Huey worker with the progress bar."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from membook_app.demo.seed import DEMO_PASSWORD
from tests.conftest import REPO_ROOT
from tests.data.member_files import xlsx_bytes
from tests.e2e.conftest import shot

pytestmark = pytest.mark.e2e

HEADERS = ["Etunimi", "Sukunimi", "Sähköposti", "Puhelin", "Postinumero", "Syntymäaika",
           "Jäsenlaji"]


def _sign_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#email").fill(email)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("#sign-in").click()
    expect(page).to_have_url(f"{base}/admin", timeout=60_000)


def _upload(page: Page, path: Path) -> None:
    page.locator("#import-upload input[type=file]").set_input_files(str(path))
    expect(page.locator("#import-selected")).to_contain_text(path.name)
    page.locator("#import-upload-button").click()
    expect(page.locator("#import-file")).to_contain_text(path.name)


def _scalar(database_url: str, sql: str, **params: object) -> object:
    engine = create_engine(database_url)
    with engine.connect() as c:
        value = c.execute(text(sql), params).scalar_one()
    engine.dispose()
    return value


def test_import_file_with_a_bad_row_then_the_fixed_file(server: dict[str, str], page: Page,
                                                       tmp_path: Path) -> None:
    base = server["base"]
    rows = [
        ["Iida", "Tuontinen", "iida.tuontinen@example.fi", "040 111 2233", "00100",
         date(1990, 3, 4), "Varsinainen jäsen"],
        ["Ilmari", "Tuontinen", "ilmari.tuontinen@example", "", "00100", date(1988, 5, 6),
         "Varsinainen jäsen"],
        ["Inkeri", "Tuontinen", "inkeri.tuontinen@example.fi", "", "00180", "12.12.2012",
         "Nuorisojäsen"],
    ]
    bad = tmp_path / "jasenet.xlsx"
    bad.write_bytes(xlsx_bytes(HEADERS, rows))

    _sign_in(page, base, "helsinki.admin@membook.example")
    page.goto(f"{base}/admin/import")
    expect(page.locator("#org-switcher")).to_contain_text("Helsingin Reippaat")
    _upload(page, bad)
    expect(page.locator("#map-2")).to_contain_text("Sähköposti")  # mapped automatically
    shot(page, "import-columns")

    page.locator("#import-check").click()
    expect(page.locator("#import-error-count")).to_have_text("1")
    expect(page.locator("#import-new")).to_have_text("2")
    error_row = page.locator("#import-error-3-0")
    expect(error_row).to_contain_text("3")
    expect(error_row).to_contain_text("Sähköposti")
    expect(error_row).to_contain_text("ilmari.tuontinen@example")
    expect(error_row).to_contain_text("Sähköpostiosoite ei kelpaa")
    expect(page.locator("#import-confirm")).to_be_disabled()
    shot(page, "import-error")
    assert _scalar(server["DATABASE_URL"],
                   "SELECT count(*) FROM person WHERE last_name = 'Tuontinen'") == 0

    rows[1][2] = "ilmari.tuontinen@example.fi"
    fixed = tmp_path / "jasenet-korjattu.xlsx"
    fixed.write_bytes(xlsx_bytes(HEADERS, rows))
    _upload(page, fixed)
    page.locator("#import-check").click()
    expect(page.locator("#import-error-count")).to_have_text("0")
    expect(page.locator("#import-new")).to_have_text("3")
    expect(page.locator("#import-confirm")).to_be_enabled()
    page.locator("#import-confirm").click()
    expect(page.locator("#import-done")).to_contain_text("3 uutta")
    shot(page, "import-done")
    assert _scalar(server["DATABASE_URL"],
                   "SELECT count(*) FROM person p JOIN membership m ON m.person_id = p.id "
                   "JOIN organization o ON o.id = m.organization_id "
                   "WHERE p.last_name = 'Tuontinen' AND o.name = 'Helsingin Reippaat ry' "
                   "AND m.status = 'active'") == 3


@pytest.fixture
def worker(server: dict[str, str]) -> Iterator[None]:
    """The Huey consumer beside the server (same var/ and database), as `make run` has."""
    env = {k: v for k, v in server.items() if k != "base"}
    log = open(Path(env["VAR_DIR"]) / "worker.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([str(REPO_ROOT / ".venv/bin/membook"), "worker", "--workers", "1"],
                            env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        yield
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_ten_thousand_rows_through_the_worker(server: dict[str, str], worker: None, page: Page,
                                              tmp_path: Path) -> None:
    base = server["base"]
    rows = [[f"Etu{i}", f"Massatuonti{i}", f"massa{i}@example.fi", "", f"{i % 99999:05d}",
             "1.2.1980", ""] for i in range(10_000)]
    big = tmp_path / "kymmenentuhatta.xlsx"
    big.write_bytes(xlsx_bytes(HEADERS, rows))

    _sign_in(page, base, "liitto.admin@membook.example")  # premium: no member limit
    page.goto(f"{base}/admin/import")
    expect(page.locator("#org-switcher")).to_contain_text("Suomen Liikuntaliitto")
    _upload(page, big)
    page.locator("#import-check").click()
    expect(page.locator("#import-progress")).to_be_visible()
    shot(page, "import-progress")
    expect(page.locator("#import-new")).to_have_text("10000", timeout=240_000)
    expect(page.locator("#import-error-count")).to_have_text("0")
    page.locator("#import-confirm").click()
    expect(page.locator("#import-done")).to_contain_text(re.compile(r"10\W?000 uutta"),
                                                         timeout=300_000)
    shot(page, "import-10000-done")
    assert _scalar(server["DATABASE_URL"],
                   "SELECT count(*) FROM person WHERE last_name LIKE 'Massatuonti%'") == 10_000


def test_export_with_the_register_filters_downloads_over_http(server: dict[str, str],
                                                              page: Page) -> None:
    """The register's search carries over to the export page; the file comes from the
    authenticated route, and the route refuses a browser without the session."""
    base = server["base"]
    _sign_in(page, base, "helsinki.admin@membook.example")
    page.goto(f"{base}/admin/members")  # the register (/admin is the dashboard)
    page.locator("#register-search").fill("Tuontinen")
    expect(page.locator("#register-total")).to_contain_text("3")
    page.goto(f"{base}/admin/export")
    expect(page.locator("#export-search")).to_have_value("Tuontinen")
    expect(page.locator("#col-email")).to_be_visible()
    page.locator("#export-start").click()
    link = page.locator("#export-download")
    expect(link).to_be_visible()
    expect(page.locator("#export-done")).to_contain_text("3 riviä")
    shot(page, "export-ready")
    href = link.get_attribute("href")
    assert href and href.startswith("/api/exports/")
    answer = page.request.get(f"{base}{href}")
    assert answer.status == 200
    assert answer.body()[:2] == b"PK"
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(answer.body())).active
    assert sheet.max_row == 4 and sheet["B1"].value == "Sukunimi"
    stranger = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        assert stranger.request.get(f"{base}{href}").status == 401
    finally:
        stranger.close()
