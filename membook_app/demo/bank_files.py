"""Reference-payment files as the bank sends them, for the demo data and the benchmarks.

The demo shows a treasurer what a few weeks of real use look like: payments arrive as a
KTL file and go through the very import and matching that a real bank file does, so the
demo cannot show anything the product would not produce itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class BankLine:
    """One incoming reference payment on a bank file."""

    archive_id: str  # the bank's archive id, 16 characters
    reference: str  # national or RF reference, as the payer typed it
    cents: int
    payer: str
    booked: date


def _yymmdd(day: date) -> str:
    return day.strftime("%y%m%d")


def ktl_file(lines: Sequence[BankLine], *, account: str, created: datetime) -> bytes:
    """A KTL reference-payment file (90-character Latin-1 records) of credit payments.

    `account` is the domestic account number of the escrow account (14 digits, the IBAN
    without country code and check digits). An RF reference is written as its national
    body, because a KTL record only holds digits — which is what banks do too.
    """
    if len(account) != 14 or not account.isdigit():
        raise ValueError(f"KTL account number must be 14 digits, got {account!r}")
    records = ["0" + _yymmdd(created.date()) + created.strftime("%H%M") + "12" + "123456789"
               + "1" + " " * 67]
    for line in lines:
        ref = line.reference if line.reference.isdigit() else line.reference[4:]
        records.append("3" + account + _yymmdd(line.booked) + _yymmdd(line.booked)
                       + line.archive_id[:16].ljust(16) + ref.rjust(20, "0")
                       + line.payer[:12].ljust(12) + "1" + "A" + f"{line.cents:010d}"
                       + "0" + "A" + " ")
    total = sum(line.cents for line in lines)
    records.append("9" + f"{len(lines):06d}" + f"{total:011d}" + "0" * 6 + "0" * 11
                   + "0" * 6 + "0" * 11 + " " * 38)
    if any(len(record) != 90 for record in records):
        raise ValueError("a KTL record must be 90 characters")
    return ("\r\n".join(records) + "\r\n").encode("latin-1")
