"""Finnish national and RF references against the shared test vectors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from stdnum import iso11649

from membook_app.banking.references import (
    InvalidReference,
    format_national,
    format_rf,
    is_valid_national,
    is_valid_rf,
    make_national,
    make_rf,
    national_check_digit,
    national_to_rf,
    normalise,
    rf_to_national,
    validate_national,
    validate_reference,
    validate_rf,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads(
    (REPO_ROOT / ".." / "shared" / "domain" / "banking-vectors.json").read_text("utf-8")
)


@pytest.mark.parametrize("v", VECTORS["national"], ids=lambda v: v["base"])
def test_national_vector(v: dict) -> None:
    assert national_check_digit(v["base"]) == v["check_digit"]
    assert make_national(v["base"]) == v["reference"]
    assert format_national(v["reference"]) == v["printed"]
    assert validate_national(v["printed"]) == v["reference"]
    assert normalise(v["printed"]).national == v["reference"]


@pytest.mark.parametrize("v", VECTORS["national"], ids=lambda v: v["base"])
def test_only_one_check_digit_is_valid(v: dict) -> None:
    valid = [d for d in "0123456789" if is_valid_national(v["base"] + d)]
    assert valid == [v["check_digit"]]


@pytest.mark.parametrize("v", VECTORS["national_public_examples"], ids=lambda v: v["reference"])
def test_public_national_examples_are_valid(v: dict) -> None:
    assert is_valid_national(v["reference"])
    assert make_national(v["reference"][:-1]) == v["reference"]


def _expected_reason(why: str) -> str:
    if why.startswith("wrong check digit"):
        valid = re.search(r"valid is (\d+)", why).group(1)
        return f"wrong check digit (expected {valid[-1]})"
    return {"too short": "too short", "too long": "too long", "non-digit": "only digits"}[
        why.split(" (")[0]
    ]


@pytest.mark.parametrize("v", VECTORS["national_invalid"], ids=lambda v: v["reference"])
def test_invalid_national_vector(v: dict) -> None:
    assert not is_valid_national(v["reference"])
    with pytest.raises(InvalidReference) as info:
        validate_national(v["reference"])
    assert _expected_reason(v["why"]) in str(info.value)
    result = normalise(v["reference"])
    assert (result.kind, result.valid, result.national) == ("invalid", False, None)


@pytest.mark.parametrize("v", VECTORS["rf"], ids=lambda v: v["rf"])
def test_rf_vector(v: dict) -> None:
    assert national_to_rf(v["national"]) == v["rf"]
    assert format_rf(v["rf"]) == v["printed"]
    assert rf_to_national(v["printed"]) == v["national"]
    assert is_valid_rf(v["printed"])
    result = normalise(v["printed"].lower())
    assert (result.kind, result.compact, result.national) == ("rf", v["rf"], v["national"])


@pytest.mark.parametrize("v", VECTORS["rf_public_examples"], ids=lambda v: v["rf"])
def test_public_rf_examples_are_valid(v: dict) -> None:
    assert is_valid_rf(v["rf"])
    assert make_rf(v["rf"][4:]) == v["rf"]
    assert iso11649.is_valid(v["rf"])


def test_rf_alphanumeric_example() -> None:
    v = VECTORS["rf_alphanumeric_example"]
    assert make_rf(v["body"]) == v["rf"]
    assert rf_to_national(v["rf"]) is None
    result = normalise(v["rf"])
    assert (result.kind, result.valid, result.national) == ("rf", True, None)


@pytest.mark.parametrize("v", VECTORS["rf_invalid"], ids=lambda v: v["rf"])
def test_invalid_rf_vector(v: dict) -> None:
    assert not is_valid_rf(v["rf"])
    expected = re.search(r"valid (RF\d\d)", v["why"]).group(1)
    with pytest.raises(InvalidReference, match=f"wrong check digits \\(expected {expected}\\)"):
        validate_rf(v["rf"])
    assert normalise(v["rf"]).kind == "invalid"


def test_leading_zeros_are_not_significant() -> None:
    assert validate_national("00000000000000013013") == "13013"
    assert make_national("0001234") == "12344"
    assert make_national(1234) == "12344"
    assert rf_to_national("RF98011112") == "11112"


def test_whitespace_is_accepted() -> None:
    assert validate_national(" 202\t40015\u00a0") == "20240015"
    assert validate_rf("rf42 2024 0015") == "RF4220240015"


@pytest.mark.parametrize("base", ["12", "12345678901234567890", "", "12a", "-1234"])
def test_make_national_rejects_bad_bases(base: str) -> None:
    with pytest.raises(InvalidReference):
        make_national(base)


@pytest.mark.parametrize(
    ("ref", "reason"),
    [
        ("RF1", "not an RF reference"),
        ("RFAB1234", "not an RF reference"),
        ("RF12ÄÖ", "not an RF reference"),
        ("RF12", "wrong length"),
        ("RF00" + "1" * 22, "wrong length"),
    ],
)
def test_rf_error_reasons(ref: str, reason: str) -> None:
    with pytest.raises(InvalidReference, match=reason):
        validate_rf(ref)


def test_error_message_is_bilingual() -> None:
    with pytest.raises(InvalidReference) as info:
        validate_national("12345")
    assert info.value.reason == "wrong check digit (expected 4)"
    assert info.value.reason_fi == "väärä tarkiste (pitäisi olla 4)"
    assert info.value.reference == "12345"
    assert isinstance(info.value, ValueError)


def test_format_national_refuses_invalid_reference() -> None:
    with pytest.raises(InvalidReference):
        format_national("12345")


def test_national_to_rf_refuses_invalid_reference() -> None:
    with pytest.raises(InvalidReference):
        national_to_rf("13014")


def test_make_rf_rejects_bad_body() -> None:
    with pytest.raises(InvalidReference, match="RF body"):
        make_rf("A" * 22)
    with pytest.raises(InvalidReference, match="RF body"):
        make_rf("ÄÖ")


def test_normalise_empty_and_garbage() -> None:
    assert normalise(None).kind == "none"
    assert normalise("   ").kind == "none"
    assert normalise("   ").valid is False
    garbage = normalise("Jäsenmaksu 2026")
    assert (garbage.kind, garbage.valid, garbage.reason) == (
        "invalid",
        False,
        "must contain only digits",
    )
    padded = normalise("00000000000000013014")
    assert (padded.compact, padded.kind) == ("13014", "invalid")


def test_normalise_keeps_given_text() -> None:
    assert normalise(" 202 40015 ").given == " 202 40015 "


def test_validate_reference_raises_for_missing() -> None:
    with pytest.raises(InvalidReference, match="reference is missing"):
        validate_reference("  ")
    assert validate_reference("RF18 5390 0754 7034").national is None
