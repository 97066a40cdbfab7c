"""``membook ref …`` and ``membook barcode``: reference and bank-barcode tools for treasurers.

Bad input prints one line on stderr and exits with status 1, so the commands are safe to
use in shell scripts (no tracebacks, nothing half-printed on stdout).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from typing import NoReturn

import click

from membook_app.banking.barcode import check_amount, make_barcode
from membook_app.banking.references import (
    make_national,
    national_to_rf,
    validate_reference,
)

_EUROS = re.compile(r"[0-9]{1,12}(?:[.,][0-9]{1,2})?")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    click.get_current_context().exit(1)


def parse_euros(text: str) -> int:
    """Parse ``12.50`` / ``12,50`` / ``12`` into integer cents, exactly (no floats).

    Finnish users type a decimal comma, so both separators are accepted; more than two
    decimals is an error rather than silently rounded.
    """
    cleaned = text.strip()
    if not _EUROS.fullmatch(cleaned):
        raise ValueError(f"invalid amount {text!r}: use e.g. 12.50 or 12,50 (max 2 decimals)")
    return int(Decimal(cleaned.replace(",", ".")) * 100)


def _echo_all(values: Iterable[str], convert: Callable[[str], str]) -> None:
    """Convert every value first, so an error leaves stdout empty instead of half-printed."""
    try:
        results = [convert(value) for value in values]
    except ValueError as exc:
        _fail(str(exc))
    for result in results:
        click.echo(result)


@click.group("ref")
def ref() -> None:
    """Finnish creditor references (viitenumero) and RF references."""


@ref.command("national")
@click.argument("bases", metavar="BASE...", nargs=-1, required=True)
def national(bases: tuple[str, ...]) -> None:
    """Append the check digit to each BASE (e.g. an invoice number)."""
    _echo_all(bases, make_national)


@ref.command("rf")
@click.argument("refs", metavar="REF...", nargs=-1, required=True)
def rf(refs: tuple[str, ...]) -> None:
    """Print the RF (ISO 11649) form of each national reference."""
    _echo_all(refs, national_to_rf)


@ref.command("check")
@click.argument("reference", metavar="REF")
def check(reference: str) -> None:
    """Exit 0 if REF is a valid national or RF reference, 1 (with the reason) if not."""
    try:
        result = validate_reference(reference)
    except ValueError as exc:
        _fail(str(exc))
    suffix = f" (national {result.national})" if result.kind == "rf" and result.national else ""
    click.echo(f"ok {result.kind} {result.compact}{suffix}")


@click.command("barcode")
@click.option("--iban", required=True, help="Finnish IBAN of the payee.")
@click.option("--amount", required=True, help="Amount in euros, e.g. 12.50 or 12,50.")
@click.option("--ref", "reference", required=True, help="National or RF reference.")
@click.option("--due", help="Due date YYYY-MM-DD (omit for none).")
def barcode(iban: str, amount: str, reference: str, due: str | None) -> None:
    """Print the 54-digit virtual bank barcode (version 4 national, 5 RF)."""
    try:
        cents = parse_euros(amount)
        check_amount(cents)
        due_date = _parse_due(due)
        click.echo(make_barcode(iban, cents, reference, due_date))
    except ValueError as exc:
        _fail(str(exc))


def _parse_due(text: str | None) -> date | None:
    if text is None:
        return None
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        raise ValueError(f"invalid due date {text!r}: use YYYY-MM-DD")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"invalid due date {text!r}: {exc}") from exc


COMMANDS = [ref, barcode]
