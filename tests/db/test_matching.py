"""Matching rules on both databases: partial, over-payment, paid invoice, repairs, order."""

from __future__ import annotations

from sqlmodel import col, select

from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from models import Allocation, Invoice
from tests.db.test_bank_import_support import (
    TODAY,
    balance,
    camt054,
    invoice_state,
    make_invoice,
    make_world,
    payment_by_source,
)


def _import(url: str, data: bytes, name: str = "test.xml"):  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return import_bank_file(s, None, data, name, today=TODAY)


def test_partial_over_and_paid_invoice(db_url: str) -> None:
    world = make_world(db_url, {"20260011": ("virtanen", "a", 5000),
                                "100000010": ("makinen", "a", 3000),
                                "20240015": ("korhonen", "a", 2000)})
    inv, people = world.invoices, world.people
    _import(db_url, camt054([
        {"archive": "P1", "cents": 3500, "ref": "20260011"},   # less than due
        {"archive": "P2", "cents": 3500, "ref": "100000010"},  # 5.00 more than due
        {"archive": "P3", "cents": 2000, "ref": "20240015"},   # exact
    ]))
    with session_scope(db_url) as s:
        assert invoice_state(s, inv["20260011"]) == ("partly_paid", 3500)
        assert payment_by_source(s, "P1").status == "matched"
        assert invoice_state(s, inv["100000010"]) == ("paid", 3000)
        p2 = payment_by_source(s, "P2")
        assert p2.status == "overpaid"
        credit = s.exec(select(Allocation).where(Allocation.payment_id == p2.id,
                                                 col(Allocation.invoice_id).is_(None))).one()
        assert (credit.person_id, credit.amount_cents, credit.rule) == (
            people["makinen"], 500, "overpayment")
        assert balance(s, people["makinen"]) == 500
        assert invoice_state(s, inv["20240015"]) == ("paid", 2000)

    # The same invoice paid again, in a later file: all of it is credit on the payer.
    _import(db_url, camt054([{"archive": "P4", "cents": 2000, "ref": "20240015"}],
                            msg_id="TEST-0002"))
    with session_scope(db_url) as s:
        p4 = payment_by_source(s, "P4")
        assert (p4.status, p4.match_rule) == ("credit", "reference")
        rules = s.exec(select(Allocation.rule).where(Allocation.payment_id == p4.id)).all()
        assert rules == ["paid_invoice"]
        assert invoice_state(s, inv["20240015"]) == ("paid", 2000)
        assert balance(s, people["korhonen"]) == 2000


def test_two_payments_in_one_file_fill_the_invoice_in_order(db_url: str) -> None:
    world = make_world(db_url, {"20260011": ("virtanen", "a", 3500)})
    _import(db_url, camt054([{"archive": "A1", "cents": 2000, "ref": "20260011"},
                             {"archive": "A2", "cents": 2000, "ref": "20260011"}]))
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20260011"]) == ("paid", 3500)
        assert payment_by_source(s, "A1").status == "matched"
        assert payment_by_source(s, "A2").status == "overpaid"
        assert balance(s, world.people["virtanen"]) == 500


def test_payment_to_credited_invoice_is_credit(db_url: str) -> None:
    world = make_world(db_url, {"20260011": ("virtanen", "a", 3500)})
    with session_scope(db_url) as s:
        invoice = s.get(Invoice, world.invoices["20260011"])
        assert invoice is not None
        invoice.status, invoice.credited_cents = "credited", 3500
        s.add(invoice)
    _import(db_url, camt054([{"archive": "C1", "cents": 3500, "ref": "20260011"}]))
    with session_scope(db_url) as s:
        p = payment_by_source(s, "C1")
        assert p.status == "credit"
        assert s.exec(select(Allocation.rule).where(Allocation.payment_id == p.id)).all() == [
            "credited_invoice"]
        assert balance(s, world.people["virtanen"]) == 3500


def test_repairs_leading_zeros_rf_and_free_text(db_url: str) -> None:
    world = make_world(db_url, {"20260011": ("virtanen", "a", 3500),
                                "100000010": ("makinen", "a", 12050),
                                "20240015": ("korhonen", "a", 5000),
                                "5550001237": ("esimerkki", "b", 1500)})
    _import(db_url, camt054([
        {"archive": "R1", "cents": 3500, "ref": "0000020260011"},
        {"archive": "R2", "cents": 12050, "ref": "RF69100000010"},
        {"archive": "R3", "cents": 5000, "ustrd": "Jäsenmaksu 2026 viite 202 40015"},
        {"archive": "R4", "cents": 1500, "ref": "Viite 5550001237"},
        {"archive": "R5", "cents": 1500, "ustrd": "Jäsenmaksu 2026"},
        {"archive": "R6", "cents": 1500, "ref": "20260095"},  # valid, but no such invoice
    ]))
    with session_scope(db_url) as s:
        rules = {sid: (payment_by_source(s, sid).status, payment_by_source(s, sid).match_rule)
                 for sid in ("R1", "R2", "R3", "R4", "R5", "R6")}
        assert rules == {
            "R1": ("matched", "leading_zeros"),
            "R2": ("matched", "rf"),
            "R3": ("matched", "free_text"),
            "R4": ("matched", "free_text"),
            "R5": ("unmatched", "no_reference"),
            "R6": ("unmatched", "unknown_reference"),
        }
        for ref in ("20260011", "100000010", "20240015", "5550001237"):
            assert invoice_state(s, world.invoices[ref])[0] == "paid", ref
        allocation_rules = dict(s.exec(select(Allocation.invoice_id, Allocation.rule)).all())
        assert allocation_rules[world.invoices["20240015"]] == "free_text"


def test_reversal_of_overpayment_takes_back_the_credit(db_url: str) -> None:
    world = make_world(db_url, {"20260011": ("virtanen", "a", 3000)})
    _import(db_url, camt054([{"archive": "O1", "cents": 3500, "ref": "20260011"}]))
    _import(db_url, camt054([{"archive": "O2", "cents": 3500, "ref": "20260011",
                              "debit": True, "reversal": True}], msg_id="TEST-0002"))
    with session_scope(db_url) as s:
        assert invoice_state(s, world.invoices["20260011"]) == ("open", 0)
        assert balance(s, world.people["virtanen"]) == 0
        assert payment_by_source(s, "O1").status == "reversed"
        # A second identical correction finds nothing left to reverse.
    _import(db_url, camt054([{"archive": "O3", "cents": 3500, "ref": "20260011",
                              "debit": True, "reversal": True}], msg_id="TEST-0003"))
    with session_scope(db_url) as s:
        assert (payment_by_source(s, "O3").status,
                payment_by_source(s, "O3").match_rule) == ("unmatched", "no_original")


def test_new_invoice_for_new_reference_scheme(db_url: str) -> None:
    """References of the billing scheme (prefix 1, six digits) match like any other."""
    from membook_app.billing.references import invoice_reference
    world = make_world(db_url, {})
    ref = invoice_reference(987654)
    invoice_id = make_invoice(db_url, world.tree.club_a, world.people["salo"], ref, 4200)
    _import(db_url, camt054([{"archive": "S1", "cents": 4200, "ref": ref}]))
    with session_scope(db_url) as s:
        assert invoice_state(s, invoice_id) == ("paid", 4200)
