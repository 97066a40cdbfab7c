"""`membook settle` through the real console script, and the weekly task, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from membook_app.banking.pain001 import validate_pain001
from membook_app.db import session_scope
from membook_app.settings import get_settings
from models import SettlementRun
from tasks.settlements import create_weekly_run
from tests.db.settlement_support import make_org_tree, pay, standard_invoice
from tests.db.test_cli import membook


def test_settle_dry_run_create_approve(db_url: str, tmp_path: Path) -> None:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    dry = membook(db_url, "settle", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "Seura ry" in dry.stdout and "29,55\xa0€" in dry.stdout  # 30,00 − 0,45
    assert "Yhteensä / total" in dry.stdout and "53,95\xa0€" in dry.stdout  # 55,00 − 1,05
    assert "oikaisut" in dry.stdout and "reversals" in dry.stdout
    assert "palautukset" not in dry.stdout
    with session_scope(db_url) as s:
        assert s.exec(select(SettlementRun)).all() == []

    created = membook(db_url, "settle", "--create", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    with session_scope(db_url) as s:
        run_id = s.exec(select(SettlementRun.id)).one()
    again = membook(db_url, "settle", "--create", cwd=tmp_path)
    assert again.returncode == 1 and "draft" in again.stderr

    out = tmp_path / "payout.xml"
    approved = membook(db_url, "settle", "--approve", str(run_id), "--out", str(out),
                       "--version", "09", cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "3 tilisiirtoa" in approved.stdout
    # This installation still has the built-in example escrow account.
    assert "VAROITUS / WARNING" in approved.stderr and "ESCROW_IBAN" in approved.stderr
    validate_pain001(out.read_bytes(), "pain.001.001.09")

    usage = membook(db_url, "settle", "--approve", str(run_id), cwd=tmp_path)
    assert usage.returncode == 2
    assert "--approve tarvitsee --out TIEDOSTO.xml / --approve needs --out" in usage.stderr
    missing = membook(db_url, "settle", "--approve", "999", "--out", str(out), cwd=tmp_path)
    assert missing.returncode == 1 and "999" in missing.stderr


def test_no_escrow_warning_with_a_real_account(db_url: str, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from membook_app.settlements.runs import escrow_iban_is_example
    assert escrow_iban_is_example()
    monkeypatch.setenv("ESCROW_IBAN", "FI49 5000 9420 0287 30")
    get_settings.cache_clear()
    try:
        assert not escrow_iban_is_example()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    assert membook(db_url, "settle", "--create", cwd=tmp_path).returncode == 0
    with session_scope(db_url) as s:
        run_id = s.exec(select(SettlementRun.id)).one()
    monkeypatch.setenv("ESCROW_IBAN", "FI4950009420028730")
    approved = membook(db_url, "settle", "--approve", str(run_id), "--out",
                       str(tmp_path / "p.xml"), cwd=tmp_path)
    assert approved.returncode == 0, approved.stderr
    assert "WARNING" not in approved.stderr and "FI4950009420028730" in (
        tmp_path / "p.xml").read_text()


def test_weekly_task_catches_up_once_and_respects_a_discard(db_url: str) -> None:
    from membook_app.settlements.runs import discard_run
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    monday = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 07.00 in Helsinki
    # The payment came after Monday 23.11. 07.00, so that run has nothing to settle.
    assert create_weekly_run(monday)["reason"] == "nothing to settle"
    with session_scope(db_url) as s:
        assert s.exec(select(SettlementRun)).all() == []
    # The worker was down since: the first check now (after Monday's 07.00) catches up.
    late = datetime.now(UTC)
    first = create_weekly_run(late)
    assert first["organizations"] == 3
    assert create_weekly_run(late)["reason"] == "draft waiting"
    with session_scope(db_url) as s:
        assert len(s.exec(select(SettlementRun)).all()) == 1
        discard_run(s, None, first["run_id"])
    # The operator discarded this week's draft: the next checks leave it to them.
    assert create_weekly_run(datetime.now(UTC))["reason"] == "discarded this week"
    with session_scope(db_url) as s:
        assert s.exec(select(SettlementRun)).all() == []


def test_worker_task_creates_the_run_as_the_operator(db_url: str) -> None:
    from membook_app.accounts.users import get_or_create_user
    from models import AuditEvent, utcnow
    from tasks.settlements import create_run_for
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    with session_scope(db_url) as s:
        user_id = get_or_create_user(s, None, "op@example.fi", is_operator=True).id
    result = create_run_for(user_id, utcnow().isoformat())
    assert result["organizations"] == 3
    with session_scope(db_url) as s:
        event = s.exec(select(AuditEvent).where(
            AuditEvent.action == "settlement_run.created")).one()
        assert event.actor_label == "op@example.fi"
