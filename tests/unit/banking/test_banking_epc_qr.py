"""EPC QR payload and SVG."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import segno
from segno.helpers import _make_epc_qr_data

from membook_app.banking.epc_qr import epc_qr_payload, epc_qr_svg
from membook_app.banking.references import InvalidReference

REPO_ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads(
    (REPO_ROOT / ".." / "shared" / "domain" / "banking-vectors.json").read_text("utf-8")
)
IBAN = "FI2112345600000785"


def _args(v: dict) -> tuple:
    return (
        v["name"],
        v["iban"],
        int(Decimal(v["amount"]) * 100),
        v["reference"],
        v["text"],
        v["bic"],
    )


@pytest.mark.parametrize("v", VECTORS["epc_qr"], ids=lambda v: v["name"])
def test_payload_vector(v: dict) -> None:
    assert epc_qr_payload(*_args(v)) == v["payload_iso8859_1"]


@pytest.mark.parametrize("v", VECTORS["epc_qr"], ids=lambda v: v["name"])
def test_payload_matches_segno(v: dict) -> None:
    """Guards against segno changing how it composes the payload (private helper)."""
    segno_bytes = _make_epc_qr_data(
        v["name"], v["iban"], Decimal(v["amount"]), v["text"], v["reference"], v["bic"]
    )
    assert segno_bytes == epc_qr_payload(*_args(v)).encode("iso-8859-1")


@pytest.mark.parametrize("v", VECTORS["epc_qr"], ids=lambda v: v["name"])
def test_svg_encodes_the_payload(v: dict) -> None:
    payload = epc_qr_payload(*_args(v)).encode("iso-8859-1")
    expected = io.BytesIO()
    segno.make_qr(payload, error="m", boost_error=False).save(
        expected, kind="svg", xmldecl=False, nl=False, scale=4, light="white"
    )
    svg = epc_qr_svg(*_args(v))
    assert svg == expected.getvalue().decode("utf-8")
    assert svg.startswith("<svg") and "<?xml" not in svg


def test_national_reference_goes_in_rf_form() -> None:
    payload = epc_qr_payload("Yhdistys ry", "FI21 1234 5600 0007 85", 3500, "2026 0011")
    assert payload.split("\n")[6:] == ["FI2112345600000785", "EUR35", "", "RF5220260011"]


def test_cents_are_exact() -> None:
    assert epc_qr_payload("A", IBAN, 1, text="x").split("\n")[7] == "EUR0.01"
    assert epc_qr_payload("A", IBAN, 99_999_999_999, text="x").split("\n")[7] == "EUR999999999.99"


def test_utf8_when_latin1_is_not_enough() -> None:
    payload = epc_qr_payload("Łódź ry", IBAN, 100, "20260011")
    assert payload.split("\n")[2] == "1"
    expected = io.BytesIO()
    segno.make_qr(payload.encode("utf-8"), error="m", boost_error=False).save(
        expected, kind="svg", xmldecl=False, nl=False, scale=4, light="white"
    )
    assert epc_qr_svg("Łódź ry", IBAN, 100, "20260011") == expected.getvalue().decode()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reference": "20260011", "text": "x"}, "either a reference or a text"),
        ({}, "either a reference or a text"),
        ({"text": "x", "amount_cents": 0}, "between 0.01"),
        ({"text": "x", "amount_cents": 10.5}, "integer of cents"),
        ({"text": "x", "iban": "FI2112345600000786"}, "invalid IBAN"),
        ({"text": "x", "bic": "NDEA"}, "invalid IBAN or BIC"),
        ({"text": "x", "name": "x" * 71}, "1–70 characters"),
        ({"text": "x" * 141}, "at most 140"),
    ],
)
def test_bad_input_is_rejected(kwargs: dict, message: str) -> None:
    args = {"name": "Yhdistys ry", "iban": IBAN, "amount_cents": 100} | kwargs
    with pytest.raises(ValueError, match=message):
        epc_qr_payload(**args)
    with pytest.raises(ValueError, match=message):
        epc_qr_svg(**args)


def test_invalid_reference_is_rejected() -> None:
    with pytest.raises(InvalidReference):
        epc_qr_svg("Yhdistys ry", IBAN, 100, reference="RF19539007547034")
