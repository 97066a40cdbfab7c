"""`membook invoice-run` and `membook fees` through click, on both databases."""

from __future__ import annotations

from click.testing import CliRunner
from sqlmodel import func, select

from membook_app.cli import cli
from membook_app.db import session_scope
from models import Fee, Invoice
from tests.db.test_billing_fees import billing_world
from tests.factories import make_member


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


def test_preview_lists_skipped_members_with_reasons_and_finnish_dates(db_url: str) -> None:
    """Each reason's members by name, the first 20, then how many more."""
    world = billing_world(db_url)
    for i in range(22):  # with Nelli, 23 members without a type in club B
        make_member(db_url, world.tree.club_b, None, f"Ilman{i:02d}", "Lajia")
    result = CliRunner().invoke(cli, [
        "invoice-run", "--org", "Piiri ry", "--period", "2027", "--due", "2027-01-31",
        "--issue", "2027-01-02", "--include-sub", "--dry-run"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "päiväys / issued: 2.1.2027  eräpäivä / due: 31.1.2027" in result.output
    household = lines.index("Ohitettu / skipped – Maksaa kotitalouden maksaja / "
                            "Paid by the household payer: 2")
    assert lines[household + 1:household + 3] == ["    Perhe Eetu", "    Perhe Elli"]
    no_type = next(i for i, line in enumerate(lines) if "No membership type: 23" in line)
    names = lines[no_type + 1:no_type + 21]
    assert len(names) == 20 and all(n.startswith("    ") for n in names)
    assert lines[no_type + 21] == "    … ja 3 muuta / … and 3 more"
    paper = next(i for i, line in enumerate(lines) if "deliver on paper: 1" in line)
    assert lines[paper + 1] == "    Paperi Paavo"
