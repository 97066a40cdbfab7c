"""Import one parsed bank file (KTL, camt.054, camt.053) as payments, then match them.

The whole file is one transaction: the `BankImport` row, every new `Payment`, the
allocations that matching writes and the refreshed invoice states commit together or
not at all. Two guards keep money from being booked twice:

* the file's SHA-256 (`BankImport.file_hash`, unique): the same file again imports nothing;
* the bank archive id (`Payment(source="bank", source_id)`, unique): a payment that
  arrives in two files (camt.054 and the camt.053 batch, or KTL and camt.054 for the same
  account) is booked once — the second occurrence is counted as a duplicate.

Writes are bulk: payments are staged, a chunk of the file at a time, with one COPY on
PostgreSQL or one executemany on SQLite into a temporary table; matching
(`membook_app.payments.matching`) is set-based SQL that writes each payment once, with its
final status. The file is parsed on a background thread meanwhile (`BackgroundParse`); a
file that turns out to be bad raises `BankFileError` and the transaction is rolled back,
so nothing of it stays.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from membook_app.accounts.permissions import Actor
from membook_app.audit import record
from membook_app.banking.background import LEAST, MOST, BackgroundParse
from membook_app.banking.references import normalise
from membook_app.banking.statement import (
    BankFileError,
    BankPayment,
)
from membook_app.db import is_sqlite
from membook_app.errors import PermissionDenied
from membook_app.formatting import HELSINKI, money, number
from membook_app.payments.matching import (
    STAGE_COLUMNS,
    MatchCounts,
    create_stage,
    drop_booked,
    finish_import,
    lock_money,
    match_staged,
)
from models import BankImport, utcnow

log = logging.getLogger(__name__)
SOURCE = "bank"
CHUNK = 5000  # values per lookup statement on SQLite
# Payment statuses set at insert time; matching.py moves "new" on.
NEW = "new"
# Free-text repair: digit runs (allowing the printed groups "202 40015") and RF references.
_DIGIT_RUN = re.compile(r"\d(?:[\d ]*\d)?")
_RF_TOKEN = re.compile(r"RF\s?\d{2}(?:\s?[0-9A-Z]){1,21}", re.IGNORECASE)
_MIN_TEXT_REFERENCE = 5


@dataclass(frozen=True)
class ImportResult:
    """What one import did; `duplicate_file` means the file had been imported before."""

    import_id: int | None
    filename: str
    format: str
    duplicate_file: bool
    payment_count: int = 0
    duplicate_count: int = 0
    matched_count: int = 0
    unmatched_count: int = 0
    credit_cents: int = 0
    debit_cents: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for the CLI, the inbox log and the upload page, Finnish first."""
        if self.duplicate_file:
            return (f"{self.filename}: tiedosto on jo tuotu / file already imported "
                    f"(tuonti / import #{self.import_id})")
        new, dup = number(self.payment_count), number(self.duplicate_count)
        matched, unmatched = number(self.matched_count), number(self.unmatched_count)
        credit, debit = money(self.credit_cents), money(self.debit_cents)
        return (f"{self.filename} ({self.format}): {new} uutta maksua, {dup} jo tuotua, "
                f"{matched} kohdistettu, {unmatched} kohdistamatta; hyvitykset {credit}, "
                f"veloitukset {debit} / {new} new payments, {dup} duplicates, "
                f"{matched} matched, {unmatched} unmatched; credit {credit}, debit {debit}")


def helsinki_today() -> date:
    """Banking dates are Europe/Helsinki calendar dates."""
    return datetime.now(HELSINKI).date()


def require_importer(actor: Actor | None) -> None:
    """Bank files are the escrow account's statements: the operator imports them.

    `actor=None` is the system (the daily inbox task, the CLI run by the operator).
    """
    if actor is not None and not actor.is_operator:
        raise PermissionDenied("Vain operaattori voi tuoda pankkitiedostoja",
                               "Only the operator may import bank files")


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _text_candidates(*texts: str | None) -> list[tuple[str, str]]:
    """Valid national references written in free text (or in a broken reference field).

    Returns (national reference, rule) in the order found; RF bodies first because an
    RF token is unambiguous. Short numbers (years, amounts) are skipped.
    """
    found: list[tuple[str, str]] = []
    for text in texts:
        if not text:
            continue
        for token in _RF_TOKEN.findall(text):
            norm = normalise(token)
            if norm.national:
                found.append((norm.national, "free_text"))
            else:
                body = "".join(token.split())[4:]
                if body.isdigit() and normalise(body).national:
                    found.append((normalise(body).national or "", "rf_body"))
        for run in _DIGIT_RUN.findall(text):
            pieces = [run.replace(" ", ""), *run.split()]
            for piece in dict.fromkeys(pieces):
                digits = piece.lstrip("0")
                if len(digits) < _MIN_TEXT_REFERENCE or len(digits) > 20:
                    continue
                norm = normalise(digits)
                if norm.kind == "national" and norm.national:
                    found.append((norm.national, "free_text"))
    return list(dict.fromkeys(found))


def _direct_rule(p: BankPayment) -> str:
    """How a payment whose own reference is valid was keyed: as given, RF, or zero-padded."""
    if p.reference_kind == "rf":
        return "rf"
    given = (p.reference or "").lstrip()
    return "leading_zeros" if given[:1] == "0" else "reference"


def _in_chunks(session: Session, sql: str, first: tuple[Any, ...], values: list[str]
               ) -> set[str]:
    """Run `sql` (ending in a list condition) for many values without SQLAlchemy's
    per-parameter expansion, which costs more than the query for 100,000 values.

    PostgreSQL: one array parameter (`= ANY(%s)`); SQLite: chunks of `?` placeholders.
    """
    if not values:
        return set()
    connection = session.connection()
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    found: set[str] = set()
    try:
        if is_sqlite(connection.engine):
            for start in range(0, len(values), CHUNK):
                chunk = values[start:start + CHUNK]
                cursor.execute(sql.format(list=", ".join("?" * len(chunk)),
                                          p="?"), (*first, *chunk))
                found.update(row[0] for row in cursor.fetchall())
        else:
            cursor.execute(sql.replace("IN ({list})", "= ANY(%s)").format(p="%s"),
                           (*first, values))
            found.update(row[0] for row in cursor.fetchall())
    finally:
        cursor.close()
    return found


def _existing_references(session: Session, refs: Iterable[str]) -> set[str]:
    return _in_chunks(session, "SELECT reference FROM invoice WHERE reference IN ({list})",
                      (), sorted(set(refs)))


# Paytrail's payouts to the escrow account: every member payment inside one was booked
# already when its callback arrived (docs/paytrail.md), so the sum is reconciled, never
# matched to invoices again nor queued for hand booking.
PSP_PAYERS = ("paytrail", "checkout finland")


def _is_psp_settlement(p: BankPayment) -> bool:
    """A credit from the payment service provider (by payer name)."""
    payer = (p.payer_name or "").strip().lower()
    return p.amount_cents > 0 and payer.startswith(PSP_PAYERS)


def _is_correction(p: BankPayment) -> bool:
    """A negative amount that undoes an incoming payment (KTL code 1, camt RvslInd, return)."""
    return p.amount_cents < 0 and (p.reversal or p.return_reason is not None)


class _Repair:
    """A payment whose reference is missing or broken but whose free text holds candidate
    references: which of them is an invoice's is asked of the database per chunk."""

    __slots__ = ("values", "candidates", "has_reference")

    def __init__(self, values: list[Any], candidates: list[tuple[str, str]],
                 has_reference: bool) -> None:
        self.values = values
        self.candidates = candidates
        self.has_reference = has_reference

    def resolve(self, known: set[str]) -> list[Any]:
        hit = next(((r, why) for r, why in self.candidates if r in known), None)
        if hit:
            self.values[_KEY], self.values[_RULE] = hit
        else:
            self.values[_STATUS] = "unmatched"
            self.values[_RULE] = "bad_reference" if self.has_reference else "no_reference"
        return self.values


# Staged columns (`matching.STAGE_COLUMNS` without the payment id, which the database
# assigns) with the file position `row_no` first; indexes of the ones a repair changes.
_STAGED = ("row_no", *(c for c in STAGE_COLUMNS if c != "id"))
_KEY, _STATUS, _RULE = (_STAGED.index(c) for c in ("national_reference", "status", "match_rule"))


class _Preparer:
    """Turns each parsed payment into its staging row: the archive id (or the file position
    when the bank gives none), duplicates within the file, the status and rule decided from
    the file alone, and the row as the database's bulk write takes it (on SQLite with dates
    as the text SQLAlchemy stores). Returns None for a duplicate, a `_Repair` when the free
    text must be checked against the invoices."""

    def __init__(self, import_id: int, digest: str, sqlite: bool) -> None:
        self.import_id = import_id
        self.prefix = digest[:40]
        self.sqlite = sqlite
        self.seen: set[str] = set()
        now = utcnow()
        self.now: Any = now.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now
        self.days: dict[date, str] = {}

    def __call__(self, p: BankPayment, index: int) -> Any:
        sid = p.archive_id or p.entry_archive_id or f"{self.prefix}:{index}"
        if sid in self.seen:
            return None
        self.seen.add(sid)
        key, rule, status = p.national_reference, None, NEW
        candidates: list[tuple[str, str]] = []
        amount = p.amount_cents
        if _is_psp_settlement(p):
            key, status, rule = None, "psp_settlement", "paytrail_settlement"
        elif amount > 0:
            if key:
                rule = _direct_rule(p)
            else:
                candidates = _text_candidates(
                    p.reference if p.reference_valid is False else None, p.message)
                if not candidates:
                    status = "unmatched"
                    rule = "bad_reference" if p.reference else "no_reference"
        elif _is_correction(p):
            rule = "correction"
        else:
            status, rule = "outgoing", "debit"
        message = p.message
        values = [index, SOURCE, sid[:64], self.import_id, self.day(p.booking_date),
                  self.day(p.value_date), amount, (p.currency or "EUR")[:3],
                  p.reference and p.reference[:40], key, p.payer_name and p.payer_name[:140],
                  p.payer_iban and p.payer_iban[:34], message[:500] if message else None,
                  status, rule, self.now]
        if candidates:
            return _Repair(values, candidates, bool(p.reference))
        return tuple(values)

    def day(self, value: date | None) -> Any:
        if value is None or not self.sqlite:
            return value
        text = self.days.get(value)
        if text is None:
            text = self.days[value] = value.isoformat()
        return text


def _stage(session: Session, preparer: _Preparer, chunk: list[Any]) -> int:
    """Write one chunk into the temporary staging table and drop the archive ids that are
    booked already; returns how many were dropped (duplicates of earlier files, or of
    earlier chunks of this one). In-file repeats (None) count as duplicates too.

    COPY on PostgreSQL, executemany on SQLite: the staging table has no indexes but the
    row number and no foreign keys, so this is the cheapest write there is.
    """
    create_stage(session)
    rows: list[Any] = []
    repairs: list[_Repair] = []
    repeats = 0
    for item in chunk:
        if item is None:
            repeats += 1
        elif type(item) is _Repair:
            repairs.append(item)
        else:
            rows.append(item)
    if repairs:
        known = _existing_references(
            session, (ref for r in repairs for ref, _ in r.candidates))
        rows += [tuple(r.resolve(known)) for r in repairs]
    if not rows:
        return repeats
    connection = session.connection()
    raw = connection.connection.driver_connection
    columns = ", ".join(_STAGED)
    cursor = raw.cursor()  # type: ignore[union-attr]
    try:
        if preparer.sqlite:
            cursor.executemany(f"INSERT INTO membook_stage ({columns}) "
                               f"VALUES ({', '.join('?' * len(_STAGED))})", rows)
        else:
            with cursor.copy(f"COPY membook_stage ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    finally:
        cursor.close()
    return repeats + drop_booked(session)


def import_bank_file(session: Session, actor: Actor | None, data: bytes, filename: str, *,
                     source: str = "upload", today: date | None = None,
                     least: int = LEAST, most: int = MOST,
                     progress: Callable[[int], None] | None = None) -> ImportResult:
    """Parse and import a bank file in the caller's transaction.

    The file is parsed on a background thread while the payments read so far are written
    and matched, a chunk at a time (`BackgroundParse`): for a big file the parse and the
    database's work overlap instead of following each other. Raises `BankFileError` when
    the file is refused — possibly after some chunks were written, which the caller's
    transaction then rolls back, so nothing of a refused file stays; the caller records
    the refusal with `record_refusal` in its own transaction. `least` and `most`: the
    payments a chunk waits for and the most it takes. `progress(n)` is called after each
    chunk with the number of the file's payments written so far (for the upload page;
    it runs in the importing thread).
    """
    require_importer(actor)
    digest = file_hash(data)
    lock_money(session)
    previous = session.exec(select(BankImport).where(BankImport.file_hash == digest)).first()
    if previous is not None:
        return ImportResult(previous.id, filename, previous.format, duplicate_file=True)
    bank_import = BankImport(file_hash=digest, filename=filename[:255], format="",
                             source=source[:20],
                             imported_by_user_id=actor.user_id if actor else None)
    session.add(bank_import)
    session.flush()
    assert bank_import.id is not None
    day = today or helsinki_today()
    preparer = _Preparer(bank_import.id, digest, is_sqlite(session.connection().engine))
    touched: set[int] = set()
    duplicates = 0
    index = 0
    # chunks() keeps the cyclic garbage collector paused until the last chunk is done:
    # 100,000 rows on top of the parsed payments would otherwise be walked again and
    # again (~15 % of the import's CPU time), and nothing here forms a cycle.
    parse = BackgroundParse(data, filename, least=least, most=most)
    for chunk in parse.chunks():
        rows = [preparer(p, i) for i, p in enumerate(chunk, start=index)]
        index += len(chunk)
        duplicates += _stage(session, preparer, rows)
        touched |= match_staged(session, day)
        if progress:
            progress(index)
    counts: MatchCounts = finish_import(session, bank_import.id, day, touched)
    whole = parse.parsed
    # A camt.053 statement's last balance block is what escrow reconciliation compares with.
    balance = whole.balances[-1] if whole.balances else None
    file_format = (whole.version or whole.format)[:30]
    session.execute(
        sa.update(BankImport.__table__)  # type: ignore[arg-type]
        .where(BankImport.__table__.c.id == bank_import.id)  # type: ignore[attr-defined]
        .values(format=file_format, payment_count=counts.payments, duplicate_count=duplicates,
                matched_count=counts.matched, unmatched_count=counts.unmatched,
                credit_cents=counts.credit_cents, debit_cents=counts.debit_cents,
                statement_iban=balance.account_iban if balance else None,
                opening_balance_cents=balance.opening_cents if balance else None,
                closing_balance_cents=balance.closing_cents if balance else None,
                closing_balance_date=balance.closing_date if balance else None,
                message=_log_message(counts, duplicates))
    )
    result = ImportResult(bank_import.id, filename, file_format, False, counts.payments,
                          duplicates, counts.matched, counts.unmatched, counts.credit_cents,
                          counts.debit_cents)
    record(session, actor, "bank_import.imported", "bankimport", bank_import.id,
           after={**result.as_dict(), "source": source, "file_hash": digest})
    return result


def _log_message(counts: MatchCounts, duplicates: int) -> str:
    """The import log's line for an import, Finnish first."""
    figures = [number(n) for n in (counts.matched, counts.reversals, counts.unmatched,
                                   counts.outgoing, duplicates)]
    fi = ("kohdistettu", "oikaisua", "kohdistamatta", "lähtevää", "jo tuotua")
    en = ("matched", "corrections", "unmatched", "outgoing", "duplicates")
    return (", ".join(f"{n} {w}" for n, w in zip(figures, fi, strict=True)) + " / "
            + ", ".join(f"{n} {w}" for n, w in zip(figures, en, strict=True)))


def record_refusal(session: Session, actor: Actor | None, filename: str, source: str,
                   error: BankFileError | str) -> None:
    """Audit a refused file (bad format, totals mismatch) so the import log shows it."""
    record(session, actor, "bank_import.refused", "bank_file", None,
           after={"filename": filename[:255], "source": source, "message": str(error)[:1000]})


@dataclass(frozen=True)
class ImportLogRow:
    """One line of the import log: an import, or a refused / repeated file."""

    at: datetime
    filename: str
    outcome: str  # imported | refused | duplicate
    source: str
    format: str
    who: str
    payment_count: int
    duplicate_count: int
    matched_count: int
    unmatched_count: int
    credit_cents: int
    debit_cents: int
    message: str


def import_log(session: Session, actor: Actor, *, limit: int = 50) -> list[ImportLogRow]:
    """The latest imports and refusals, newest first (the operator's page)."""
    from models import AuditEvent, User

    require_importer(actor)
    if actor is None:
        raise PermissionDenied()
    rows: list[ImportLogRow] = []
    imports = session.exec(
        select(BankImport, User.email).join(User, User.id == BankImport.imported_by_user_id,
                                            isouter=True)
        .order_by(BankImport.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    for imp, email in imports:
        rows.append(ImportLogRow(imp.created_at, imp.filename, "imported", imp.source,
                                 imp.format, email or "järjestelmä / system", imp.payment_count,
                                 imp.duplicate_count, imp.matched_count, imp.unmatched_count,
                                 imp.credit_cents, imp.debit_cents, imp.message or ""))
    events = session.exec(
        select(AuditEvent).where(AuditEvent.action.in_(  # type: ignore[attr-defined]
            ("bank_import.refused", "bank_import.duplicate")))
        .order_by(AuditEvent.id.desc()).limit(limit)).all()  # type: ignore[union-attr]
    for event in events:
        after = event.after or {}
        rows.append(ImportLogRow(
            event.at, str(after.get("filename", "")),
            "refused" if event.action.endswith("refused") else "duplicate",
            str(after.get("source", "")), "", event.actor_label, 0, 0, 0, 0, 0, 0,
            str(after.get("message", ""))))
    rows.sort(key=lambda r: r.at, reverse=True)
    return rows[:limit]


def run_import(actor: Actor | None, data: bytes, filename: str, *, source: str,
               today: date | None = None,
               progress: Callable[[int], None] | None = None) -> ImportResult:
    """The doors' entry point (upload page, CLI, inbox): import in one transaction and
    record a refused or repeated file in another, so the log shows every attempt.

    Raises `BankFileError` after recording it; any other exception during the import is
    recorded and raised as a `BankFileError` too (chained), so every door shows and logs
    it as a refused file. `progress` as for `import_bank_file`.
    """
    from membook_app.db import session_scope

    require_importer(actor)
    try:
        with session_scope() as session:
            result = import_bank_file(session, actor, data, filename, source=source,
                                      today=today, progress=progress)
    except BankFileError as exc:
        with session_scope() as session:
            record_refusal(session, actor, filename, source, exc)
        raise
    except Exception as exc:
        # A defect of ours or the database's: the transaction rolled back, so the file is
        # refused like a bad one, and the log says so instead of the attempt vanishing.
        log.exception("bank import of %s failed", filename)
        refusal = BankFileError(
            "odottamaton virhe tuonnissa, mitään ei tuotu / unexpected error while "
            f"importing, nothing was imported ({type(exc).__name__}: {exc})"[:900],
            format="bank file", file=filename)
        with session_scope() as session:
            record_refusal(session, actor, filename, source, refusal)
        raise refusal from exc
    if result.duplicate_file:
        with session_scope() as session:
            record(session, actor, "bank_import.duplicate", "bankimport", result.import_id,
                   after={"filename": filename[:255], "source": source,
                          "message": result.summary()})
    return result
