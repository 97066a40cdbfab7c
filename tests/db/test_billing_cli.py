"""`membook invoice-run` and `membook fees` through click, on both databases."""

from __future__ import annotations

from click.testing import CliRunner
from sqlmodel import func, select

from membook_app.cli import cli
from membook_app.db import session_scope
from models import Fee, Invoice
from tests.db.test_billing_fees import billing_world


def test_invoice_run_dry_run_then_commit_then_again(db_url: str) -> None:
    billing_world(db_url)
    runner = CliRunner()
    args = ["invoice-run", "--org", "Piiri ry", "--period", "2027", "--due", "2027-01-31",
            "--issue", "2027-01-02", "--include-sub"]
    dry = runner.invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "invoices: 5" in dry.output and "Paid by the household payer: 2" in dry.output
    assert "No email: deliver on paper: 1" in dry.output
    with session_scope(db_url) as s:
        assert s.exec(select(func.count()).select_from(Invoice)).one() == 0
    done = runner.invoke(cli, args)
    assert done.exit_code == 0 and "5 laskua" in done.output, done.output
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "no new invoices" in again.output
    with session_scope(db_url) as s:
        assert s.exec(select(func.count()).select_from(Invoice)).one() == 5
    bad = runner.invoke(cli, [*args[:-3], "--due", "31.1.2027"])
    assert bad.exit_code != 0


def test_fees_show_and_set(db_url: str) -> None:
    billing_world(db_url)
    runner = CliRunner()
    shown = runner.invoke(cli, ["fees", "show", "--org", "Seura A ry", "--period", "2027"])
    assert shown.exit_code == 0, shown.output
    assert "Seura A ry – Varsinainen jäsen: 48,00\xa0€" in shown.output
    changed = runner.invoke(cli, ["fees", "set", "--org", "Liitto ry", "--period", "2027",
                                  "--category", "varsinainen", "--amount", "9,50"])
    assert changed.exit_code == 0, changed.output
    with session_scope(db_url) as s:
        fee = s.exec(select(Fee).where(Fee.category == "varsinainen", Fee.amount_cents == 950)
                     ).one()
        assert fee.period == "2027"
    shown = runner.invoke(cli, ["fees", "show", "--org", "Seura A ry", "--period", "2027"])
    assert "Varsinainen jäsen: 49,50" in shown.output
