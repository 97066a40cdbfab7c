"""Common result types for incoming bank payment files (KTL, camt.054, camt.053).

The importer matches payments to invoices and de-duplicates on archive ids without caring
which format the bank delivered, so every parser produces the same :class:`BankPayment`
and :class:`ParsedFile`. Money is integer cents throughout; amounts are signed so that a
debit, a return or a correction can simply be summed with the credits it cancels.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Any

from membook_app.banking.references import normalise


class BankFileError(ValueError):
    """A bank file that must be refused as a whole.

    Importing part of a file would leave the ledger inconsistent with the bank, so parsers
    raise this on the first problem and the caller imports nothing. The message names the
    format, the source line, the element path (XML) and the field so that a treasurer can
    tell the bank exactly what is wrong.
    """

    def __init__(
        self,
        detail: str,
        *,
        format: str,
        line: int | None = None,
        path: str | None = None,
        field: str | None = None,
        file: str = "",
    ) -> None:
        self.detail = detail
        self.format = format
        self.line = line
        self.path = path
        self.field = field
        self.file = file
        where = format if line is None else f"{format} line {line}"
        if path:
            where += f", {path}"
        if field:
            where += f", field {field}"
        prefix = f"{file}: " if file else ""
        super().__init__(f"{prefix}{where}: {detail}")

    def with_file(self, file: str) -> BankFileError:
        """Same error naming the uploaded file; parsers see only bytes, the caller the name."""
        return BankFileError(
            self.detail,
            format=self.format,
            line=self.line,
            path=self.path,
            field=self.field,
            file=file,
        )


@dataclass(frozen=True, kw_only=True)
class BankPayment:
    """One money movement on the collection account, as the importer needs it.

    ``amount_cents`` is negative for debits, returns and corrections (KTL correction code
    1, camt ``DBIT``). ``national_reference`` is the key for invoice matching: set only when
    the reference is a valid Finnish reference or a valid RF built from one. Fields that a
    format does not carry are None (e.g. ``message`` in KTL, ``name_source`` in camt).
    ``line`` (and for XML ``element``) point at the source record for follow-up questions.
    """

    archive_id: str | None
    entry_archive_id: str | None
    account_iban: str | None
    booking_date: date
    value_date: date | None
    amount_cents: int
    entry_amount_cents: int | None
    currency: str
    credit_debit: str
    reversal: bool
    reference: str | None
    references: tuple[str, ...]
    reference_kind: str
    reference_valid: bool | None
    national_reference: str | None
    payer_name: str | None
    payer_iban: str | None
    creditor_name: str | None
    message: str | None
    end_to_end_id: str | None
    batched_entry: bool
    bank_tx_code: str | None
    bank_tx_prtry: str | None
    return_reason: str | None
    name_source: str | None
    channel: str | None
    line: int
    element: str | None


_PAYMENT_FIELD_NAMES = tuple(f.name for f in fields(BankPayment))
_PAYMENT_FIELDS = frozenset(_PAYMENT_FIELD_NAMES)
_new = object.__new__


def build_payment(values: dict[str, Any]) -> BankPayment:
    """Create a :class:`BankPayment` from a fresh dict holding exactly all of its fields.

    The generated frozen ``__init__`` costs one ``object.__setattr__`` per field (~10 µs for
    28 fields here), which alone would exceed the parse budget for 100,000 payments, so the
    dict becomes the instance's attribute dict as is (callers must not reuse it). The key
    check keeps typos from creating stray attributes.
    """
    if values.keys() != _PAYMENT_FIELDS:
        raise TypeError(f"BankPayment fields mismatch: {sorted(values.keys() ^ _PAYMENT_FIELDS)}")
    payment = _new(BankPayment)
    object.__setattr__(payment, "__dict__", values)
    return payment


@contextmanager
def gc_paused() -> Iterator[None]:
    """Suspend the cyclic garbage collector while a parser (or the importer) builds its
    payments (or their rows).

    A 100,000-payment file allocates millions of acyclic objects (payment dicts, strings,
    lxml proxies), and every few hundred allocations would trigger a collection that walks
    the growing list of payments: 30–40 % of the KTL parse time. Nothing a parser creates
    forms a reference cycle, so reference counting frees it all; the previous state is
    restored even when the file is refused.
    """
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_payment_unchecked(values: dict[str, Any]) -> BankPayment:
    """:func:`build_payment` without the key check, for parsers' hot loops.

    Only for a dict display written out with every field of :class:`BankPayment` (the
    parsers' tests compare such payments field by field with the checked path).
    """
    payment = _new(BankPayment)
    object.__setattr__(payment, "__dict__", values)
    return payment


@dataclass(frozen=True)
class Totals:
    """Payment-level sums; ``debit_cents`` is a positive magnitude, net = credit − debit."""

    count: int
    credit_cents: int
    debit_cents: int
    net_cents: int

    @classmethod
    def of(cls, payments: tuple[BankPayment, ...]) -> Totals:
        """Totals recomputed from the payments, so they always agree with what is imported."""
        credit = sum(p.amount_cents for p in payments if p.amount_cents > 0)
        debit = -sum(p.amount_cents for p in payments if p.amount_cents < 0)
        return cls(len(payments), credit, debit, credit - debit)


@dataclass(frozen=True)
class StatementBalances:
    """Opening and closing booked balance of one camt.053 statement (signed cents)."""

    account_iban: str | None
    opening_cents: int
    opening_date: date | None
    closing_cents: int
    closing_date: date | None


@dataclass(frozen=True)
class KtlBatch:
    """Header and verified totals record of one KTL batch (0 … 9 group)."""

    created: datetime
    bank_id: str
    service_id: str
    count: int
    amount_cents: int
    correction_count: int
    correction_cents: int


@dataclass(frozen=True)
class ParsedFile:
    """A whole bank file that passed every check; nothing in it has been imported yet."""

    format: str
    version: str | None
    payments: tuple[BankPayment, ...]
    totals: Totals
    account_iban: str | None
    entry_count: int
    message_id: str | None = None
    created: datetime | None = None
    balances: tuple[StatementBalances, ...] = ()
    ktl_batches: tuple[KtlBatch, ...] = ()


_ASCII_DIGIT_VALUES = bytes.maketrans(b"0123456789", bytes(range(10)))


def national_check_ok(digits: str) -> bool:
    """7-3-1 check of ASCII digits without leading zeros (same rule as references.py, which
    costs 10–50× more per call: the unmatched queue checks thousands of typo variants)."""
    if not 4 <= len(digits) <= 20:
        return False
    base = digits[-2::-1].encode().translate(_ASCII_DIGIT_VALUES)
    total = 7 * sum(base[0::3]) + 3 * sum(base[1::3]) + sum(base[2::3])
    return str(-total % 10) == digits[-1]


ReferenceInfo = tuple[str, bool | None, str | None]


def classify_reference(ref: str | None) -> ReferenceInfo:
    """Return ``(kind, valid, national_reference)`` for a reference read from a bank file.

    ``kind`` describes the form the payer used ('national' for digits, 'rf', 'none', or
    'invalid' for anything else) while ``valid`` tells whether its check digits hold, so a
    mistyped national reference is still shown as national and routed to manual handling.
    Plain digits and all-digit RF references (nearly every payment) are checked inline
    because :func:`references.normalise` costs 9–50 µs per call; the rest go through it.
    """
    if not ref:
        return "none", None, None
    if ref.isascii() and ref.isdigit():
        digits = ref.lstrip("0")
        ok = national_check_ok(digits)
        return "national", ok, digits if ok else None
    if ref.startswith("RF") and 5 <= len(ref) <= 25 and ref.isascii() and ref[2:].isdigit():
        if int(ref[4:] + "2715" + ref[2:4]) % 97 != 1:
            return "rf", False, None
        body = ref[4:].lstrip("0")
        return "rf", True, body if national_check_ok(body) else None
    norm = normalise(ref)
    if norm.kind == "invalid":
        if norm.compact.isascii() and norm.compact.isdigit():
            return "national", False, None
        return ("rf" if norm.compact.startswith("RF") else "invalid"), False, None
    if norm.kind == "none":
        return "none", None, None
    return norm.kind, norm.valid, norm.national


def iban_from_fi_bban(bban: str) -> str:
    """Finnish IBAN for a 14-digit machine-format BBAN (KTL carries only the BBAN)."""
    check = 98 - int(bban + "151800") % 97
    return f"FI{check:02d}{bban}"


def format_amount(cents: int) -> str:
    """Decimal text of signed cents (``-50.00``) for messages and tables, never via float."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


def parse_bank_file(data: bytes, filename: str = "",
                    sink: list[BankPayment] | None = None) -> ParsedFile:
    """Detect the format from the content and parse it.

    Users upload whatever their bank gave them, often with a misleading extension, so the
    filename is used only in error messages: XML (camt.053/.054) is recognised by its root
    namespace, KTL by a first record that starts with '0' and is 90 characters long.

    With `sink`, each payment is appended to that list as soon as it is read, so another
    thread can start importing the first payments while the rest is still being parsed
    (:class:`~membook_app.banking.background.BackgroundParse`). The file is verified only
    once the whole result is returned: payments seen in the sink before that are not yet
    known to belong to a valid file.
    """
    # Imported here because both parsers import the types defined above.
    from membook_app.banking.camt import parse_camt
    from membook_app.banking.ktl import parse_ktl

    first = data[:200].split(b"\n", 1)[0].rstrip(b"\r")
    if data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        parser = parse_camt
    elif first.startswith(b"0") and len(first) == 90:
        parser = parse_ktl
    else:
        raise BankFileError(
            "unrecognised content: expected camt.053/camt.054 XML, or KTL whose first record "
            f"starts with '0' and is 90 characters (got {len(first)})",
            format="bank file",
            line=1,
            file=filename,
        )
    try:
        return parser(data, sink)
    except BankFileError as exc:
        raise exc.with_file(filename) from None


def _json_value(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def to_json_dict(parsed: ParsedFile) -> dict[str, Any]:
    """Plain-JSON view (``format``, ``payments``, ``totals``) for the CLI and API clients.

    Dates become YYYY-MM-DD strings and amounts stay integer cents, so nothing is lost to
    float rounding on the other side.
    """
    totals = parsed.totals
    return {
        "format": parsed.format,
        "payments": [
            {name: _json_value(getattr(p, name)) for name in _PAYMENT_FIELD_NAMES}
            for p in parsed.payments
        ],
        "totals": {
            "count": totals.count,
            "credit_cents": totals.credit_cents,
            "debit_cents": totals.debit_cents,
            "net_cents": totals.net_cents,
        },
    }
