"""KTL incoming reference payments ("saapuvat viitemaksut", .SVM/.KTL).

Layout (banking spec c): 90-character records, batches of header 0, payment records 3
(or obsolete 5, read the same way) and totals record 9. Slices are 0-based: spec position
p is index p-1. A file that fails any check is refused whole, because importing half of
it would leave the ledger out of step with the bank.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from membook_app.banking.statement import (
    BankFileError,
    BankPayment,
    KtlBatch,
    ParsedFile,
    Totals,
    build_payment,
    classify_reference,
    format_amount,
    gc_paused,
    iban_from_fi_bban,
)
from membook_app.banking.statement import (
    build_payment_unchecked as _trusted_payment,
)

RECORD_LENGTH = 90
_PAYMENT_KINDS = ("3", "5")
FORMAT = "KTL"

# SFS 4017 (7-bit Finnish ASCII) puts Ä Ö Å ä ö å on these code points; some old
# files still use it, and a bank file never has brackets in a payer name.
_SFS4017 = str.maketrans("[\\]{|}", "ÄÖÅäöå")

# Numeric fields of a payment record as (name, slice), checked only after the fast
# whole-record test fails, to name the culprit.
_PAYMENT_NUMERIC = (
    ("account", slice(1, 15)),
    ("booking_date", slice(15, 21)),
    ("payment_date", slice(21, 27)),
    ("reference", slice(43, 63)),
    ("amount", slice(77, 87)),
)
_TOTALS_NUMERIC = (
    ("count", slice(1, 7)),
    ("amount", slice(7, 18)),
    ("correction_count", slice(18, 24)),
    ("correction_amount", slice(24, 35)),
    ("failed_count", slice(35, 41)),
    ("failed_amount", slice(41, 52)),
)


def _fail(line: int, field: str, detail: str) -> BankFileError:
    return BankFileError(detail, format=FORMAT, line=line, field=field)


def _is_digits(text: str) -> bool:
    return text.isdigit() and text.isascii()


def _check_digits(record: str, line: int, specs: tuple[tuple[str, slice], ...]) -> None:
    for name, where in specs:
        value = record[where]
        if not _is_digits(value):
            raise _fail(
                line, name, f"{value!r} is not a number (positions {where.start + 1}–{where.stop})"
            )


def _decode(data: bytes) -> str:
    """Text of the file: ISO-8859-1 as specified, UTF-8 when a re-saved file is valid UTF-8.

    A Latin-1 name such as "MÄKINEN" is not valid UTF-8, so trying UTF-8 first does not
    misread a correct file, while it keeps an editor-converted file at 90 characters a line.
    """
    if data.isascii():
        return data.decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


class _Dates:
    """YYMMDD → date with a per-file cache: a file holds thousands of records, few dates."""

    def __init__(self) -> None:
        self.cache: dict[str, date] = {}

    def get(self, text: str, line: int, field: str) -> date:
        value = self.cache.get(text)
        if value is None:
            try:
                if not _is_digits(text):
                    raise ValueError(text)
                value = date(2000 + int(text[0:2]), int(text[2:4]), int(text[4:6]))
            except ValueError:
                raise _fail(line, field, f"{text!r} is not a valid date YYMMDD") from None
            self.cache[text] = value
        return value


class _Batch:
    """Running state of the batch being read, checked against its totals record."""

    def __init__(self, record: str, line: int, dates: _Dates) -> None:
        created_date = dates.get(record[1:7], line, "creation_date")
        hhmm = record[7:11]
        if not _is_digits(hhmm) or int(hhmm[:2]) > 23 or int(hhmm[2:]) > 59:
            raise _fail(line, "creation_time", f"{hhmm!r} is not a valid time HHMM")
        if not _is_digits(record[11:13]):
            raise _fail(line, "bank_id", f"{record[11:13]!r} is not a number")
        if record[22] != "1":
            raise _fail(line, "currency", f"code {record[22]!r} is not 1 (EUR)")
        self.line = line
        self.created = datetime.combine(created_date, datetime.min.time()).replace(
            hour=int(hhmm[:2]), minute=int(hhmm[2:])
        )
        self.bank_id = record[11:13]
        self.service_id = record[13:22].strip()
        self.count = self.amount = self.correction_count = self.correction_amount = 0

    def close(self, record: str, line: int) -> KtlBatch:
        _check_digits(record, line, _TOTALS_NUMERIC)
        expected = (
            ("count", int(record[1:7]), self.count, str),
            ("amount", int(record[7:18]), self.amount, format_amount),
            ("correction_count", int(record[18:24]), self.correction_count, str),
            ("correction_amount", int(record[24:35]), self.correction_amount, format_amount),
        )
        for field, stated, computed, show in expected:
            if stated != computed:
                raise _fail(
                    line,
                    field,
                    f"totals record says {show(stated)}, the batch from line {self.line} "
                    f"adds up to {show(computed)}",
                )
        return KtlBatch(
            self.created,
            self.bank_id,
            self.service_id,
            self.count,
            self.amount,
            self.correction_count,
            self.correction_amount,
        )


def _records(text: str) -> list[str]:
    """Records without line ends; tolerates LF-only files and a trailing EOF/blank line.

    Splits on "\n" only: ``str.splitlines`` would also break on U+0085, an ordinary byte
    in a Latin-1 file. A lone CR stays in the record and fails the length check.
    """
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and lines[-1].strip(" \r\x1a") == "":
        lines.pop()
    return lines


def parse_ktl(data: bytes, sink: list[BankPayment] | None = None) -> ParsedFile:
    """Parse and fully validate a KTL file; raise :class:`BankFileError` on any defect.

    Checks (spec c): 90-character records, order 0 (3|5)* 9 per batch, digits in numeric
    fields, real dates, currency 1, and per batch the totals record against the records:
    normal payments vs. positions 2–18, corrections vs. 19–35. Corrections come out as
    negative debits so that summing payments gives the net credited amount. Runs with the
    cyclic garbage collector paused (:func:`gc_paused`). Payments are appended to `sink`
    as they are read (see :func:`~membook_app.banking.statement.parse_bank_file`).
    """
    with gc_paused():
        return _parse_ktl(data, [] if sink is None else sink)


def _parse_ktl(data: bytes, payments: list[BankPayment]) -> ParsedFile:
    records = _records(_decode(data))
    if not records:
        raise BankFileError("file is empty", format=FORMAT)
    translate_names = data.isascii() and any(ch in data for ch in b"[\\]{|}")
    dates = _Dates()
    date_cache = dates.cache
    ibans: dict[str, str] = {}
    append = payments.append
    batches: list[KtlBatch] = []
    batch: _Batch | None = None
    # The payment records are nearly all of a file, so they are read inline with the
    # fast checks first; any record that fails one goes through _payment, which names
    # the field. The field order of the dict is BankPayment's.
    for line, record in enumerate(records, start=1):
        kind = record[0] if record else ""
        if (
            kind in _PAYMENT_KINDS
            and batch is not None
            and len(record) == RECORD_LENGTH
            and record[75] == "1"
            and (correction := record[87]) in "01"
            and (digits := record[1:27] + record[43:63] + record[77:87]).isdigit()
            and digits.isascii()
            and (archive_id := record[27:43].strip())
            and (booking := date_cache.get(record[15:21])) is not None
            and (paid := date_cache.get(record[21:27])) is not None
        ):
            cents = int(record[77:87])
            if correction == "1":
                batch.correction_count += 1
                batch.correction_amount += cents
                cents, reversal = -cents, True
            else:
                batch.count += 1
                batch.amount += cents
                reversal = False
            append(_trusted_payment(_fields(record, line, ibans, translate_names, archive_id,
                                            booking, paid, cents, reversal)))
            continue
        if len(record) != RECORD_LENGTH:
            raise _fail(
                line, "record", f"is {len(record)} characters long, expected {RECORD_LENGTH}"
            )
        if kind in _PAYMENT_KINDS and batch is not None:
            # A first-seen date or a defect: the field-by-field path checks and names it.
            values = _payment(record, line, dates, ibans, translate_names)
            if values["reversal"]:
                batch.correction_count += 1
                batch.correction_amount -= values["amount_cents"]
            else:
                batch.count += 1
                batch.amount += values["amount_cents"]
            append(build_payment(values))
        elif kind == "0" and batch is None:
            batch = _Batch(record, line, dates)
        elif kind == "9" and batch is not None:
            batches.append(batch.close(record, line))
            batch = None
        else:
            expected = "'3', '5' or '9'" if batch else "'0' (batch header)"
            raise _fail(line, "record_type", f"{kind!r} found where {expected} must come")
    if batch is not None:
        raise _fail(
            len(records),
            "record_type",
            f"batch starting on line {batch.line} has no totals record '9'",
        )
    result = tuple(payments)
    accounts = {p.account_iban for p in result}
    return ParsedFile(
        format="ktl",
        version=None,
        payments=result,
        totals=Totals.of(result),
        account_iban=accounts.pop() if len(accounts) == 1 else None,
        entry_count=len(result),
        created=batches[0].created,
        ktl_batches=tuple(batches),
    )


def _payment(
    record: str, line: int, dates: _Dates, ibans: dict[str, str], translate_names: bool
) -> dict[str, Any]:
    """Field values of one payment record (3/5), validated."""
    if not _is_digits(record[1:27] + record[43:63] + record[77:87]):
        _check_digits(record, line, _PAYMENT_NUMERIC)
    if record[75] != "1":
        raise _fail(line, "currency", f"code {record[75]!r} is not 1 (EUR)")
    correction = record[87]
    if correction not in ("0", "1"):
        raise _fail(line, "correction", f"code {correction!r} is not 0 or 1")
    archive_id = record[27:43].strip()
    if not archive_id:
        raise _fail(line, "archive_id", "is blank; it is needed to recognise duplicates")
    cents = int(record[77:87])
    reversal = correction == "1"
    return _fields(record, line, ibans, translate_names, archive_id,
                   dates.get(record[15:21], line, "booking_date"),
                   dates.get(record[21:27], line, "payment_date"),
                   -cents if reversal else cents, reversal)


def _fields(record: str, line: int, ibans: dict[str, str], translate_names: bool,
            archive_id: str, booking: date | None, paid: date | None, signed_cents: int,
            reversal: bool) -> dict[str, Any]:
    """BankPayment's fields (in its order) from a payment record whose numbers, dates and
    codes are already checked — by the inline fast path or by `_payment`."""
    bban = record[1:15]
    iban = ibans.get(bban)
    if iban is None:
        iban = ibans[bban] = iban_from_fi_bban(bban)
    reference = record[43:63].lstrip("0") or None
    kind, valid, national = classify_reference(reference)
    name = record[63:75].rstrip()
    if translate_names:
        name = name.translate(_SFS4017)
    return {
        "archive_id": archive_id,
        "entry_archive_id": None,
        "account_iban": iban,
        "booking_date": booking,
        "value_date": paid,
        "amount_cents": signed_cents,
        "entry_amount_cents": None,
        "currency": "EUR",
        "credit_debit": "DBIT" if reversal else "CRDT",
        "reversal": reversal,
        "reference": reference,
        "references": (reference,) if reference else (),
        "reference_kind": kind,
        "reference_valid": valid,
        "national_reference": national,
        "payer_name": name or None,
        "payer_iban": None,
        "creditor_name": None,
        "message": None,
        "end_to_end_id": None,
        "batched_entry": False,
        "bank_tx_code": None,
        "bank_tx_prtry": record[0],
        "return_reason": None,
        "name_source": record[76].strip() or None,
        "channel": record[88].strip() or None,
        "line": line,
        "element": None,
    }
