"""Creditor references: the Finnish national reference (viitenumero) and ISO 11649 RF.

Payments are matched to invoices by reference, so every reference that enters the system
(typed by a user, read from a bank file) goes through :func:`normalise` first; both forms of
the same Finnish reference then compare equal via ``NormalisedReference.national``.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Literal

from stdnum import iso11649
from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_97_10

NATIONAL_MIN_LENGTH = 4
NATIONAL_MAX_LENGTH = 20
_WEIGHTS = (7, 3, 1)
_RF_BODY_CHARS = frozenset(string.ascii_uppercase + string.digits)
_RF_BODY_MAX_LENGTH = 21
_RF_SHAPE = re.compile(r"RF[0-9]{2}[A-Z0-9]*")

ReferenceKind = Literal["national", "rf", "none", "invalid"]


class InvalidReference(ValueError):
    """A reference that must not be printed on an invoice nor trusted for matching.

    Carries the reason in English and Finnish because the message is shown to association
    treasurers as well as logged.
    """

    def __init__(self, reference: str, reason: str, reason_fi: str) -> None:
        self.reference = reference
        self.reason = reason
        self.reason_fi = reason_fi
        super().__init__(f"invalid reference {reference!r}: {reason} / {reason_fi}")


@dataclass(frozen=True)
class NormalisedReference:
    """Outcome of :func:`normalise`; ``national`` is the key used to match payments."""

    given: str
    compact: str
    kind: ReferenceKind
    valid: bool
    national: str | None
    reason: str | None = None


def _squeeze(ref: str | int) -> str:
    """Drop all whitespace (people copy references with spaces, tabs and NBSPs)."""
    return "".join(str(ref).split())


def _require_digits(given: str, digits: str) -> None:
    if not digits or not (digits.isascii() and digits.isdigit()):
        raise InvalidReference(given, "must contain only digits", "saa sisältää vain numeroita")


def national_check_digit(base: str) -> str:
    """Return the 7-3-1 check digit of ``base`` (digits only, weights applied from the right).

    Kept separate from :func:`make_national` so callers can show the expected digit when a
    typed reference is wrong.
    """
    digits = _squeeze(base)
    _require_digits(base, digits)
    total = sum(int(d) * _WEIGHTS[i % 3] for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def make_national(base: str | int) -> str:
    """Append the check digit to ``base`` (e.g. a member or invoice number).

    Leading zeros are dropped because banks and KTL files do not preserve them. Bases of
    3–19 digits are accepted; new invoice schemes should use ≥ 4 digits so that the result
    also meets the stricter bank reading of the minimum length (see the banking spec).
    """
    given = str(base)
    digits = _squeeze(given)
    _require_digits(given, digits)
    digits = digits.lstrip("0")
    min_base, max_base = NATIONAL_MIN_LENGTH - 1, NATIONAL_MAX_LENGTH - 1
    if not min_base <= len(digits) <= max_base:
        raise InvalidReference(
            given,
            f"base must have {min_base}–{max_base} significant digits",
            f"perusosassa oltava {min_base}–{max_base} merkitsevää numeroa",
        )
    return digits + national_check_digit(digits)


def validate_national(ref: str | int) -> str:
    """Return the compact form (no spaces, no leading zeros) or raise :class:`InvalidReference`.

    Leading zeros are stripped before the length check because KTL pads references to 20.
    """
    given = str(ref)
    digits = _squeeze(given)
    _require_digits(given, digits)
    digits = digits.lstrip("0")
    if len(digits) < NATIONAL_MIN_LENGTH:
        raise InvalidReference(
            given,
            f"too short (min {NATIONAL_MIN_LENGTH} digits)",
            f"liian lyhyt (väh. {NATIONAL_MIN_LENGTH} numeroa)",
        )
    if len(digits) > NATIONAL_MAX_LENGTH:
        raise InvalidReference(
            given,
            f"too long (max {NATIONAL_MAX_LENGTH} digits)",
            f"liian pitkä (enint. {NATIONAL_MAX_LENGTH} numeroa)",
        )
    expected = national_check_digit(digits[:-1])
    if digits[-1] != expected:
        raise InvalidReference(
            given,
            f"wrong check digit (expected {expected})",
            f"väärä tarkiste (pitäisi olla {expected})",
        )
    return digits


def is_valid_national(ref: str | int) -> bool:
    """True when ``ref`` is a valid Finnish national reference (spaces/leading zeros allowed)."""
    try:
        validate_national(ref)
    except InvalidReference:
        return False
    return True


def format_national(ref: str | int) -> str:
    """Printed form: groups of five counted from the right (``202 40015``).

    Validates first so that a wrong reference can never reach an invoice.
    """
    digits = validate_national(ref)
    head = len(digits) % 5
    groups = [digits[:head]] if head else []
    groups += [digits[i : i + 5] for i in range(head, len(digits), 5)]
    return " ".join(groups)


def make_rf(body: str) -> str:
    """Build an ISO 11649 reference ``RF`` + check digits + ``body`` (1–21 letters/digits).

    python-stdnum validates RF but cannot create one, hence this helper.
    """
    compact = _squeeze(body).upper()
    if not 1 <= len(compact) <= _RF_BODY_MAX_LENGTH or not set(compact) <= _RF_BODY_CHARS:
        raise InvalidReference(
            body,
            f"RF body must be 1–{_RF_BODY_MAX_LENGTH} letters A–Z or digits",
            f"RF-viitteen runko: 1–{_RF_BODY_MAX_LENGTH} kirjainta A–Z tai numeroa",
        )
    return "RF" + mod_97_10.calc_check_digits(compact + "RF") + compact


def validate_rf(ref: str) -> str:
    """Return the compact RF reference or raise :class:`InvalidReference`."""
    compact = _squeeze(ref).upper()
    body = compact[4:]
    if not _RF_SHAPE.fullmatch(compact):
        raise InvalidReference(
            ref,
            "not an RF reference (RF + 2 check digits + letters/digits)",
            "ei RF-viite (RF + 2 tarkistenumeroa + kirjaimia/numeroita)",
        )
    try:
        return iso11649.validate(compact)
    except ValidationError as exc:
        if len(compact) < 5 or len(compact) > 25:
            raise InvalidReference(
                ref, "wrong length (5–25 characters)", "väärä pituus (5–25 merkkiä)"
            ) from exc
        expected = make_rf(body)[2:4]
        raise InvalidReference(
            ref,
            f"wrong check digits (expected RF{expected})",
            f"väärät tarkistenumerot (pitäisi olla RF{expected})",
        ) from exc


def is_valid_rf(ref: str) -> bool:
    """True when ``ref`` is a valid ISO 11649 reference (any body, not only Finnish)."""
    try:
        validate_rf(ref)
    except InvalidReference:
        return False
    return True


def format_rf(ref: str) -> str:
    """Printed form: groups of four (``RF09 8685 1625 9619 897``); validates first."""
    return iso11649.format(validate_rf(ref))


def national_to_rf(ref: str | int) -> str:
    """RF form of a Finnish national reference: ``RF`` + check digits + the national reference."""
    return make_rf(validate_national(ref))


def rf_to_national(rf: str) -> str | None:
    """National reference inside a Finnish RF, or None when the body is not one.

    Banks convert RF back to the national form, so payments are matched on this value. An
    invalid RF raises :class:`InvalidReference`; a valid foreign/alphanumeric RF gives None.
    """
    body = validate_rf(rf)[4:]
    try:
        return validate_national(body)
    except InvalidReference:
        return None


def validate_reference(ref: str) -> NormalisedReference:
    """Classify a national or RF reference, raising :class:`InvalidReference` when unusable.

    For references we are about to print or send (barcode, QR, payment file), where a
    wrong or missing reference must stop the operation rather than be queued.
    """
    compact = _squeeze(ref).upper()
    if not compact:
        raise InvalidReference(ref, "reference is missing", "viite puuttuu")
    if compact.startswith("RF"):
        rf = validate_rf(compact)
        return NormalisedReference(ref, rf, "rf", True, rf_to_national(rf))
    national = validate_national(compact)
    return NormalisedReference(ref, national, "national", True, national)


def normalise(ref: str | None) -> NormalisedReference:
    """Classify a reference from any source without raising.

    Bank files and user input may hold garbage; callers route ``valid=False`` to manual
    handling instead of crashing an import. ``national`` is set for national references and
    for RF references built from one, so both forms match the same invoice.
    """
    given = "" if ref is None else ref
    compact = _squeeze(given).upper()
    if not compact:
        return NormalisedReference(given, "", "none", False, None)
    try:
        return validate_reference(given)
    except InvalidReference as exc:
        if compact.isascii() and compact.isdigit():
            compact = compact.lstrip("0") or "0"
        return NormalisedReference(given, compact, "invalid", False, None, exc.reason)
