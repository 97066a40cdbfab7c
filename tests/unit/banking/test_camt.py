"""camt.054/.053 files: the shared samples, refusals naming the element, edge cases, size."""

from __future__ import annotations

import json
import random
from dataclasses import fields
from pathlib import Path

import pytest

from membook_app.banking.camt import parse_camt
from membook_app.banking.references import make_national, make_rf
from membook_app.banking.statement import (
    BankFileError,
    BankPayment,
    format_amount,
    parse_bank_file,
)

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "domain" / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text("utf-8"))
CAMT_SAMPLES = [
    "camt054_001_02_reference_payments.xml",
    "camt054_001_08_reference_payments.xml",
    "camt053_001_02_statement.xml",
]
NS02 = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"


def sample(name: str) -> str:
    return (SAMPLES / name).read_text("utf-8")


@pytest.mark.parametrize("name", CAMT_SAMPLES)
def test_sample_matches_expected_json(name: str) -> None:
    expected = EXPECTED[name]
    parsed = parse_bank_file((SAMPLES / name).read_bytes(), name)
    assert parsed.format == expected["format"].split()[0]
    assert parsed.version == expected["version"]
    assert parsed.entry_count == expected["entry_count"]
    assert parsed.account_iban == "FI2112345600000785"
    assert len(parsed.payments) == expected["transaction_count"]
    for payment, exp in zip(parsed.payments, expected["transactions"], strict=True):
        assert format_amount(abs(payment.entry_amount_cents)) == exp["entry_amount"]
        assert format_amount(abs(payment.amount_cents)) == exp["tx_amount"]
        assert (payment.amount_cents < 0) is (exp["credit_debit"] == "DBIT")
        assert payment.currency == exp["currency"]
        assert payment.credit_debit == exp["credit_debit"]
        assert payment.reversal is exp["reversal"]
        assert payment.booking_date.isoformat() == exp["booking_date"]
        assert payment.value_date.isoformat() == exp["value_date"]
        assert payment.archive_id == exp["archive_id"]
        assert payment.entry_archive_id == exp["entry_archive_id"]
        assert payment.reference == exp["reference"]
        assert payment.reference_kind == exp["reference_kind"]
        assert payment.reference_valid is exp["reference_valid"]
        assert payment.national_reference == exp["national_reference"]
        assert payment.payer_name == exp["debtor_name"]
        assert payment.creditor_name == exp["creditor_name"]
        assert payment.message == exp["unstructured"]
        assert payment.end_to_end_id == exp["end_to_end_id"]
        assert payment.batched_entry is exp["batched_entry"]
    entries = {(p.entry_archive_id, p.entry_amount_cents) for p in parsed.payments}
    credits = [cents for _, cents in entries if cents > 0]
    debits = [-cents for _, cents in entries if cents < 0]
    assert (len(credits), format_amount(sum(credits))) == (
        expected["credit_entries"],
        expected["credit_sum"],
    )
    assert (len(debits), format_amount(sum(debits))) == (
        expected["debit_entries"],
        expected["debit_sum"],
    )
    assert format_amount(parsed.totals.credit_cents) == expected["credit_sum"]
    assert format_amount(parsed.totals.debit_cents) == expected["debit_sum"]
    assert format_amount(parsed.totals.net_cents) == expected["net"]
    assert parsed.totals.count == expected["transaction_count"]
    if "opening_balance" in expected:
        [balances] = parsed.balances
        assert format_amount(balances.opening_cents) == expected["opening_balance"]
        assert format_amount(balances.closing_cents) == expected["closing_balance"]
        assert balances.opening_date == balances.closing_date
        assert balances.closing_date.isoformat() == "2026-11-26"


def test_sample_extra_fields() -> None:
    parsed = parse_camt((SAMPLES / CAMT_SAMPLES[0]).read_bytes())
    first = parsed.payments[0]
    assert first.payer_iban == "FI4950009420028730"
    assert (first.bank_tx_code, first.bank_tx_prtry) == ("PMNT/RCDT/ESCT", "705")
    assert first.element == "Ntry[1]/NtryDtls/TxDtls[1]"
    assert first.line == 67
    assert parsed.message_id == "CAMT054-20261127-0001"
    assert parsed.created.isoformat() == "2026-11-27T06:15:00"


def refused(xml: str) -> BankFileError:
    with pytest.raises(BankFileError) as caught:
        parse_camt(xml.encode("utf-8"))
    return caught.value


def test_broken_xml_names_the_line() -> None:
    xml = sample(CAMT_SAMPLES[0]).replace("<Sts>BOOK</Sts>", "<Sts>BOOK</Stz>", 3)
    error = refused(xml)
    assert error.line == 45
    assert str(error).startswith("camt.054 line 45: not well-formed XML: ")
    assert "Stz" in str(error)


def test_garbage_before_root_is_refused() -> None:
    error = refused("<<<not xml")
    assert str(error).startswith("XML line 1: not well-formed XML")


def test_unsupported_namespace_is_refused() -> None:
    xml = sample(CAMT_SAMPLES[0]).replace("camt.054.001.02", "camt.054.001.04")
    assert "unsupported document" in str(refused(xml))


def test_statement_balance_mismatch() -> None:
    xml = sample(CAMT_SAMPLES[2]).replace(
        '<Amt Ccy="EUR">2197.99</Amt>', '<Amt Ccy="EUR">2197.98</Amt>'
    )
    error = refused(xml)
    assert (error.path, error.field, error.line) == ("Stmt[1]/Bal[CLBD]", "Amt", 43)
    assert (
        "closing balance 2197.98 does not match opening 1500.00 + booked entries 697.99 "
        "= 2197.99" in str(error)
    )


@pytest.mark.parametrize(
    ("old", "new", "path", "field", "words"),
    [
        (
            "<NbOfNtries>5</NbOfNtries>",
            "<NbOfNtries>6</NbOfNtries>",
            "Ntfctn[1]/TxsSummry/TtlNtries",
            "NbOfNtries",
            "says 6 entries, the file has 5",
        ),
        (
            "<Sum>1220.49</Sum>",
            "<Sum>1220.48</Sum>",
            "Ntfctn[1]/TxsSummry/TtlNtries",
            "Sum",
            "says 1220.48, the entries add up to 1220.49",
        ),
        (
            "<Sum>1170.49</Sum>",
            "<Sum>1170.50</Sum>",
            "Ntfctn[1]/TxsSummry/TtlCdtNtries",
            "Sum",
            "says 1170.50",
        ),
        (
            "<NbOfNtries>1</NbOfNtries>",
            "<NbOfNtries>2</NbOfNtries>",
            "Ntfctn[1]/TxsSummry/TtlDbtNtries",
            "NbOfNtries",
            "says 2 entries",
        ),
        (
            "<TtlNetNtryAmt>1120.49</TtlNetNtryAmt>",
            "<TtlNetNtryAmt>1120.40</TtlNetNtryAmt>",
            "Ntfctn[1]/TxsSummry/TtlNtries",
            "net amount",
            "says 1120.40",
        ),
    ],
)
def test_txs_summary_mismatch(old: str, new: str, path: str, field: str, words: str) -> None:
    error = refused(sample(CAMT_SAMPLES[0]).replace(old, new, 1))
    assert (error.path, error.field) == (path, field)
    assert str(error).startswith(f"camt.054 line {error.line}, {path}, field {field}: ")
    assert 25 <= error.line <= 39
    assert words in str(error)


def test_txs_summary_net_of_version_08() -> None:
    xml = sample(CAMT_SAMPLES[1]).replace("<Amt>100.00</Amt>", "<Amt>100.01</Amt>")
    error = refused(xml)
    assert (error.path, error.field) == ("Ntfctn[1]/TxsSummry/TtlNtries/TtlNetNtry", "net amount")


def test_batch_count_and_total_mismatch() -> None:
    xml = sample(CAMT_SAMPLES[2])
    error = refused(xml.replace("<NbOfTxs>3</NbOfTxs>", "<NbOfTxs>4</NbOfTxs>"))
    assert (error.path, error.field) == ("Ntry[1]/NtryDtls/Btch", "NbOfTxs")
    assert "says 4 transactions, found 3 TxDtls" in str(error)
    error = refused(xml.replace('<TtlAmt Ccy="EUR">1155.49', '<TtlAmt Ccy="EUR">1155.50'))
    assert (error.path, error.field) == ("Ntry[1]/NtryDtls/Btch", "TtlAmt")


def test_missing_amount_in_batch_names_the_tx() -> None:
    xml = sample(CAMT_SAMPLES[2]).replace(
        '<AmtDtls>\n              <TxAmt>\n                <Amt Ccy="EUR">120.50</Amt>\n'
        "              </TxAmt>\n            </AmtDtls>",
        "",
    )
    error = refused(xml)
    assert error.path == "Ntry[1]/NtryDtls/TxDtls[2]"
    assert error.field == "amount"
    assert str(error).startswith("camt.053 line 129, Ntry[1]/NtryDtls/TxDtls[2], field amount: ")


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        (
            '<Amt Ccy="EUR">120.50</Amt>\n        <CdtDbtInd>',
            '<Amt Ccy="EUR">120,50</Amt>\n        <CdtDbtInd>',
            "Amt",
            "'120,50'",
        ),
        (
            '<Amt Ccy="EUR">120.50</Amt>\n        <CdtDbtInd>',
            '<Amt Ccy="EUR">120.505</Amt>\n        <CdtDbtInd>',
            "Amt",
            "'120.505'",
        ),
        (
            "<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>BOOK</Sts>\n        <BookgDt>\n"
            "          <Dt>2026-11-26</Dt>\n        </BookgDt>\n        <ValDt>\n"
            "          <Dt>2026-11-26</Dt>\n        </ValDt>\n"
            "        <AcctSvcrRef>20261126593497A00002",
            "<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>BOOK</Sts>\n        <BookgDt>\n"
            "          <Dt>2026-11-31</Dt>\n        </BookgDt>\n        <ValDt>\n"
            "          <Dt>2026-11-26</Dt>\n        </ValDt>\n"
            "        <AcctSvcrRef>20261126593497A00002",
            "BookgDt",
            "'2026-11-31'",
        ),
    ],
)
def test_bad_entry_values(old: str, new: str, field: str, words: str) -> None:
    xml = sample(CAMT_SAMPLES[0])
    assert old in xml
    error = refused(xml.replace(old, new, 1))
    assert error.field == field
    assert error.path.startswith("Ntry[2]")
    assert words in str(error)


def entry(body: str, *, amount: str = "10.00", cd: str = "CRDT", status: str = "BOOK") -> str:
    return (
        f'<Ntry><Amt Ccy="EUR">{amount}</Amt><CdtDbtInd>{cd}</CdtDbtInd>'
        f"<Sts>{status}</Sts><BookgDt><Dt>2026-11-26</Dt></BookgDt>"
        f"<AcctSvcrRef>ENTRY1</AcctSvcrRef>{body}</Ntry>"
    )


def camt054(*entries: str, ns: str = NS02, summary: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{ns}">'
        "<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>M1</MsgId>"
        "<CreDtTm>2026-11-27T06:15:00+02:00</CreDtTm></GrpHdr>"
        "<Ntfctn><Id>N1</Id><Acct><Id><IBAN>FI2112345600000785</IBAN></Id></Acct>"
        f"{summary}{''.join(entries)}</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()


def test_non_booked_entries_are_not_imported() -> None:
    parsed = parse_camt(camt054(entry("", status="PDNG"), entry("", amount="5.00")))
    assert parsed.entry_count == 2
    assert [p.amount_cents for p in parsed.payments] == [500]
    assert parsed.payments[0].archive_id == "ENTRY1"
    assert parsed.payments[0].reference_kind == "none"


def test_foreign_currency_uses_tx_amount_never_instructed_amount() -> None:
    tx = (
        '<NtryDtls><TxDtls><AmtDtls><InstdAmt><Amt Ccy="SEK">115.00</Amt></InstdAmt>'
        '<TxAmt><Amt Ccy="EUR">10.00</Amt></TxAmt></AmtDtls></TxDtls></NtryDtls>'
    )
    [payment] = parse_camt(camt054(entry(tx))).payments
    assert (payment.amount_cents, payment.currency) == (1000, "EUR")


def test_batch_without_per_tx_refs_several_strd_and_ustrd() -> None:
    national = make_national("4711")
    tx1 = (
        "<TxDtls><Refs><AcctSvcrRef>TX1</AcctSvcrRef></Refs>"
        '<AmtDtls><TxAmt><Amt Ccy="EUR">4.00</Amt></TxAmt></AmtDtls>'
        "<RmtInf><Ustrd>Jäsenmaksu</Ustrd><Ustrd>2026</Ustrd>"
        "<Strd><CdtrRefInf><Ref>12345</Ref></CdtrRefInf></Strd>"
        f"<Strd><CdtrRefInf><Ref>{make_rf(national)}</Ref></CdtrRefInf></Strd></RmtInf>"
        "<RtrInf><Rsn><Cd>AC04</Cd></Rsn></RtrInf></TxDtls>"
    )
    tx2 = (
        '<TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">6.00</Amt></TxAmt></AmtDtls>'
        "<RltdPties><Dbtr><Pty><Nm>Salo Sari</Nm></Pty></Dbtr>"
        "<DbtrAcct><Id><IBAN>FI4950009420028730</IBAN></Id></DbtrAcct></RltdPties></TxDtls>"
    )
    xml = camt054(entry(f"<NtryDtls>{tx1}{tx2}</NtryDtls>"))
    first, second = parse_camt(xml).payments
    assert (first.archive_id, second.archive_id) == ("TX1", "ENTRY1/2")
    assert (first.entry_archive_id, second.entry_archive_id) == ("ENTRY1", "ENTRY1")
    assert first.references == ("12345", make_rf(national))
    assert (first.reference, first.national_reference) == (make_rf(national), national)
    assert first.message == "Jäsenmaksu 2026"
    assert first.return_reason == "AC04"
    assert (second.payer_name, second.payer_iban) == ("Salo Sari", "FI4950009420028730")
    assert first.batched_entry and second.batched_entry
    assert parse_camt(xml).created.isoformat() == "2026-11-27T06:15:00+02:00"


def test_batch_transactions_without_own_archive_id_get_unique_derived_ids() -> None:
    """The importer de-duplicates on archive id: one shared id would drop all but one."""
    tx = '<TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">{}</Amt></TxAmt></AmtDtls></TxDtls>'
    batch = "<Btch><NbOfTxs>3</NbOfTxs></Btch>"
    body = f"<NtryDtls>{batch}{tx.format('3.00')}{tx.format('3.00')}{tx.format('4.00')}</NtryDtls>"
    xml = camt054(entry(body))
    payments = parse_camt(xml).payments
    assert [p.archive_id for p in payments] == ["ENTRY1/1", "ENTRY1/2", "ENTRY1/3"]
    assert {p.entry_archive_id for p in payments} == {"ENTRY1"}
    assert [p.amount_cents for p in payments] == [300, 300, 400]
    assert [p.archive_id for p in parse_camt(xml).payments] == ["ENTRY1/1", "ENTRY1/2", "ENTRY1/3"]
    # Numbered across the entry's NtryDtls; a single TxDtls keeps the entry's id as is.
    two = f"<NtryDtls>{tx.format('3.00')}</NtryDtls><NtryDtls>{tx.format('7.00')}</NtryDtls>"
    first, second = parse_camt(camt054(entry(two))).payments
    assert (first.archive_id, second.archive_id) == ("ENTRY1/1", "ENTRY1/2")
    assert second.element == "Ntry[1]/NtryDtls[2]/TxDtls[1]"
    [single] = parse_camt(camt054(entry(f"<NtryDtls>{tx.format('10.00')}</NtryDtls>"))).payments
    assert single.archive_id == "ENTRY1"


def test_transaction_values_only_from_their_schema_place_first_wins() -> None:
    """The TxDtls walk reads only the levels it needs; the first of repeated children wins
    and look-alike elements elsewhere in the TxDtls are ignored."""
    tx = (
        "<TxDtls><Refs><AcctSvcrRef>TX1</AcctSvcrRef><AcctSvcrRef>TX2</AcctSvcrRef></Refs>"
        "<Refs><EndToEndId>E2E-2</EndToEndId></Refs>"
        "<AmtDtls><TxAmt><Ccy>EUR</Ccy></TxAmt><TxAmt><Amt>9.00</Amt></TxAmt></AmtDtls>"
        "<RltdPties><Ultmt><AcctSvcrRef>X</AcctSvcrRef></Ultmt><Dbtr><Nm>Aho Anna</Nm></Dbtr>"
        "<Dbtr><Nm>Berg Bo</Nm></Dbtr></RltdPties>"
        "<RmtInf><Ref>99</Ref><Strd><Ustrd>nested</Ustrd><CdtrRefInf><Ref>12345</Ref>"
        "<Ref>RF</Ref></CdtrRefInf></Strd><Ustrd>first</Ustrd></RmtInf>"
        "<RmtInf><Ustrd>second RmtInf</Ustrd></RmtInf></TxDtls>"
    )
    [payment] = parse_camt(camt054(entry(f"<NtryDtls>{tx}</NtryDtls>"))).payments
    assert (payment.archive_id, payment.end_to_end_id) == ("TX1", None)
    assert payment.amount_cents == 1000  # first TxAmt has no Amt: the entry's amount
    assert payment.payer_name == "Aho Anna"
    assert payment.references == ("12345", "RF")
    assert payment.message == "first"


def test_payments_carry_exactly_the_bank_payment_fields() -> None:
    """camt builds payments without the key check of ``build_payment``: guard it here."""
    names = {field.name for field in fields(BankPayment)}
    tx = (
        '<NtryDtls><TxDtls><AmtDtls><TxAmt><Amt Ccy="EUR">10.00</Amt></TxAmt></AmtDtls>'
        "</TxDtls></NtryDtls>"
    )
    for body in ("", tx):  # an entry without TxDtls, and one TxDtls
        [payment] = parse_camt(camt054(entry(body))).payments
        assert vars(payment).keys() == names


def test_reversal_of_a_debit_is_a_positive_correction() -> None:
    body = "<RvslInd>true</RvslInd>"
    [payment] = parse_camt(camt054(entry(body, cd="CRDT"))).payments
    assert (payment.amount_cents, payment.reversal, payment.credit_debit) == (1000, True, "CRDT")


def make_camt054(count: int, seed: int = 1) -> tuple[bytes, int, int]:
    """camt.054.001.02 with ``count`` entries shaped like the bank's (every 40th a DBIT).

    Returns the file and the expected credit and debit sums in cents.
    """
    rng = random.Random(seed)
    credit = debit = 0
    entries = []
    for i in range(count):
        cents = rng.randrange(1, 10**6)
        amount = f"{cents // 100}.{cents % 100:02d}"
        cd = "DBIT" if i % 40 == 39 else "CRDT"
        if cd == "DBIT":
            debit += cents
        else:
            credit += cents
        ref = make_national(str(1000 + i)) if i % 2 else make_rf(make_national(str(1000 + i)))
        entries.append(
            f'<Ntry><NtryRef>{i}</NtryRef><Amt Ccy="EUR">{amount}</Amt>'
            f"<CdtDbtInd>{cd}</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-26</Dt></BookgDt>"
            f"<ValDt><Dt>2026-11-26</Dt></ValDt><AcctSvcrRef>2026112659{i:010d}</AcctSvcrRef>"
            "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
            "</Domn><Prtry><Cd>705</Cd><Issr>FFFS</Issr></Prtry></BkTxCd><NtryDtls><TxDtls>"
            f"<Refs><AcctSvcrRef>2026112659{i:010d}</AcctSvcrRef><EndToEndId>NOTPROVIDED"
            f'</EndToEndId></Refs><AmtDtls><TxAmt><Amt Ccy="EUR">{amount}</Amt></TxAmt>'
            f"</AmtDtls><RltdPties><Dbtr><Nm>Maksaja {i}</Nm></Dbtr><DbtrAcct><Id>"
            "<IBAN>FI4950009420028730</IBAN></Id></DbtrAcct></RltdPties><RmtInf><Strd>"
            "<CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
            f"<Ref>{ref}</Ref></CdtrRefInf></Strd></RmtInf></TxDtls></NtryDtls></Ntry>\n"
        )
    summary = (
        f"<TxsSummry><TtlNtries><NbOfNtries>{count}</NbOfNtries></TtlNtries>"
        f"<TtlCdtNtries><Sum>{format_amount(credit)}</Sum></TtlCdtNtries>"
        f"<TtlDbtNtries><Sum>{format_amount(debit)}</Sum></TtlDbtNtries></TxsSummry>"
    )
    return camt054("".join(entries), summary=summary), credit, debit


def test_large_generated_file() -> None:
    data, credit, debit = make_camt054(20_000)
    parsed = parse_bank_file(data)
    assert parsed.entry_count == parsed.totals.count == 20_000
    assert parsed.totals.credit_cents == credit
    assert parsed.totals.debit_cents == debit
    assert parsed.totals.net_cents == credit - debit
    assert all(p.national_reference for p in parsed.payments)
    assert parsed.payments[-1].element == "Ntry[20000]/NtryDtls/TxDtls[1]"


BOOKED_ENTRY = (
    '<Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
    "<BookgDt><Dt>2026-11-26</Dt></BookgDt><AcctSvcrRef>ENTRY1</AcctSvcrRef></Ntry>"
)


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("<BookgDt><Dt>2026-11-26</Dt></BookgDt>", "", "BookgDt", "booking date missing"),
        ("<Dt>2026-11-26</Dt>", "", "BookgDt", "booking date missing"),
        ("<Dt>2026-11-26</Dt>", "<Dt>26.11.2026</Dt>", "BookgDt", "'26.11.2026'"),
        ('<Amt Ccy="EUR">10.00</Amt>', "", "Amt", "amount missing"),
        ('<Amt Ccy="EUR">10.00</Amt>', '<Amt Ccy="EUR"/>', "Amt", "amount missing"),
        # 16 digits of euros would overflow the database's 64-bit sums mid-import
        ('<Amt Ccy="EUR">10.00</Amt>', '<Amt Ccy="EUR">1000000000000000.00</Amt>', "Amt",
         "'1000000000000000.00' is not an amount"),
        ("<CdtDbtInd>CRDT</CdtDbtInd>", "", "CdtDbtInd", "None is not CRDT or DBIT"),
        ("<CdtDbtInd>CRDT</CdtDbtInd>", "<CdtDbtInd>CR</CdtDbtInd>", "CdtDbtInd", "'CR'"),
        ("<Sts>BOOK</Sts>", "", "Sts", "status missing"),
        ("<Sts>BOOK</Sts>", "<Sts/>", "Sts", "None is not an entry status"),
        ("<Sts>BOOK</Sts>", "<Sts>BOOKED</Sts>", "Sts", "'BOOKED' is not an entry status"),
        ("<Sts>BOOK</Sts>", "<Sts><Prtry>X</Prtry></Sts>", "Sts", "not an entry status"),
    ],
)
def test_missing_or_malformed_required_entry_element(
    old: str, new: str, field: str, words: str
) -> None:
    """Each required element of an entry, missing or malformed, refuses the file with the
    line and the element path, never another exception (a BookgDt-less entry crashed)."""
    assert old in BOOKED_ENTRY
    error = refused(camt054(BOOKED_ENTRY.replace(old, new, 1)).decode())
    assert (error.path, error.field, error.line) == ("Ntry[1]", field, 1)
    assert str(error).startswith(f"camt.054 line 1, Ntry[1], field {field}: ")
    assert words in str(error)


def test_unknown_status_in_08_refuses_and_known_ones_are_skipped() -> None:
    ns08 = NS02.replace(".02", ".08")
    skipped = "".join(
        BOOKED_ENTRY.replace("<Sts>BOOK</Sts>", f"<Sts><Cd>{code}</Cd></Sts>")
        for code in ("PDNG", "INFO", "FUTR")
    )
    parsed = parse_camt(camt054(skipped, BOOKED_ENTRY.replace("BOOK<", "<Cd>BOOK</Cd><"),
                                ns=ns08))
    assert (parsed.entry_count, len(parsed.payments)) == (4, 1)
    error = refused(camt054(BOOKED_ENTRY.replace("BOOK<", "<Cd>BOKD</Cd><"), ns=ns08).decode())
    assert (error.path, error.field) == ("Ntry[1]", "Sts")
    assert "'BOKD' is not an entry status" in str(error)


STATEMENT_08 = Path(__file__).resolve().parent / "fixtures" / "camt053_001_08_statement.xml"


def test_statement_08_parses_to_the_same_payments_and_balances_as_02() -> None:
    """The .02 statement sample converted to .08 (fixture header): every .08 form of the
    spec is in it, and only the source lines of the payments differ."""
    data = STATEMENT_08.read_bytes()
    for form in (b"<Sts>\n          <Cd>BOOK", b"<Pty>", b"<TtlNetNtry>",
                 b"</Refs>\n            <Amt"):
        assert form in data
    assert b"<AmtDtls>" not in data and b"<TtlNetNtryAmt>" not in data
    v08 = parse_bank_file(data, STATEMENT_08.name)
    v02 = parse_bank_file((SAMPLES / CAMT_SAMPLES[2]).read_bytes(), CAMT_SAMPLES[2])
    assert (v08.format, v08.version) == ("camt.053", "camt.053.001.08")
    assert (v08.totals, v08.balances, v08.entry_count, v08.account_iban) == (
        v02.totals, v02.balances, v02.entry_count, v02.account_iban)
    assert v08.balances[0].closing_cents == 219799
    without_line = [f.name for f in fields(BankPayment) if f.name != "line"]
    assert [[getattr(p, n) for n in without_line] for p in v08.payments] == [
        [getattr(p, n) for n in without_line] for p in v02.payments]
    assert "Virtanen Matti" in {p.payer_name for p in v08.payments}  # Dbtr/Pty/Nm
    assert "Esimerkkiyhdistys ry" in {p.creditor_name for p in v08.payments}  # Cdtr/Pty/Nm
