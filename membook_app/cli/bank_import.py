"""``membook bank import FILE`` (and ``membook bank inbox``): import bank files by hand.

`register(bank_group)` attaches the commands to the ``bank`` group that
`membook_app/cli/bank.py` defines. A refused file prints one line on stderr and exits 2,
like ``membook bank parse``; nothing of it is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from membook_app.banking.statement import BankFileError
from membook_app.payments.bank_import import run_import


class _RefusedFile(click.ClickException):
    """A bank file refused whole: exit status 2, as `membook bank parse` does."""

    exit_code = 2


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
def import_cmd(file: Path, as_json: bool) -> None:
    """Import a KTL / camt.053 / camt.054 file and match its payments to invoices."""
    try:
        result = run_import(None, file.read_bytes(), file.name, source="cli")
    except BankFileError as exc:
        raise _RefusedFile(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.as_dict(), ensure_ascii=False))
    else:
        click.echo(result.summary())


@click.command("inbox")
def inbox_cmd() -> None:
    """Import every file waiting in the inbox (BANK_INBOX_DIR) now, as the daily task does."""
    from membook_app.payments.inbox import process_inbox

    for result in process_inbox():
        click.echo(f"{result.filename}: {result.outcome} — {result.message}")


# `membook bank import` and `membook bank inbox`, beside `membook bank parse`.
SUBCOMMANDS = {"bank": [import_cmd, inbox_cmd]}


def register(bank_group: click.Group) -> None:
    """Add `import` and `inbox` to a `bank` group (tests build their own group)."""
    for command in SUBCOMMANDS["bank"]:
        bank_group.add_command(command)
