"""Every sample bank file imported against matching invoices, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from membook_app.banking.statement import BankFileError
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from models import Allocation, AuditEvent, BankImport, Payment
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
CAMT054 = "camt054_001_02_reference_payments.xml"
CAMT054_08 = "camt054_001_08_reference_payments.xml"
CAMT053 = "camt053_001_02_statement.xml"


def _import(url: str, data: bytes, name: str, source: str = "upload"):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return import_bank_file(s, None, data, name, source=source, today=TODAY)


def test_ktl_sample(db_url: str) -> None:
    world = make_world(db_url)
    result = _import(db_url, sample(KTL), KTL)
    assert (result.payment_count, result.duplicate_count) == (7, 0)
    assert (result.matched_count, result.unmatched_count) == (5, 1)
    assert (result.credit_cents, result.debit_cents) == (124049, 5000)
    inv = world.invoices
    with session_scope(db_url) as s:
        assert invoice_state(s, inv["20260011"]) == ("paid", 3500)
        assert invoice_state(s, inv["100000010"]) == ("paid", 12050)
        assert invoice_state(s, inv["12345678901234567894"]) == ("paid", 99999)
        assert invoice_state(s, inv["5550001237"]) == ("paid", 1500)
        # #4 reverses #3: the invoice is back to unpaid, both allocations stay as history.
        assert invoice_state(s, inv["20240015"]) == ("open", 0)
        p3 = payment_by_source(s, "261126593497A003")
        p4 = payment_by_source(s, "261126593497K004")
        assert (p3.status, p4.status, p4.reverses_payment_id) == ("reversed", "reversal", p3.id)
        allocations = s.exec(select(Allocation).where(Allocation.invoice_id == inv["20240015"])
                             .order_by(col(Allocation.id))).all()
        assert [a.amount_cents for a in allocations] == [5000, -5000]
        assert allocations[1].reverses_allocation_id == allocations[0].id
        assert allocations[1].payment_id == p4.id
        p5 = payment_by_source(s, "261126593497A005")
        assert (p5.status, p5.match_rule, p5.national_reference) == (
            "unmatched", "bad_reference", None)
        p1 = payment_by_source(s, "261126593497A001")
        assert (p1.status, p1.match_rule, p1.amount_cents) == ("matched", "reference", 3500)
        log = s.exec(select(BankImport)).one()
        assert (log.format, log.payment_count, log.matched_count, log.unmatched_count) == (
            "ktl", 7, 5, 1)
        assert s.exec(select(AuditEvent).where(
            AuditEvent.action == "bank_import.imported")).one().object_id == log.id


def test_camt054_02_sample(db_url: str) -> None:
    world = make_world(db_url)
    result = _import(db_url, sample(CAMT054), CAMT054)
    assert (result.payment_count, result.matched_count, result.unmatched_count) == (5, 3, 2)
    assert (result.credit_cents, result.debit_cents) == (117049, 5000)
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["100000010"]) == ("paid", 12050)
        assert payment_by_source(s, "20261126593497A00002").match_rule == "rf"
        no_ref = payment_by_source(s, "20261126593497A00003")
        assert (no_ref.status, no_ref.match_rule) == ("unmatched", "no_reference")
        assert no_ref.message == "Jäsenmaksu 2026 / Liisa Korhonen"
        # A reversal with nothing to reverse waits for a person.
        lone = payment_by_source(s, "20261126593497K00004")
        assert (lone.status, lone.match_rule, lone.amount_cents) == (
            "unmatched", "no_original", -5000)
        assert invoice_state(s, world.invoices["20240015"]) == ("open", 0)


def test_camt054_08_sample(db_url: str) -> None:
    world = make_world(db_url)
    result = _import(db_url, sample(CAMT054_08), CAMT054_08)
    assert (result.payment_count, result.matched_count, result.unmatched_count) == (2, 2, 0)
    assert result.format == "camt.054.001.08"
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20260037"]) == ("paid", 4000)
        assert invoice_state(s, world.invoices["20260040"]) == ("paid", 6000)
        assert payment_by_source(s, "20261127593497A00012").match_rule == "rf"


def test_camt053_sample(db_url: str) -> None:
    world = make_world(db_url)
    result = _import(db_url, sample(CAMT053), CAMT053)
    assert (result.payment_count, result.matched_count, result.unmatched_count) == (6, 3, 1)
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20260011"]) == ("paid", 3500)
        statuses = {p.source_id: (p.status, p.match_rule) for p in s.exec(select(Payment))}
        assert statuses["20261126593497TS0002"] == ("unmatched", "no_reference")
        assert statuses["20261126593497LS0003"] == ("outgoing", "debit")
        assert statuses["20261126593497PM0004"] == ("outgoing", "debit")


def test_same_file_twice_imports_nothing(db_url: str) -> None:
    make_world(db_url)
    first = _import(db_url, sample(KTL), KTL)
    before = money_snapshot(db_url)
    again = _import(db_url, sample(KTL), "renamed.txt")
    assert again.duplicate_file and again.import_id == first.import_id
    assert again.payment_count == 0
    assert money_snapshot(db_url) == before


def test_same_payment_in_camt054_and_camt053_booked_once(db_url: str) -> None:
    world = make_world(db_url)
    _import(db_url, sample(CAMT054), CAMT054)
    statement = _import(db_url, sample(CAMT053), CAMT053)
    # The three batched reference payments are already booked from the notification.
    assert (statement.duplicate_count, statement.payment_count) == (3, 3)
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20260011"]) == ("paid", 3500)
        assert balance(s, world.people["virtanen"]) == 0
        assert len(s.exec(select(Payment).where(
            Payment.source_id == "20261126593497A00001")).all()) == 1


def test_same_payment_in_ktl_and_camt054_booked_once(db_url: str) -> None:
    """The bank's archive id is the key, whatever the format it arrives in."""
    world = make_world(db_url)
    _import(db_url, sample(KTL), KTL)
    camt = sample(CAMT054).replace(b"20261126593497A00001", b"261126593497A001")
    result = _import(db_url, camt, "same-day.xml")
    assert result.duplicate_count == 1 and result.payment_count == 4
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20260011"]) == ("paid", 3500)
        assert balance(s, world.people["virtanen"]) == 0


def test_bad_file_refused_whole(db_url: str) -> None:
    make_world(db_url)
    before = money_snapshot(db_url)
    lines = sample(KTL).split(b"\r\n")
    lines[-2] = lines[-2][:10] + b"9" + lines[-2][11:]  # totals record no longer adds up
    with pytest.raises(BankFileError) as caught:
        _import(db_url, b"\r\n".join(lines), "broken.txt")
    assert "broken.txt" in str(caught.value)
    assert money_snapshot(db_url) == before
    with pytest.raises(BankFileError):
        _import(db_url, sample(CAMT054)[:-40], "cut.xml")
    assert money_snapshot(db_url) == before


def test_correction_in_later_file_reverses_earlier_payment(db_url: str) -> None:
    """camt.054 #4 (DBIT + RvslInd, 50.00, ref 20240015) undoes KTL #3 imported before."""
    world = make_world(db_url)
    ktl = sample(KTL).split(b"\r\n")
    # KTL without its correction record (#4): totals adjusted to no corrections.
    without_correction = [line for line in ktl if b"261126593497K004" not in line]
    totals = without_correction[-2]
    without_correction[-2] = totals[:18] + b"000000" + b"00000000000" + totals[35:]
    _import(db_url, b"\r\n".join(without_correction), "ktl-no-correction.txt")
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20240015"]) == ("paid", 5000)
    _import(db_url, sample(CAMT054), CAMT054)
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20240015"]) == ("open", 0)
        reversal = payment_by_source(s, "20261126593497K00004")
        assert reversal.status == "reversal"
        assert reversal.reverses_payment_id == payment_by_source(s, "261126593497A003").id
