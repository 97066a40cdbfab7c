"""`membook settle`: the weekly settlement from the shell (run by the operator).

`--dry-run` prints what the next run would pay each organisation, `--create` writes the
draft run, `--approve ID --out FILE.xml` approves a draft and writes its pain.001 payout
file (the same file again for an approved run). The command line acts as the system (no
signed-in user), like the other operator commands; the audit trail records "system".
Texts are Finnish first with English, like the rest of Membook; `--approve` warns while
ESCROW_IBAN is still the installation's example account.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from membook_app.db import session_scope
from membook_app.formatting import fi_datetime, money, number
from membook_app.settlements.runs import (
    ESCROW_EXAMPLE_WARNING,
    OrgShare,
    SettlementTotals,
    approve_run,
    create_run,
    escrow_iban_is_example,
    preview_settlement,
    run_shares,
    totals_of,
)

_HEADER = (f"{'Yhdistys / organisation':<34} {'maksuja':>8} {'brutto':>14} {'oikaisut':>13} "
           f"{'palkkiot':>11} {'siirtynyt':>12} {'netto':>14} {'maksetaan':>14}\n"
           f"{'':<34} {'payments':>8} {'gross':>14} {'reversals':>13} "
           f"{'fees':>11} {'carried in':>12} {'net':>14} {'payout':>14}")


def _row(name: str, payments: int, gross: int, reversals: int, fees: int, carried: int,
         net: int, payout: int) -> str:
    return (f"{name[:34]:<34} {number(payments):>8} {money(gross):>14} {money(reversals):>13} "
            f"{money(fees):>11} {money(carried):>12} {money(net):>14} {money(payout):>14}")


def print_shares(shares: list[OrgShare], totals: SettlementTotals) -> None:
    click.echo(_HEADER)
    for s in shares:
        line = _row(s.organization_name, s.payment_count, s.gross_cents, s.reversal_cents,
                    s.fee_cents, s.carried_in_cents, s.net_cents, s.payout_cents)
        click.echo(line + ("" if s.payout_cents or s.net_cents > 0 else "  (siirtyy / carried)"))
    click.echo(_row("Yhteensä / total", totals.payment_count, totals.gross_cents,
                    totals.reversal_cents, totals.fee_cents, totals.carried_in_cents,
                    totals.net_cents, totals.payout_cents))
    click.echo(f"Tilisiirtoja / transfers: {number(totals.payout_count)}")


@click.command("settle")
@click.option("--dry-run", is_flag=True,
              help="Tulosta, mitä seuraava tilitys maksaisi / Print what the next settlement "
                   "would pay.")
@click.option("--create", is_flag=True,
              help="Luo tilitysajon luonnos (katkaisu nyt) / Create the draft settlement run "
                   "(cut-off now).")
@click.option("--approve", "approve_id", type=int, default=None, metavar="ID",
              help="Hyväksy luonnos ID ja kirjoita maksutiedosto / Approve draft run ID and "
                   "write its payout file.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Minne --approve kirjoittaa pain.001-tiedoston / Where --approve writes "
                   "the pain.001 file.")
@click.option("--version", "version", type=click.Choice(["03", "09"]), default=None,
              help="pain.001.001.03 tai .09 (oletus SETTLEMENT_PAIN001_VERSION) / or .09 "
                   "(default: SETTLEMENT_PAIN001_VERSION).")
@click.option("--execution-date", default=None, metavar="YYYY-MM-DD",
              help="Pyydetty maksupäivä (oletus tänään, siirtyy pankkipäivään) / Requested "
                   "execution date (default today; rolled to a banking day).")
def settle(dry_run: bool, create: bool, approve_id: int | None, out: Path | None,
           version: str | None, execution_date: str | None) -> None:
    """Viikkotilitys / weekly settlement: --dry-run, --create tai/or --approve ID --out FILE.xml."""
    if sum((dry_run, create, approve_id is not None)) != 1:
        raise click.UsageError("anna tasan yksi: --dry-run, --create tai --approve ID / "
                               "give exactly one of --dry-run, --create, --approve ID")
    if approve_id is not None and out is None:
        raise click.UsageError("--approve tarvitsee --out TIEDOSTO.xml / "
                               "--approve needs --out FILE.xml")
    if approve_id is None and (out or version or execution_date):
        raise click.UsageError("--out, --version ja --execution-date käyvät vain --approven "
                               "kanssa / --out, --version and --execution-date go with "
                               "--approve")
    day = None
    if execution_date is not None:
        try:
            day = date.fromisoformat(execution_date)
        except ValueError:
            raise click.BadParameter(f"muodossa VVVV-KK-PP, ei {execution_date!r} / "
                                     f"use YYYY-MM-DD, not {execution_date!r}",
                                     param_hint="--execution-date") from None
    if dry_run:
        with session_scope() as session:
            preview = preview_settlement(session, None)
        since = fi_datetime(preview.previous_cut_off) if preview.previous_cut_off else "—"
        click.echo(f"Tilitys / settlement: {since} – {fi_datetime(preview.cut_off)} "
                   "(esikatselu, mitään ei tallennettu / preview, nothing written)")
        print_shares(preview.shares, preview.totals)
        return
    if create:
        with session_scope() as session:
            run = create_run(session, None)
            shares = run_shares(session, run.id)  # type: ignore[arg-type]
        click.echo(f"Tilitysajo / settlement run {run.id} luotu / created (luonnos / draft), "
                   f"katkaisu / cut-off {fi_datetime(run.cut_off)}")
        print_shares(shares, totals_of(shares))
        return
    assert approve_id is not None and out is not None
    if escrow_iban_is_example():
        click.echo("VAROITUS / WARNING: " + " / ".join(ESCROW_EXAMPLE_WARNING), err=True)
    with session_scope() as session:
        xml = approve_run(session, None, approve_id, execution_date=day, version=version)
        shares = run_shares(session, approve_id)
    totals = totals_of(shares)
    if not xml:
        click.echo(f"Tilitysajo / run {approve_id} hyväksytty / approved: ei maksettavaa, "
                   "tiedostoa ei kirjoitettu / nothing to pay, no file written")
        return
    out.write_bytes(xml)
    click.echo(f"Tilitysajo / run {approve_id} hyväksytty / approved: "
               f"{number(totals.payout_count)} tilisiirtoa / transfers, "
               f"{money(totals.payout_cents)} → {out}")


COMMANDS = [settle]
