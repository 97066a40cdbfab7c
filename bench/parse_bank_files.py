"""Benchmark of the bank file parsers: 100,000 payments as KTL and as camt.054.

The issue's reference figures on the benchmark machine: about 0.3 s for 100,000 KTL
records and 3.7 s for 100,000 camt.054 entries (lxml iterparse). The bank import
benchmark (bench/bank_import.py) needs parse + import + match under 5 s (KTL) and 8 s
(camt.054), so the parse is timed on its own here.

Both files are generated in memory and look like what a Finnish bank delivers for a
membership fee run: national references (about two thirds) and RF references, a few
mistyped references, payments with only an unstructured message, payer names with ä/ö
(Latin-1 in KTL, UTF-8 in XML), one correction in fifty (KTL correction code 1, camt
DBIT + RvslInd) and, in camt, a batched entry (several TxDtls) every 200 entries.

    .venv/bin/python bench/parse_bank_files.py [--payments 100000] [--repeat 3]

Each case runs ``parse_bank_file`` ``--repeat`` times and keeps the best CPU time
(``time.process_time``) and the best wall time; CPU time is the figure to compare on a
shared machine, and the 1-minute load average before and after each case says how shared.
stdout is a table and, as its LAST line, one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from membook_app.banking.references import make_national, make_rf  # noqa: E402
from membook_app.banking.statement import ParsedFile, format_amount, parse_bank_file  # noqa: E402

REFERENCE_S = {"ktl": 0.3, "camt.054": 3.7}
FIRST = ("Matti", "Liisa", "Jürgen", "Päivi", "Sörén", "Anna-Maija", "Ville", "Hämäläinen")
LAST = ("Virtanen", "Mäkinen", "Korhonen", "Nieminen", "Hölttä", "Laakso-Ahonen", "Öhman")
NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"


def _payer(rng: random.Random) -> str:
    return f"{rng.choice(LAST)} {rng.choice(FIRST)}"


def _reference(rng: random.Random, i: int) -> str:
    national = make_national(str(20260000 + i))
    roll = rng.random()
    if roll < 0.01:  # mistyped check digit: a valid record for the manual queue
        return national[:-1] + str((int(national[-1]) + 1) % 10)
    return make_rf(national) if roll < 0.35 else national


def make_ktl(count: int, seed: int = 1) -> bytes:
    """One batch of ``count`` payment records, every 50th a correction (ISO-8859-1, CRLF)."""
    rng = random.Random(seed)
    lines = ["0261127061512123456789" + "1" + " " * 67]
    credit = corrections = n_corr = 0
    for i in range(count):
        cents = rng.randrange(500, 20_000)
        correction = i % 50 == 49
        if correction:
            corrections += cents
            n_corr += 1
        else:
            credit += cents
        ref = make_national(str(20260000 + i))
        if rng.random() < 0.01:
            ref = ref[:-1] + str((int(ref[-1]) + 1) % 10)
        name = _payer(rng).upper()[:12]
        lines.append(
            f"312345600000785261126261125{2611265934970000 + i:016d}{ref:0>20}{name:<12}"
            f"1{rng.choice('AKJ')}{cents:010d}{int(correction)}{rng.choice('AKJ')} "
        )
    lines.append(f"9{count - n_corr:06d}{credit:011d}{n_corr:06d}{corrections:011d}{0:017d}{'':38}")
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


def _tx(rng: random.Random, i: int, amount: str, archive: str | None) -> str:
    refs = f"<Refs><AcctSvcrRef>{archive}</AcctSvcrRef>" if archive else "<Refs>"
    if rng.random() < 0.03:
        remittance = f"<Ustrd>Jäsenmaksu 2026 / {_payer(rng)}</Ustrd>"
    else:
        remittance = (
            "<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
            f"<Ref>{_reference(rng, i)}</Ref></CdtrRefInf></Strd>"
        )
    return (
        f"<TxDtls>{refs}<EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
        f'<AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt></AmtDtls>'
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
        "</Domn><Prtry><Cd>705</Cd><Issr>FFFS</Issr></Prtry></BkTxCd>"
        f"<RltdPties><Dbtr><Nm>{_payer(rng)}</Nm></Dbtr><DbtrAcct><Id>"
        f"<IBAN>FI49500094200{i % 100000:05d}</IBAN></Id></DbtrAcct></RltdPties>"
        f"<RmtInf>{remittance}</RmtInf></TxDtls>"
    )


def make_camt054(count: int, seed: int = 1) -> bytes:
    """camt.054.001.02 with ``count`` payments (one Ntry each, except batched entries)."""
    rng = random.Random(seed)
    entries: list[str] = []
    credit = debit = n_entries = n_credit = 0
    i = 0
    while i < count:
        n_entries += 1
        entry_id = f"2026112659{n_entries:010d}"
        size = min(3, count - i) if n_entries % 200 == 0 else 1
        amounts = [rng.randrange(500, 20_000) for _ in range(size)]
        total = sum(amounts)
        reversal = size == 1 and i % 50 == 49
        cd = "DBIT" if reversal else "CRDT"
        if reversal:
            debit += total
        else:
            credit += total
            n_credit += 1
        txs = "".join(
            _tx(rng, i + k, format_amount(cents), f"{entry_id}{k + 1}" if size == 1 else None)
            for k, cents in enumerate(amounts)
        )
        batch = (
            f'<Btch><NbOfTxs>{size}</NbOfTxs><TtlAmt Ccy="EUR">{format_amount(total)}'
            "</TtlAmt></Btch>"
            if size > 1
            else ""
        )
        entries.append(
            f'<Ntry><NtryRef>{n_entries}</NtryRef><Amt Ccy="EUR">{format_amount(total)}</Amt>'
            f"<CdtDbtInd>{cd}</CdtDbtInd>{'<RvslInd>true</RvslInd>' if reversal else ''}"
            "<Sts>BOOK</Sts><BookgDt><Dt>2026-11-26</Dt></BookgDt>"
            f"<ValDt><Dt>2026-11-2{5 + (i % 2)}</Dt></ValDt><AcctSvcrRef>{entry_id}</AcctSvcrRef>"
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
            "</Domn><Prtry><Cd>705</Cd><Issr>FFFS</Issr></Prtry></BkTxCd>"
            f"<NtryDtls>{batch}{txs}</NtryDtls></Ntry>\n"
        )
        i += size
    summary = (
        f"<TxsSummry><TtlNtries><NbOfNtries>{n_entries}</NbOfNtries>"
        f"<Sum>{format_amount(credit + debit)}</Sum>"
        f"<TtlNetNtryAmt>{format_amount(credit - debit)}</TtlNetNtryAmt>"
        "<CdtDbtInd>CRDT</CdtDbtInd></TtlNtries>"
        f"<TtlCdtNtries><NbOfNtries>{n_credit}</NbOfNtries><Sum>{format_amount(credit)}</Sum>"
        f"</TtlCdtNtries><TtlDbtNtries><NbOfNtries>{n_entries - n_credit}</NbOfNtries>"
        f"<Sum>{format_amount(debit)}</Sum></TtlDbtNtries></TxsSummry>"
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{NS}">'
        "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>BENCH-1</MsgId>"
        "<CreDtTm>2026-11-27T06:15:00+02:00</CreDtTm></GrpHdr>"
        "<Ntfctn><Id>N1</Id><CreDtTm>2026-11-27T06:15:00+02:00</CreDtTm>"
        "<Acct><Id><IBAN>FI2112345600000785</IBAN></Id><Ccy>EUR</Ccy></Acct>\n"
        f"{summary}\n{''.join(entries)}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>\n"
    ).encode()


def measure(parse: Callable[[], ParsedFile], repeat: int) -> tuple[float, float, ParsedFile]:
    """Best CPU and best wall seconds of ``repeat`` runs (GC collected before each)."""
    best_cpu = best_wall = float("inf")
    parsed = None
    for _ in range(repeat):
        parsed = None
        gc.collect()
        cpu, wall = time.process_time(), time.perf_counter()
        parsed = parse()
        best_cpu = min(best_cpu, time.process_time() - cpu)
        best_wall = min(best_wall, time.perf_counter() - wall)
    assert parsed is not None
    return best_cpu, best_wall, parsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = {
        "ktl": ("payments.ktl", make_ktl(args.payments)),
        "camt.054": ("payments.xml", make_camt054(args.payments)),
    }
    results = {}
    for fmt, (name, data) in files.items():
        print(f"parsing {fmt} ({len(data) / 1e6:.1f} MB) ...", file=sys.stderr)
        load_before = os.getloadavg()[0]
        cpu, wall, parsed = measure(
            lambda data=data, name=name: parse_bank_file(data, name), args.repeat
        )
        assert parsed.format == fmt and parsed.totals.count == args.payments, parsed.totals
        results[fmt] = {
            "payments": parsed.totals.count,
            "bytes": len(data),
            "cpu_s": round(cpu, 3),
            "wall_s": round(wall, 3),
            "us_per_payment_cpu": round(cpu / args.payments * 1e6, 2),
            "reference_s": REFERENCE_S[fmt],
            "net_cents": parsed.totals.net_cents,
            "load": f"{load_before:.2f} -> {os.getloadavg()[0]:.2f}",
        }
    header = ("format", "payments", "MB", "CPU s", "wall s", "µs/pay", "ref s", "load")
    print("{:<10} {:>9} {:>6} {:>7} {:>7} {:>7} {:>6}  {}".format(*header))
    for fmt, row in results.items():
        print(
            f"{fmt:<10} {row['payments']:>9} {row['bytes'] / 1e6:>6.1f} {row['cpu_s']:>7.3f} "
            f"{row['wall_s']:>7.3f} {row['us_per_payment_cpu']:>7.2f} {row['reference_s']:>6.1f}"
            f"  {row['load']}"
        )
    print(json.dumps({"payments": args.payments, "repeat": args.repeat, "results": results}))


if __name__ == "__main__":
    main()
