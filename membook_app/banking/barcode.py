"""Finnish bank barcode (pankkiviivakoodi): the 54-digit virtual barcode, versions 4 and 5.

Payers scan or paste the 54 digits into their online bank, which fills in account, amount,
reference and due date, so every field must be exact. Version 4 carries a national
reference, version 5 an RF reference with a digits-only body. The printed barcode is the
same digits in Code 128 (subset C).
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from barcode import Code128
from barcode.writer import SVGWriter
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from .references import validate_national, validate_reference, validate_rf

BARCODE_LENGTH = 54
MAX_AMOUNT_CENTS = 99_999_999  # 999 999.99 €: the field has 6 euro and 2 cent digits
_NO_DUE_DATE = "000000"

# Printed size in millimetres. Module width/height follow common Finnish invoice practice;
# confirm against the Finance Finland barcode guide before relying on a specific printer.
_PRINT_OPTIONS = {
    "module_width": 0.25,
    "module_height": 13.0,
    "quiet_zone": 6.5,
    "write_text": False,
}


def _finnish_account_digits(iban: str) -> str:
    """The 16 digits after ``FI`` (check digits + BBAN) of a validated Finnish IBAN."""
    try:
        parsed = IBAN(iban)
    except SchwiftyException as exc:
        raise ValueError(f"invalid IBAN {iban!r}: {exc}") from exc
    if parsed.country_code != "FI":
        raise ValueError(
            f"bank barcode needs a Finnish IBAN (FI…), got {parsed.country_code} IBAN {iban!r}"
        )
    return parsed.compact[2:]


def _amount_field(amount_cents: int | None) -> str:
    """8 digits (euros + cents); zeros when absent or too large, so the payer types it."""
    if amount_cents is None:
        return "0" * 8
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents < 0:
        raise ValueError(f"amount must be a non-negative integer of cents, got {amount_cents!r}")
    return "0" * 8 if amount_cents > MAX_AMOUNT_CENTS else f"{amount_cents:08d}"


def check_amount(amount_cents: int) -> None:
    """Refuse an amount the barcode cannot hold, for callers that must not let
    `make_barcode` write the zero field instead (the command line: the treasurer asked
    for that amount)."""
    if amount_cents > MAX_AMOUNT_CENTS:
        raise ValueError(
            "summa on yli 999 999,99 €, jota pankkiviivakoodi ei voi sisältää / the amount is "
            "over 999 999.99 €, which a bank barcode cannot hold")


def _due_field(due: date | None) -> str:
    """YYMMDD, or zeros for none. Two year digits mean 2000–2099 (`_parse_yymmdd`), so
    another year would be read back as a different date: refused."""
    if due is None:
        return _NO_DUE_DATE
    if not 2000 <= due.year <= 2099:
        raise ValueError(
            f"eräpäivän pitää olla vuosina 2000–2099, pankkiviivakoodissa on vuodesta kaksi "
            f"numeroa / the due date must be in 2000–2099, a bank barcode holds two digits of "
            f"the year (got {due.isoformat()})")
    return due.strftime("%y%m%d")


def _reference_field(reference: str) -> tuple[str, str]:
    """Version digit and the 23-digit reference field (positions 26–48)."""
    ref = validate_reference(reference)
    if ref.kind == "national":
        return "4", "000" + ref.compact.zfill(20)
    body = ref.compact[4:]
    if not body.isdigit():
        raise ValueError(
            f"RF reference {ref.compact} has letters in its body; a bank barcode (version 5)"
            " holds digits only"
        )
    return "5", ref.compact[2:4] + body.zfill(21)


def make_barcode(iban: str, amount_cents: int | None, reference: str, due: date | None) -> str:
    """Build the 54-digit virtual barcode (version 4 for national, 5 for RF references).

    ``amount_cents`` None or above 999 999.99 € and ``due`` None give zero fields, which
    tells the payer's bank to ask for the value; a due date outside 2000–2099 cannot be
    written. Raises ``ValueError`` (``InvalidReference`` for references) so that no barcode
    pointing to a wrong account, invoice or date is printed.
    """
    account = _finnish_account_digits(iban)
    version, ref_field = _reference_field(reference)
    return version + account + _amount_field(amount_cents) + ref_field + _due_field(due)


def decode_barcode(s: str) -> dict[str, Any]:
    """Parse a virtual barcode back into its fields, validating account and reference.

    Returns ``version`` (4|5), ``iban``, ``amount_cents`` (None when the field is zero),
    ``reference`` (compact national or RF) and ``due`` (date or None). Used to check
    pasted barcodes and to verify what was printed.
    """
    digits = "".join(s.split())
    if len(digits) != BARCODE_LENGTH or not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"a virtual barcode is {BARCODE_LENGTH} digits, got {s!r}")
    version = digits[0]
    if version == "4":
        reference = validate_national(digits[28:48])
    elif version == "5":
        reference = validate_rf("RF" + digits[25:27] + digits[27:48].lstrip("0"))
    else:
        raise ValueError(f"unsupported barcode version {version} (only 4 and 5)")
    iban = "FI" + digits[1:17]
    _finnish_account_digits(iban)
    amount = int(digits[17:25])
    due_field = digits[48:54]
    try:
        due = None if due_field == _NO_DUE_DATE else _parse_yymmdd(due_field)
    except ValueError as exc:
        raise ValueError(f"invalid due date {due_field} in barcode") from exc
    return {
        "version": int(version),
        "iban": iban,
        "amount_cents": amount or None,
        "reference": reference,
        "due": due,
    }


def _parse_yymmdd(field: str) -> date:
    """Barcode dates are YYMMDD in the 2000s (the format was introduced in 2010)."""
    return date(2000 + int(field[:2]), int(field[2:4]), int(field[4:6]))


def code128_svg(digits: str) -> str:
    """Render the printed barcode: Code 128 of the digits, as SVG text (sizes in mm).

    python-barcode starts in subset C and stays there for an even number of digits, which
    is what Finnish invoices use; odd lengths would force a charset switch, so they are
    rejected.
    """
    if not (digits.isascii() and digits.isdigit()) or len(digits) % 2:
        raise ValueError("Code 128 subset C needs an even number of digits")
    buffer = io.BytesIO()
    Code128(digits, writer=SVGWriter()).write(buffer, _PRINT_OPTIONS)
    return buffer.getvalue().decode("utf-8")
