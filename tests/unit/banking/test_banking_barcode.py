"""54-digit virtual bank barcode and its Code 128 rendering."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from barcode import Code128

from membook_app.banking.barcode import code128_svg, decode_barcode, make_barcode
from membook_app.banking.references import InvalidReference

REPO_ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads(
    (REPO_ROOT / ".." / "shared" / "domain" / "banking-vectors.json").read_text("utf-8")
)
IBAN = "FI5810171000000122"


def _cents(amount: str | None) -> int | None:
    return None if amount is None else int(Decimal(amount) * 100)


def _due(text: str | None) -> date | None:
    return None if text is None else date.fromisoformat(text)


@pytest.mark.parametrize("v", VECTORS["barcodes"], ids=lambda v: v["barcode"])
def test_barcode_vector(v: dict) -> None:
    code = make_barcode(v["iban"], _cents(v["amount"]), v["reference"], _due(v["due_date"]))
    assert code == v["barcode"]
    assert code[0] == str(v["version"])


@pytest.mark.parametrize("v", VECTORS["barcodes"], ids=lambda v: v["barcode"])
def test_decode_barcode_vector(v: dict) -> None:
    assert decode_barcode(v["barcode"]) == {
        "version": v["version"],
        "iban": v["iban"],
        "amount_cents": _cents(v["amount"]),
        "reference": v["reference"],
        "due": _due(v["due_date"]),
    }


def test_formatted_iban_and_reference_are_accepted() -> None:
    code = make_barcode("FI37 1590 3000 0007 76", 1225, "1 1112", date(2016, 12, 21))
    assert code == "437159030000007760000122500000000000000000011112161221"


def test_amount_over_maximum_gives_zero_amount_field() -> None:
    code = make_barcode(IBAN, 100_000_000, "47115", None)
    assert code[17:25] == "00000000"
    assert make_barcode(IBAN, 99_999_999, "47115", None)[17:25] == "99999999"


@pytest.mark.parametrize("due", [date(1999, 12, 31), date(2100, 1, 1)])
def test_due_date_outside_the_two_digit_century_is_refused(due: date) -> None:
    """"991231" would read back as 2099-12-31 and "000101" as 2000-01-01."""
    with pytest.raises(ValueError, match="2000–2099"):
        make_barcode(IBAN, 100, "47115", due)
    assert make_barcode(IBAN, 100, "47115", date(2099, 12, 31))[-6:] == "991231"


@pytest.mark.parametrize("amount", [-1, 12.5, True, "100"])
def test_amount_must_be_non_negative_int_cents(amount: object) -> None:
    with pytest.raises(ValueError, match="integer of cents"):
        make_barcode(IBAN, amount, "47115", None)  # type: ignore[arg-type]


def test_foreign_iban_is_rejected() -> None:
    with pytest.raises(ValueError, match="needs a Finnish IBAN"):
        make_barcode("DE89370400440532013000", 100, "47115", None)


def test_invalid_iban_is_rejected() -> None:
    with pytest.raises(ValueError, match="invalid IBAN 'FI5810171000000123'"):
        make_barcode("FI5810171000000123", 100, "47115", None)


def test_rf_with_letters_cannot_go_into_version_5() -> None:
    with pytest.raises(ValueError, match="digits only"):
        make_barcode(IBAN, 100, "RF73SETTLE2026W48", None)


@pytest.mark.parametrize("reference", ["47116", "RF9911112", ""])
def test_invalid_reference_is_rejected(reference: str) -> None:
    with pytest.raises(InvalidReference):
        make_barcode(IBAN, 100, reference, None)


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("4" * 53, "54 digits"),
        ("x" * 54, "54 digits"),
        ("6" + "458101710000001220000000000000000000000000047115000000"[1:], "version 6"),
        ("458101710000001220000000000000000000000000047116000000", "wrong check digit"),
        ("458101710000001230000000000000000000000000047115000000", "invalid IBAN"),
        ("458101710000001220000000000000000000000000047115261301", "invalid due date"),
    ],
)
def test_decode_rejects_bad_barcodes(code: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_barcode(code)


def test_python_barcode_uses_code128_subset_c() -> None:
    digits = VECTORS["barcodes"][0]["barcode"]
    encoded = Code128(digits).encoded
    assert encoded[0] == 105  # START C
    assert len(encoded) == 1 + len(digits) // 2  # one symbol per digit pair, no switches


def test_code128_svg_draws_subset_c_symbols() -> None:
    svg = code128_svg(VECTORS["barcodes"][0]["barcode"])
    assert "<svg" in svg
    assert 'height="13.000mm"' in svg
    # start + 27 digit pairs + checksum, 3 bars each, plus the 4-bar stop pattern
    assert svg.count("fill:black") == 29 * 3 + 4
    assert "<text" not in svg


@pytest.mark.parametrize("digits", ["123", "12a4", ""])
def test_code128_svg_needs_even_digit_count(digits: str) -> None:
    with pytest.raises(ValueError, match="even number of digits"):
        code128_svg(digits)
