"""EPC QR code ("SEPA QR", EPC069-12 version 002) for invoices.

Mobile banking apps scan it to prefill a SEPA credit transfer. segno draws the symbol but
validates nothing beyond field lengths (no IBAN or RF check digits, a formatted IBAN would
be copied with its spaces), so inputs are validated and compacted here first.
"""

from __future__ import annotations

import io
from decimal import Decimal

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from segno.helpers import make_epc_qr

from .references import national_to_rf, validate_reference

MIN_AMOUNT_CENTS = 1
MAX_AMOUNT_CENTS = 99_999_999_999  # 999 999 999.99 €
_UTF8, _LATIN1 = 1, 2  # EPC character set codes


def _fields(
    name: str,
    iban: str,
    amount_cents: int,
    reference: str | None,
    text: str | None,
    bic: str | None,
) -> dict[str, str]:
    """Validated, compacted field values shared by the payload and the QR symbol."""
    name = name.strip()
    if not 0 < len(name) <= 70:
        raise ValueError(f"beneficiary name must be 1–70 characters, got {len(name)}")
    try:
        iban = IBAN(iban).compact
        bic = str(BIC(bic)) if bic else ""
    except SchwiftyException as exc:
        raise ValueError(f"invalid IBAN or BIC: {exc}") from exc
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise ValueError(f"amount must be an integer of cents, got {amount_cents!r}")
    if not MIN_AMOUNT_CENTS <= amount_cents <= MAX_AMOUNT_CENTS:
        raise ValueError("EPC QR amount must be between 0.01 and 999 999 999.99 €")
    text = (text or "").strip()
    if bool(reference) == bool(text):
        raise ValueError("give either a reference or a text, not both and not neither")
    rf = ""
    if reference:
        ref = validate_reference(reference)
        rf = ref.compact if ref.kind == "rf" else national_to_rf(ref.compact)
    if len(text) > 140:
        raise ValueError(f"remittance text must be at most 140 characters, got {len(text)}")
    return {"name": name, "iban": iban, "bic": bic, "reference": rf, "text": text}


def _euros(amount_cents: int) -> str:
    """``35``, ``120.5``, ``0.01``: shortest exact decimal, as segno writes it."""
    return f"{amount_cents // 100}.{amount_cents % 100:02d}".rstrip("0").rstrip(".")


def _charset(fields: dict[str, str]) -> int:
    """ISO-8859-1 when every character fits (smaller symbol), otherwise UTF-8."""
    try:
        "".join(fields.values()).encode("iso-8859-1")
    except UnicodeEncodeError:
        return _UTF8
    return _LATIN1


def epc_qr_payload(
    name: str,
    iban: str,
    amount_cents: int,
    reference: str | None = None,
    text: str | None = None,
    bic: str | None = None,
) -> str:
    """The text encoded in the QR symbol, for display, logging and tests.

    A national reference is converted to its RF form because the EPC structured field is
    defined for ISO 11649. Exactly one of ``reference`` and ``text`` is required.
    """
    f = _fields(name, iban, amount_cents, reference, text, bic)
    lines = [
        "BCD",
        "002",
        str(_charset(f)),
        "SCT",
        f["bic"],
        f["name"],
        f["iban"],
        "EUR" + _euros(amount_cents),
        "",  # purpose code: not used for membership fees
        f["reference"],
    ]
    if f["text"]:
        lines.append(f["text"])
    return "\n".join(lines)


def epc_qr_svg(
    name: str,
    iban: str,
    amount_cents: int,
    reference: str | None = None,
    text: str | None = None,
    bic: str | None = None,
) -> str:
    """The EPC QR code as standalone SVG text (no XML declaration, so it embeds in a data URI).

    Encodes the same payload as :func:`epc_qr_payload`; white background so it scans on
    dark pages too.
    """
    f = _fields(name, iban, amount_cents, reference, text, bic)
    qr = make_epc_qr(
        name=f["name"],
        iban=f["iban"],
        amount=Decimal(amount_cents).scaleb(-2),
        text=f["text"] or None,
        reference=f["reference"] or None,
        bic=f["bic"] or None,
        encoding=_charset(f),
    )
    buffer = io.BytesIO()
    qr.save(buffer, kind="svg", xmldecl=False, nl=False, scale=4, light="white")
    return buffer.getvalue().decode("utf-8")
