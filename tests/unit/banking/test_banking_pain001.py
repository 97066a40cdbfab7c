"""pain.001 settlement files: structured references, amounts, dates, XSD validity."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from lxml import etree
from sepaxml.validation import try_valid_xml

from membook_app.banking.pain001 import (
    PAIN_001_001_03,
    PAIN_001_001_09,
    VERSIONS,
    CreditTransfer,
    Debtor,
    Pain001Error,
    build_pain001,
    sepa_text,
    validate_pain001,
)
from membook_app.banking.references import InvalidReference

DEBTOR = Debtor("Membook Escrow Oy", "FI21 1234 5600 0007 85")
EASTER_MONDAY = date(2026, 4, 6)
RF = CreditTransfer(
    "W15-1", "Yhdistys Ääkköset ry", "FI4950009420028730", 123456, reference="RF18 5390 0754 7034"
)
NATIONAL = CreditTransfer("W15-2", "Café Noël ry", "FI5810171000000122", 5, reference="202 40015")
TEXT = CreditTransfer(
    "W15-3",
    "Verein e.V.",
    "DE89370400440532013000",
    100000,
    text="Tilitys viikko 15",
    creditor_bic="COBADEFFXXX",
)
TRANSFERS = [RF, NATIONAL, TEXT]


def _tx(doc: etree._Element, e2e: str) -> etree._Element:
    (tx,) = doc.xpath("//p:CdtTrfTxInf[p:PmtId/p:EndToEndId=$e2e]", namespaces=_ns(doc), e2e=e2e)
    return tx


def _ns(doc: etree._Element) -> dict[str, str]:
    return {"p": etree.QName(doc).namespace}


def _text(node: etree._Element, path: str) -> list[str]:
    return [
        str(t) for t in node.xpath(path + "/text()", namespaces=_ns(node.getroottree().getroot()))
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_file_validates_against_both_bundled_validators(version: str) -> None:
    xml = build_pain001(DEBTOR, EASTER_MONDAY, TRANSFERS, version=version)
    validate_pain001(xml, version)
    try_valid_xml(xml, version)  # sepaxml's own xmlschema-based check
    assert (
        etree.QName(etree.fromstring(xml)).namespace == f"urn:iso:std:iso:20022:tech:xsd:{version}"
    )


@pytest.mark.parametrize("version", VERSIONS)
def test_rf_reference_is_structured_with_iso_issuer(version: str) -> None:
    doc = etree.fromstring(build_pain001(DEBTOR, EASTER_MONDAY, TRANSFERS, version=version))
    tx = _tx(doc, "W15-1")
    assert _text(tx, "p:RmtInf/p:Strd/p:CdtrRefInf/p:Tp/p:CdOrPrtry/p:Cd") == ["SCOR"]
    assert _text(tx, "p:RmtInf/p:Strd/p:CdtrRefInf/p:Tp/p:Issr") == ["ISO"]
    assert _text(tx, "p:RmtInf/p:Strd/p:CdtrRefInf/p:Ref") == ["RF18539007547034"]
    assert _text(tx, "p:RmtInf/p:Ustrd") == []


@pytest.mark.parametrize("version", VERSIONS)
def test_national_reference_is_structured_without_issuer(version: str) -> None:
    doc = etree.fromstring(build_pain001(DEBTOR, EASTER_MONDAY, TRANSFERS, version=version))
    tx = _tx(doc, "W15-2")
    assert _text(tx, "p:RmtInf/p:Strd/p:CdtrRefInf/p:Tp/p:CdOrPrtry/p:Cd") == ["SCOR"]
    assert _text(tx, "p:RmtInf/p:Strd/p:CdtrRefInf/p:Tp/p:Issr") == []
    assert _text(tx, "p:RmtInf/p:Strd/p:CdtrRefInf/p:Ref") == ["20240015"]
    assert _text(tx, "p:RmtInf/p:Ustrd") == []


@pytest.mark.parametrize("version", VERSIONS)
def test_text_stays_unstructured_and_bic_is_kept(version: str) -> None:
    doc = etree.fromstring(build_pain001(DEBTOR, EASTER_MONDAY, TRANSFERS, version=version))
    tx = _tx(doc, "W15-3")
    assert _text(tx, "p:RmtInf/p:Ustrd") == ["Tilitys viikko 15"]
    assert _text(tx, "p:RmtInf/p:Strd") == []
    bic_tag = "BIC" if version == PAIN_001_001_03 else "BICFI"
    assert _text(tx, f"p:CdtrAgt/p:FinInstnId/p:{bic_tag}") == ["COBADEFFXXX"]


@pytest.mark.parametrize("version", VERSIONS)
def test_amounts_are_exact_decimal_strings(version: str) -> None:
    doc = etree.fromstring(build_pain001(DEBTOR, EASTER_MONDAY, TRANSFERS, version=version))
    assert _text(doc, "//p:InstdAmt") == ["1234.56", "0.05", "1000.00"]
    assert doc.xpath("//p:InstdAmt/@Ccy", namespaces=_ns(doc)) == ["EUR"] * 3
    assert _text(doc, "//p:GrpHdr/p:CtrlSum") == ["2234.61"]
    assert _text(doc, "//p:GrpHdr/p:NbOfTxs") == ["3"]


@pytest.mark.parametrize(
    ("version", "path"),
    [(PAIN_001_001_03, "//p:ReqdExctnDt"), (PAIN_001_001_09, "//p:ReqdExctnDt/p:Dt")],
)
def test_execution_date_rolls_forward_to_banking_day(version: str, path: str) -> None:
    doc = etree.fromstring(build_pain001(DEBTOR, EASTER_MONDAY, TRANSFERS, version=version))
    assert _text(doc, path) == ["2026-04-07"]


def test_execution_date_on_holiday_can_be_refused() -> None:
    with pytest.raises(Pain001Error, match="2026-04-06 is not a Finnish banking day"):
        build_pain001(DEBTOR, EASTER_MONDAY, TRANSFERS, roll_forward=False)


def test_sepa_fields_and_finnish_letters() -> None:
    doc = etree.fromstring(build_pain001(DEBTOR, date(2026, 4, 8), TRANSFERS))
    assert _text(doc, "//p:Cdtr/p:Nm") == ["Yhdistys Ääkköset ry", "Cafe Noel ry", "Verein e.V."]
    assert _text(doc, "//p:ChrgBr") == ["SLEV"]
    assert _text(doc, "//p:PmtTpInf/p:SvcLvl/p:Cd") == ["SEPA"]
    assert _text(doc, "//p:DbtrAgt/p:FinInstnId/p:BIC") == ["NDEAFIHH"]  # derived from IBAN
    assert _text(doc, "//p:DbtrAcct/p:Id/p:IBAN") == ["FI2112345600000785"]


def test_message_id_can_be_fixed() -> None:
    doc = etree.fromstring(build_pain001(DEBTOR, date(2026, 4, 8), TRANSFERS, message_id="RUN-15"))
    assert _text(doc, "//p:GrpHdr/p:MsgId") == ["RUN-15"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("Kissa & Koira ry", "Kissa Koira ry"), ("Åland Öljy", "Åland Öljy"), ("Zoë  ß", "Zoe")],
)
def test_sepa_text(value: str, expected: str) -> None:
    assert sepa_text(value) == expected


@pytest.mark.parametrize(
    ("transfers", "message"),
    [
        ([], "at least one transfer"),
        ([RF, replace(NATIONAL, end_to_end_id="W15-1")], "unique"),
        ([replace(RF, text="x")], "either a reference or a text"),
        ([replace(RF, reference=None)], "either a reference or a text"),
        ([replace(RF, amount_cents=0)], "0.01"),
        ([replace(RF, amount_cents=12.5)], "integer of cents"),
        (
            [replace(RF, creditor_iban="FI4950009420028731")],
            "invalid transfer 'W15-1' creditor IBAN",
        ),
        ([replace(RF, creditor_bic="NDEA")], "creditor BIC"),
        ([replace(RF, creditor_name=" ☃ ")], "name is empty"),
        ([replace(RF, end_to_end_id="x" * 36)], "end-to-end id"),
        ([replace(RF, end_to_end_id="/abc")], "end-to-end id"),
        ([replace(TEXT, text="x" * 141)], "1–140"),
    ],
)
def test_bad_transfers_are_rejected(transfers: list[CreditTransfer], message: str) -> None:
    with pytest.raises(Pain001Error, match=message):
        build_pain001(DEBTOR, date(2026, 4, 8), transfers)


@pytest.mark.parametrize(
    ("debtor", "transfer", "party", "item"),
    [
        (DEBTOR, replace(RF, creditor_iban="FI4950009420028731"), "W15-1", "iban"),
        (DEBTOR, replace(RF, creditor_bic="NDEA"), "W15-1", "bic"),
        (DEBTOR, replace(RF, creditor_name=" ☃ "), "W15-1", "name"),
        (Debtor("Escrow", "FI7331313001000058"), RF, "debtor", "bic"),
        (replace(DEBTOR, name=""), RF, "debtor", "name"),
    ],
)
def test_refusals_name_the_party_and_the_part(debtor: Debtor, transfer: CreditTransfer,
                                              party: str, item: str) -> None:
    """Callers tell their users whose account to fix from these, not from the message."""
    with pytest.raises(Pain001Error) as refused:
        build_pain001(debtor, date(2026, 4, 8), [transfer])
    assert (refused.value.party, refused.value.item) == (party, item)


def test_invalid_reference_is_rejected() -> None:
    with pytest.raises(InvalidReference, match="wrong check digit"):
        build_pain001(DEBTOR, date(2026, 4, 8), [replace(NATIONAL, reference="20240016")])


def test_debtor_bic_is_required_when_not_derivable() -> None:
    handelsbanken = Debtor("Escrow", "FI7331313001000058")
    with pytest.raises(Pain001Error, match="cannot derive the BIC"):
        build_pain001(handelsbanken, date(2026, 4, 8), TRANSFERS)
    xml = build_pain001(replace(handelsbanken, bic="HANDFIHH"), date(2026, 4, 8), TRANSFERS)
    assert b"<BIC>HANDFIHH</BIC>" in xml


def test_unknown_version_is_rejected() -> None:
    with pytest.raises(Pain001Error, match="unsupported version"):
        build_pain001(DEBTOR, date(2026, 4, 8), TRANSFERS, version="pain.001.001.02")  # type: ignore[arg-type]
    with pytest.raises(Pain001Error, match="unsupported version"):
        validate_pain001(b"<x/>", "pain.001.001.02")  # type: ignore[arg-type]


def test_validate_reports_schema_violation() -> None:
    xml = build_pain001(DEBTOR, date(2026, 4, 8), TRANSFERS).replace(
        b">0.05</InstdAmt>", b">0,05</InstdAmt>"
    )
    with pytest.raises(
        Pain001Error, match=r"pain\.001\.001\.03 schema violation at line \d+: .*InstdAmt"
    ):
        validate_pain001(xml, PAIN_001_001_03)


def test_validate_rejects_wrong_version_namespace() -> None:
    xml = build_pain001(DEBTOR, date(2026, 4, 8), TRANSFERS, version=PAIN_001_001_09)
    with pytest.raises(Pain001Error, match="schema violation"):
        validate_pain001(xml, PAIN_001_001_03)


def test_validate_rejects_malformed_xml() -> None:
    with pytest.raises(Pain001Error, match="not well-formed"):
        validate_pain001(b"<Document>", PAIN_001_001_03)
