"""A file imported a chunk at a time, while it is still being parsed, books exactly what the
whole file would: same-invoice payments, corrections and duplicates across chunk borders,
and a file found bad after chunks were written leaves nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from membook_app.banking.references import make_national
from membook_app.banking.statement import BankFileError
from membook_app.db import get_engine, session_scope
from membook_app.demo.bank_files import BankLine, ktl_file
from membook_app.payments.bank_import import import_bank_file, run_import
from models import Allocation, AuditEvent, BankImport
from tests.db.test_bank_import_support import (
    TODAY,
    balance,
    invoice_state,
    make_world,
    money_snapshot,
    payment_by_source,
    sample,
)

KTL = "ktl_reference_payments.txt"
BOOKED = date(2026, 11, 26)
ACCOUNT = "12345600000785"


def _ktl(lines: list[BankLine]) -> bytes:
    return ktl_file(lines, account=ACCOUNT, created=datetime(2026, 11, 27, 6, 0))


def test_sample_in_chunks_of_one_books_what_the_whole_file_does(db_url: str) -> None:
    """KTL #4 corrects #3 three chunks later; #3 is reversed as in the one-chunk import."""
    world = make_world(db_url)
    with session_scope(db_url) as s:
        result = import_bank_file(s, None, sample(KTL), KTL, today=TODAY, least=1, most=1)
    assert (result.payment_count, result.duplicate_count) == (7, 0)
    assert (result.matched_count, result.unmatched_count) == (5, 1)
    assert (result.credit_cents, result.debit_cents) == (124049, 5000)
    inv = world.invoices
    with session_scope(db_url) as s:
        assert invoice_state(s, inv["20260011"]) == ("paid", 3500)
        assert invoice_state(s, inv["20240015"]) == ("open", 0)
        p3 = payment_by_source(s, "261126593497A003")
        p4 = payment_by_source(s, "261126593497K004")
        assert (p3.status, p4.status, p4.reverses_payment_id) == ("reversed", "reversal", p3.id)
        log = s.exec(select(BankImport)).one()
        assert (log.format, log.payment_count, log.matched_count) == ("ktl", 7, 5)


def test_second_payment_to_an_invoice_in_a_later_chunk_becomes_credit(db_url: str) -> None:
    world = make_world(db_url, {"20260011": ("virtanen", "a", 3500),
                                "20260024": ("niemi", "a", 2000)})
    lines = [BankLine("2611265934970001", "20260011", 2000, "VIRTANEN MATTI", BOOKED),
             BankLine("2611265934970002", "20260024", 2000, "NIEMI PEKKA", BOOKED),
             BankLine("2611265934970003", "20260011", 2000, "VIRTANEN MATTI", BOOKED),
             BankLine("2611265934970004", "20260011", 1000, "VIRTANEN MATTI", BOOKED)]
    with session_scope(db_url) as s:
        result = import_bank_file(s, None, _ktl(lines), "two-rounds.txt", today=TODAY,
                                  least=1, most=1)
    assert (result.payment_count, result.matched_count, result.unmatched_count) == (4, 4, 0)
    with session_scope(db_url) as s:
        # 20.00 + 15.00 of the second payment fill the invoice; 5.00 and the whole 10.00
        # after it go to the payer's balance.
        assert invoice_state(s, world.invoices["20260011"]) == ("paid", 3500)
        assert balance(s, world.people["virtanen"]) == 500 + 1000
        third = payment_by_source(s, "2611265934970003")
        fourth = payment_by_source(s, "2611265934970004")
        assert (third.status, fourth.status) == ("overpaid", "credit")
        rules = sorted(a.rule or "" for a in s.exec(select(Allocation).where(
            col(Allocation.payment_id).in_([third.id, fourth.id]))))
        assert rules == ["overpayment", "paid_invoice", "reference"]


def test_archive_id_repeated_in_a_later_chunk_is_booked_once(db_url: str) -> None:
    world = make_world(db_url, {"20260011": ("virtanen", "a", 3500)})
    line = BankLine("2611265934970001", "20260011", 3500, "VIRTANEN MATTI", BOOKED)
    other = BankLine("2611265934970002", make_national("4242"), 100, "X", BOOKED)
    with session_scope(db_url) as s:
        result = import_bank_file(s, None, _ktl([line, other, line]), "twice.txt",
                                  today=TODAY, least=1, most=1)
    assert (result.payment_count, result.duplicate_count) == (2, 1)
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20260011"]) == ("paid", 3500)
        assert balance(s, world.people["virtanen"]) == 0


def test_file_found_bad_after_chunks_were_written_leaves_nothing(db_url: str) -> None:
    """The KTL totals record comes last: chunks of the first payments are written while the
    parser is still reading, then the bad totals roll all of them back."""
    world = make_world(db_url, {"20260011": ("virtanen", "a", 3500)})
    before = money_snapshot(db_url)
    lines = [BankLine(f"26112659{i:08d}", "20260011", 100, "VIRTANEN MATTI", BOOKED)
             for i in range(20_000)]
    records = _ktl(lines).split(b"\r\n")
    records[-2] = records[-2][:10] + b"9" + records[-2][11:]  # totals no longer add up
    written: list[str] = []

    def count_payment_inserts(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("INSERT INTO payment"):
            written.append(statement)

    engine = get_engine(db_url)
    sa.event.listen(engine, "before_cursor_execute", count_payment_inserts)
    try:
        with pytest.raises(BankFileError) as caught:
            with session_scope(db_url) as s:
                import_bank_file(s, None, b"\r\n".join(records), "late-error.txt",
                                 today=TODAY, least=200, most=200)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count_payment_inserts)
    assert written, "no chunk was written before the error: the test proves nothing"
    assert "late-error.txt" in str(caught.value) and "line 20002" in str(caught.value)
    assert money_snapshot(db_url) == before
    with session_scope(db_url) as s:
        assert s.exec(select(BankImport)).all() == []
        assert invoice_state(s, world.invoices["20260011"]) == ("open", 0)


def test_refused_file_is_logged_by_the_doors_entry_point(db_url: str) -> None:
    make_world(db_url)
    records = sample(KTL).split(b"\r\n")
    records[-2] = records[-2][:10] + b"9" + records[-2][11:]
    with pytest.raises(BankFileError):
        run_import(None, b"\r\n".join(records), "refused.txt", source="upload")
    with session_scope(db_url) as s:
        assert s.exec(select(BankImport)).all() == []
        refused = s.exec(select(AuditEvent).where(
            AuditEvent.action == "bank_import.refused")).one()
        assert refused.after and refused.after["filename"] == "refused.txt"


def test_progress_counts_the_payments_written_after_each_chunk(db_url: str) -> None:
    make_world(db_url)
    seen: list[int] = []
    with session_scope(db_url) as s:
        result = import_bank_file(s, None, sample(KTL), KTL, today=TODAY, least=3, most=3,
                                  progress=seen.append)
    assert seen == [3, 6, 7]
    assert result.payment_count == 7
