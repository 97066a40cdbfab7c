"""``bank parse``: JSON and table output for the shared samples, refusal as one stderr line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from membook_app.banking.statement import format_amount, parse_bank_file, to_json_dict
from membook_app.cli.bank import bank

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "domain" / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text("utf-8"))
KTL = "ktl_reference_payments.txt"
FORMATS = {
    KTL: "ktl",
    "camt054_001_02_reference_payments.xml": "camt.054",
    "camt054_001_08_reference_payments.xml": "camt.054",
    "camt053_001_02_statement.xml": "camt.053",
}
FILES = list(FORMATS)
PAYMENT_KEYS = {
    "archive_id",
    "booking_date",
    "amount_cents",
    "reference",
    "national_reference",
    "payer_name",
    "message",
    "value_date",
    "currency",
    "credit_debit",
    "reversal",
    "reference_kind",
    "reference_valid",
    "payer_iban",
    "end_to_end_id",
    "batched_entry",
    "entry_archive_id",
    "bank_tx_code",
    "line",
}


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(bank, [str(arg) for arg in args])


def expected_signed_amounts(name: str) -> list[str]:
    expected = EXPECTED[name]
    if name == KTL:
        return [r["signed_amount"] for r in expected["batches"][0]["records"]]
    return [
        ("-" if t["credit_debit"] == "DBIT" else "") + t["tx_amount"]
        for t in expected["transactions"]
    ]


@pytest.mark.parametrize("name", FILES)
def test_json_output(name: str) -> None:
    result = run("parse", SAMPLES / name, "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"format", "payments", "totals"}
    assert data["format"] == FORMATS[name]
    assert all(PAYMENT_KEYS <= set(payment) for payment in data["payments"])
    amounts = [format_amount(p["amount_cents"]) for p in data["payments"]]
    assert amounts == expected_signed_amounts(name)
    totals = data["totals"]
    assert totals["count"] == len(data["payments"])
    assert totals["net_cents"] == totals["credit_cents"] - totals["debit_cents"]
    assert totals["net_cents"] == sum(p["amount_cents"] for p in data["payments"])
    assert data == json.loads(
        json.dumps(to_json_dict(parse_bank_file((SAMPLES / name).read_bytes())))
    )


def test_json_dates_and_nulls() -> None:
    data = json.loads(run("parse", SAMPLES / KTL, "--json").stdout)
    fifth = data["payments"][4]
    assert fifth["booking_date"] == "2026-11-26"
    assert (fifth["reference"], fifth["national_reference"], fifth["reference_valid"]) == (
        "12345",
        None,
        False,
    )
    assert fifth["message"] is None
    assert data["totals"] == {
        "count": 7,
        "credit_cents": 124049,
        "debit_cents": 5000,
        "net_cents": 119049,
    }


def test_table_output_ktl() -> None:
    result = run("parse", SAMPLES / KTL)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Muoto / Format:         KTL" in out
    assert "Tili / Account:         FI2112345600000785" in out
    assert "261126593497A005" in out and "12345 !" in out
    assert "MÄKINEN LIIS" in out
    assert "Netto / Net:            1\xa0190,49\xa0€" in out
    assert "26.11.2026" in out and "2026-11-26" not in out
    assert "! = virheellinen viite" in out


def test_table_output_statement_shows_balances_and_national_of_rf() -> None:
    out = run("parse", SAMPLES / "camt053_001_02_statement.xml").stdout
    assert "camt.053.001.02" in out
    assert "RF69100000010 (100000010)" in out
    assert "Alkusaldo / Opening:    1\xa0500,00\xa0€ (26.11.2026)" in out
    assert "Loppusaldo / Closing:   2\xa0197,99\xa0€ (26.11.2026)" in out
    assert "-480,00\xa0€" in out and "Esimerkkiyhdistys ry" in out


def test_bad_file_exits_2_with_one_line_on_stderr(tmp_path: Path) -> None:
    lines = (SAMPLES / KTL).read_bytes().split(b"\r\n")
    lines[3] = lines[3][:77] + b"00000A5000" + lines[3][87:]
    bad = tmp_path / "viitteet.svm"
    bad.write_bytes(b"\r\n".join(lines))
    for args in (("parse", bad), ("parse", bad, "--json")):
        result = run(*args)
        assert result.exit_code == 2
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1
        assert "viitteet.svm: KTL line 4, field amount: '00000A5000' is not a number" in (
            result.stderr
        )
        assert "Traceback" not in result.output


def test_broken_xml_and_unknown_content_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "camt.xml"
    broken.write_text((SAMPLES / FILES[1]).read_text("utf-8").replace("</Ntfctn>", ""), "utf-8")
    result = run("parse", broken)
    assert result.exit_code == 2
    assert "camt.054 line" in result.stderr and "not well-formed XML" in result.stderr
    unknown = tmp_path / "x.csv"
    unknown.write_text("a;b;c\n")
    result = run("parse", unknown)
    assert (result.exit_code, result.stdout) == (2, "")
    assert "unrecognised content" in result.stderr


def test_missing_file_is_a_usage_error() -> None:
    result = run("parse", "/nonexistent/file.xml")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_entry_without_booking_date_exits_2_naming_line_and_element(tmp_path: Path) -> None:
    """Used to crash with a TypeError traceback and exit status 1."""
    xml = (SAMPLES / FILES[1]).read_text("utf-8")
    start = xml.index("<BookgDt>")
    end = xml.index("</BookgDt>") + len("</BookgDt>")
    line = xml.count("\n", 0, xml.rindex("<Ntry>", 0, start)) + 1
    bad = tmp_path / "no-date.xml"
    bad.write_text(xml[:start] + xml[end:], "utf-8")
    for args in (("parse", bad), ("parse", bad, "--json")):
        result = run(*args)
        assert (result.exit_code, result.stdout) == (2, "")
        assert result.stderr == (
            f"Virhe / Error: no-date.xml: camt.054 line {line}, Ntry[1], field BookgDt: "
            "booking date missing\n"
        )
