"""The daily inbox import, its banking-day schedule, and `membook bank import`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click
from click.testing import CliRunner
from sqlmodel import select

from membook_app.db import session_scope
from membook_app.payments.bank_import import import_log
from membook_app.payments.inbox import process_inbox
from models import AuditEvent, BankImport
from tasks import huey
from tasks.bank import import_inbox_now, is_inbox_run_time
from tests.db.test_bank_import_support import (
    TODAY,
    actor,
    invoice_state,
    make_world,
    money_snapshot,
    sample,
    sample_path,
)
from tests.factories import make_staff

KTL = "ktl_reference_payments.txt"


def test_inbox_moves_files_and_records_results(db_url: str, tmp_path: Path) -> None:
    world = make_world(db_url)
    inbox = tmp_path / "bank-inbox"
    inbox.mkdir()
    (inbox / "a-ktl.txt").write_bytes(sample(KTL))
    (inbox / "b-same-again.txt").write_bytes(sample(KTL))
    (inbox / "c-broken.xml").write_bytes(b"<Document><unclosed>")
    (inbox / "d-uploading.part").write_bytes(b"half")
    results = process_inbox(inbox, today=TODAY)
    assert [(r.filename, r.outcome) for r in results] == [
        ("a-ktl.txt", "imported"), ("b-same-again.txt", "duplicate"), ("c-broken.xml", "refused")]
    processed = sorted(p.name for p in (inbox / "processed").iterdir())
    failed = sorted(p.name for p in (inbox / "failed").iterdir())
    assert len(processed) == 4 and any(n.endswith("a-ktl.txt") for n in processed)
    assert [n for n in failed if n.endswith(".json")] and len(failed) == 2
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["d-uploading.part"]
    result_file = next(p for p in (inbox / "failed").iterdir() if p.name.endswith(".json"))
    assert json.loads(result_file.read_text())["outcome"] == "refused"
    with session_scope(db_url) as s:
        log = s.exec(select(BankImport)).one()
        assert (log.source, log.filename, log.matched_count) == ("inbox", "a-ktl.txt", 5)
        actions = sorted(s.exec(select(AuditEvent.action).where(
            AuditEvent.action.startswith("bank_import"))).all())  # type: ignore[attr-defined]
        assert actions == ["bank_import.duplicate", "bank_import.imported",
                           "bank_import.refused"]
        assert invoice_state(s, world.invoices["20260011"]) == ("paid", 3500)
    # The operator's import log shows all three attempts, newest first.
    operator = actor(db_url, make_staff(db_url, "op@example.fi", None, None, operator=True))
    with session_scope(db_url) as s:
        log_rows = import_log(s, operator)
    assert [(r.filename, r.outcome) for r in log_rows] == [
        ("c-broken.xml", "refused"), ("b-same-again.txt", "duplicate"),
        ("a-ktl.txt", "imported")]
    assert (log_rows[2].payment_count, log_rows[2].credit_cents) == (7, 124049)
    assert "totals" in log_rows[0].message or "c-broken.xml" in log_rows[0].message
    # A second run finds nothing to do.
    assert process_inbox(inbox, today=TODAY) == []


def test_import_inbox_task_body(db_url: str, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from membook_app.settings import get_settings
    make_world(db_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    (tmp_path / "bank-inbox").mkdir()
    (tmp_path / "bank-inbox" / "ktl.txt").write_bytes(sample(KTL))
    result = import_inbox_now(TODAY)
    assert [f["outcome"] for f in result["files"]] == ["imported"]
    assert (tmp_path / "bank-inbox" / "processed").is_dir()


def test_runs_only_on_finnish_banking_days() -> None:
    """08:00 Helsinki on banking days; weekends, Midsummer Eve, Christmas Eve skipped."""
    assert is_inbox_run_time(datetime(2026, 11, 27, 6, 0))        # Fri 08:00 EET
    assert not is_inbox_run_time(datetime(2026, 11, 27, 6, 1))
    assert not is_inbox_run_time(datetime(2026, 11, 27, 8, 0))    # 10:00 local
    assert not is_inbox_run_time(datetime(2026, 11, 28, 6, 0))    # Saturday
    assert not is_inbox_run_time(datetime(2026, 11, 29, 6, 0))    # Sunday
    assert is_inbox_run_time(datetime(2026, 6, 18, 5, 0))         # Thu 08:00 EEST
    assert not is_inbox_run_time(datetime(2026, 6, 19, 5, 0))     # Midsummer Eve
    assert not is_inbox_run_time(datetime(2026, 12, 24, 6, 0))    # Christmas Eve
    assert not is_inbox_run_time(datetime(2026, 12, 25, 6, 0))    # Christmas Day
    assert not is_inbox_run_time(datetime(2027, 1, 6, 6, 0))      # Epiphany
    assert is_inbox_run_time(datetime(2026, 12, 28, 6, 0))        # Monday after


def test_task_is_scheduled_with_the_banking_day_validator() -> None:
    due = huey.read_periodic(datetime(2026, 11, 27, 6, 0))
    assert "import_bank_inbox" in {t.name for t in due}
    holiday = huey.read_periodic(datetime(2026, 6, 19, 5, 0))
    assert "import_bank_inbox" not in {t.name for t in holiday}


def _group() -> click.Group:
    from membook_app.cli.bank_import import register

    @click.group()
    def bank() -> None:
        """bank"""

    register(bank)
    return bank


def test_cli_import(db_url: str) -> None:
    make_world(db_url)
    runner = CliRunner()
    result = runner.invoke(_group(), ["import", str(sample_path(KTL)), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["payment_count"], summary["matched_count"], summary["unmatched_count"]) == (
        7, 5, 1)
    again = runner.invoke(_group(), ["import", str(sample_path(KTL))])
    assert again.exit_code == 0 and "already imported" in again.output


def test_cli_refuses_bad_file(db_url: str, tmp_path: Path) -> None:
    make_world(db_url)
    before = money_snapshot(db_url)
    bad = tmp_path / "bad.txt"
    bad.write_bytes(sample(KTL)[:-200])
    result = CliRunner().invoke(_group(), ["import", str(bad)])
    assert result.exit_code == 2
    assert "bad.txt" in result.output
    assert money_snapshot(db_url) == before


def test_inbox_folder_is_the_bank_inbox_dir_setting(db_url: str, tmp_path: Path,
                                                    monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from membook_app.settings import get_settings
    make_world(db_url)
    folder = tmp_path / "pankki" / "saapuvat"
    monkeypatch.setenv("BANK_INBOX_DIR", str(folder))
    get_settings.cache_clear()
    try:
        folder.mkdir(parents=True)
        (folder / "ktl.txt").write_bytes(sample(KTL))
        result = import_inbox_now(TODAY)
        assert [f["outcome"] for f in result["files"]] == ["imported"]
        assert [p.name[-7:] for p in (folder / "processed").iterdir()
                if not p.name.endswith(".json")] == ["ktl.txt"]
    finally:
        get_settings.cache_clear()


def test_unexpected_error_is_recorded_as_a_refused_file(db_url: str) -> None:
    """Any exception inside the import rolls it back and reaches the log as a refusal."""
    from membook_app.banking.statement import BankFileError
    from membook_app.payments.bank_import import run_import

    make_world(db_url)
    before = money_snapshot(db_url)

    def interrupted(done: int) -> None:
        raise RuntimeError(f"yhteys katkesi {done}")

    try:
        run_import(None, sample(KTL), "viitteet.txt", source="cli", today=TODAY,
                   progress=interrupted)
    except BankFileError as exc:
        refusal = exc
    else:
        raise AssertionError("the import did not fail")
    assert isinstance(refusal.__cause__, RuntimeError)
    assert str(refusal) == (
        "viitteet.txt: bank file: odottamaton virhe tuonnissa, mitään ei tuotu / unexpected "
        "error while importing, nothing was imported (RuntimeError: yhteys katkesi 7)")
    assert money_snapshot(db_url) == before
    operator = actor(db_url, make_staff(db_url, "op@example.fi", None, None, operator=True))
    with session_scope(db_url) as s:
        [row] = import_log(s, operator)
    assert (row.filename, row.outcome, row.source) == ("viitteet.txt", "refused", "cli")
    assert "RuntimeError: yhteys katkesi 7" in row.message


def test_summary_and_log_message_are_finnish_first(db_url: str) -> None:
    from membook_app.payments.bank_import import run_import

    make_world(db_url)
    result = run_import(None, sample(KTL), "viitteet.txt", source="cli", today=TODAY)
    nbsp = "\xa0"
    assert result.summary() == (
        "viitteet.txt (ktl): 7 uutta maksua, 0 jo tuotua, 5 kohdistettu, 1 kohdistamatta; "
        f"hyvitykset 1{nbsp}240,49{nbsp}€, veloitukset 50,00{nbsp}€ / 7 new payments, "
        "0 duplicates, 5 matched, 1 unmatched; "
        f"credit 1{nbsp}240,49{nbsp}€, debit 50,00{nbsp}€")
    operator = actor(db_url, make_staff(db_url, "op@example.fi", None, None, operator=True))
    with session_scope(db_url) as s:
        [row] = import_log(s, operator)
    assert row.message == (
        "5 kohdistettu, 1 oikaisua, 1 kohdistamatta, 0 lähtevää, 0 jo tuotua / "
        "5 matched, 1 corrections, 1 unmatched, 0 outgoing, 0 duplicates")
