"""Reference-payment files as the bank sends them, for the demo data and the benchmarks.

The demo shows a treasurer what a few weeks of real use look like: payments arrive as a
KTL file and go through the very import and matching that a real bank file does, so the
demo cannot show anything the product would not produce itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from xml.sax.saxutils import escape


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


def _euros(cents: int) -> str:
    return f"{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _balance(code: str, cents: int, day: date) -> str:
    return (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
            f'<Amt Ccy="EUR">{_euros(cents)}</Amt>'
            f"<CdtDbtInd>{'DBIT' if cents < 0 else 'CRDT'}</CdtDbtInd>"
            f"<Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>")


def _entry(line: BankLine) -> str:
    amount = _euros(line.cents)
    day = line.booked.isoformat()
    return (f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
            f"<AcctSvcrRef>{line.archive_id}</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly>"
            "<Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>"
            f"<NtryDtls><TxDtls><Refs><AcctSvcrRef>{line.archive_id}</AcctSvcrRef></Refs>"
            f'<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
            f"<RltdPties><Dbtr><Nm>{escape(line.payer)}</Nm></Dbtr></RltdPties><RmtInf><Strd>"
            "<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
            f"<Ref>{line.reference}</Ref></CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls>"
            "</Ntry>")


def camt053_statement(lines: Sequence[BankLine], *, iban: str, opening_cents: int,
                      day: date, created: datetime) -> bytes:
    """A camt.053.001.02 daily statement of the escrow account with these credits.

    The bank sends it beside the reference-payment file: the same payments (same archive
    ids, so the import books none of them twice) and the booked balances that escrow
    reconciliation compares the books with.
    """
    closing = opening_cents + sum(line.cents for line in lines)
    stamp = created.strftime("%Y-%m-%dT%H:%M:%S")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
        f"<BkToCstmrStmt><GrpHdr><MsgId>STMT-{day:%Y%m%d}</MsgId><CreDtTm>{stamp}</CreDtTm>"
        f"</GrpHdr><Stmt><Id>STMT-{day:%Y%m%d}</Id><CreDtTm>{stamp}</CreDtTm>"
        f"<Acct><Id><IBAN>{iban}</IBAN></Id></Acct>"
        + _balance("OPBD", opening_cents, day) + _balance("CLBD", closing, day)
        + "".join(_entry(line) for line in lines)
        + "</Stmt></BkToCstmrStmt></Document>"
    ).encode()
