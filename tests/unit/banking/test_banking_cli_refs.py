"""CLI commands `ref national|rf|check` and `barcode`."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner, Result

from membook_app.cli.refs import barcode, parse_euros, ref


def _run(*args: str) -> Result:
    group = click.Group("membook", commands=[ref, barcode])
    return CliRunner().invoke(group, list(args))


def _assert_one_line_error(result: Result, text: str) -> None:
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert text in result.stderr
    assert "Traceback" not in result.output


def test_national_prints_each_reference() -> None:
    result = _run("ref", "national", "2024001", "1234", "0001000")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["20240015", "12344", "10003"]


def test_national_bad_base_prints_nothing_on_stdout() -> None:
    _assert_one_line_error(_run("ref", "national", "1234", "12a"), "must contain only digits")


def test_national_needs_an_argument() -> None:
    result = _run("ref", "national")
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


def test_rf_prints_each_reference() -> None:
    result = _run("ref", "rf", "20240015", "868516259619897")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["RF4220240015", "RF09868516259619897"]


def test_rf_of_invalid_national() -> None:
    _assert_one_line_error(_run("ref", "rf", "13014"), "wrong check digit (expected 3)")


@pytest.mark.parametrize(
    ("reference", "output"),
    [
        ("20240015", "ok national 20240015"),
        ("202 40015", "ok national 20240015"),
        ("RF42 2024 0015", "ok rf RF4220240015 (national 20240015)"),
        ("RF73SETTLE2026W48", "ok rf RF73SETTLE2026W48"),
    ],
)
def test_check_valid(reference: str, output: str) -> None:
    result = _run("ref", "check", reference)
    assert result.exit_code == 0
    assert result.stdout == output + "\n"


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("13014", "wrong check digit (expected 3) / väärä tarkiste (pitäisi olla 3)"),
        ("RF9911112", "wrong check digits (expected RF98)"),
        ("123", "too short"),
        ("", "reference is missing"),
    ],
)
def test_check_invalid(reference: str, reason: str) -> None:
    _assert_one_line_error(_run("ref", "check", reference), reason)


@pytest.mark.parametrize(
    ("args", "digits"),
    [
        (
            ["--amount", "12,25", "--ref", "11112", "--due", "2016-12-21"],
            "437159030000007760000122500000000000000000011112161221",
        ),
        (
            ["--amount", "1.1", "--ref", "RF98 1111 2", "--due", "2017-01-01"],
            "537159030000007760000011098000000000000000011112170101",
        ),
        (
            ["--amount", "0", "--ref", "11112"],
            "437159030000007760000000000000000000000000011112000000",
        ),
    ],
)
def test_barcode(args: list[str], digits: str) -> None:
    result = _run("barcode", "--iban", "FI37 1590 3000 0007 76", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == digits + "\n"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--amount", "12.255", "--ref", "11112"], "max 2 decimals"),
        (["--amount", "-1", "--ref", "11112"], "invalid amount"),
        (["--amount", "1e3", "--ref", "11112"], "invalid amount"),
        (["--amount", "1", "--ref", "11113"], "wrong check digit"),
        (["--amount", "1", "--ref", "RF73SETTLE2026W48"], "digits only"),
        (["--amount", "1", "--ref", "11112", "--due", "31.12.2026"], "use YYYY-MM-DD"),
        (["--amount", "1", "--ref", "11112", "--due", "2026-02-30"], "invalid due date"),
        (["--amount", "1000000", "--ref", "11112"], "over 999 999.99 €"),
        (["--amount", "1000000,00", "--ref", "11112"], "summa on yli 999 999,99 €"),
        (["--amount", "1", "--ref", "11112", "--due", "2100-01-01"], "must be in 2000–2099"),
        (["--amount", "1", "--ref", "11112", "--due", "1999-12-31"],
         "eräpäivän pitää olla vuosina 2000–2099"),
    ],
)
def test_barcode_bad_input(args: list[str], reason: str) -> None:
    _assert_one_line_error(_run("barcode", "--iban", "FI3715903000000776", *args), reason)


def test_barcode_foreign_iban() -> None:
    result = _run("barcode", "--iban", "DE89370400440532013000", "--amount", "1", "--ref", "11112")
    _assert_one_line_error(result, "needs a Finnish IBAN")


@pytest.mark.parametrize(
    ("text", "cents"),
    [("12.50", 1250), ("12,5", 1250), ("0.01", 1), (" 7 ", 700), ("999999.99", 99_999_999)],
)
def test_parse_euros(text: str, cents: int) -> None:
    assert parse_euros(text) == cents


@pytest.mark.parametrize("text", ["", "12.", ".5", "1,234.50", "12.345", "abc", "NaN"])
def test_parse_euros_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid amount"):
        parse_euros(text)
