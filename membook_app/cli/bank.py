"""``membook bank parse``: check a bank payment file before importing it.

Treasurers download KTL or camt files from their bank and want to know what is in them
(and whether the bank's file is sound) without touching the register. A refused file
prints one line on stderr and exits with status 2; nothing is printed on stdout. The table
is for people (Finnish dates and money); `--json` is for programs (ISO dates, cents).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from membook_app.banking.statement import (
    BankFileError,
    BankPayment,
    ParsedFile,
    parse_bank_file,
    to_json_dict,
)
from membook_app.formatting import fi_date, money, number

_COLUMNS = (  # Finnish title, English title, width
    ("Kirjauspv", "Booked", 10),
    ("Arkistointitunnus", "Archive id", 22),
    ("Viite", "Reference", 34),
    ("Maksaja / saaja", "Payer / payee", 24),
)
_AMOUNT_WIDTH = 14


@click.group("bank")
def bank() -> None:
    """Pankkiaineistot / bank payment files (KTL, camt.054, camt.053)."""


@bank.command("parse")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
def parse(file: Path, as_json: bool) -> None:
    """Read FILE, verify it and list its payments; nothing is imported."""
    try:
        parsed = parse_bank_file(file.read_bytes(), file.name)
    except BankFileError as exc:
        click.echo(f"Virhe / Error: {exc}", err=True)
        click.get_current_context().exit(2)
    if as_json:
        click.echo(json.dumps(to_json_dict(parsed), ensure_ascii=False))
    else:
        click.echo("\n".join(summary_lines(parsed, file.name)))


def _party(payment: BankPayment) -> str:
    return payment.payer_name or payment.creditor_name or ""


def _reference(payment: BankPayment) -> str:
    """Reference as given, plus the national one it matches on, ``!`` when invalid."""
    text = payment.reference or ""
    if payment.national_reference and payment.national_reference != text:
        text += f" ({payment.national_reference})"
    return text + (" !" if payment.reference_valid is False else "")


def _row(cells: list[str], amount: str) -> str:
    padded = [cell[:w].ljust(w) for cell, (_, _, w) in zip(cells, _COLUMNS, strict=True)]
    return "  ".join(padded) + "  " + amount.rjust(_AMOUNT_WIDTH)


def summary_lines(parsed: ParsedFile, filename: str) -> list[str]:
    """Bilingual table of the payments and the totals a treasurer compares with the bank."""
    totals = parsed.totals
    lines = [
        f"Tiedosto / File:        {filename}",
        f"Muoto / Format:         {parsed.version or parsed.format.upper()}",
        f"Tili / Account:         {parsed.account_iban or '-'}",
        "",
        _row([fi for fi, _, _ in _COLUMNS], "Summa"),
        _row([en for _, en, _ in _COLUMNS], "Amount"),
    ]
    for p in parsed.payments:
        cells = [fi_date(p.booking_date), p.archive_id or "", _reference(p), _party(p)]
        lines.append(_row(cells, money(p.amount_cents)))
    lines += [
        "",
        f"Maksuja / Payments:     {number(totals.count)}",
        f"Hyvitykset / Credits:   {money(totals.credit_cents)}",
        f"Veloitukset / Debits:   {money(totals.debit_cents)}",
        f"Netto / Net:            {money(totals.net_cents)}",
    ]
    for balance in parsed.balances:
        opening = f"{money(balance.opening_cents)} ({fi_date(balance.opening_date)})"
        closing = f"{money(balance.closing_cents)} ({fi_date(balance.closing_date)})"
        lines += [f"Alkusaldo / Opening:    {opening}", f"Loppusaldo / Closing:   {closing}"]
    if any(p.reference_valid is False for p in parsed.payments):
        lines.append(
            "! = virheellinen viite, käsitellään käsin / invalid reference, manual handling"
        )
    return lines


COMMANDS = [bank]
