"""Settlement runs on both databases: the tree split, fees, reversals, carry-over, the
payout file, idempotency and a crash in the middle of a run."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from lxml import etree
from sqlmodel import select

from membook_app.banking.pain001 import validate_pain001
from membook_app.banking.references import is_valid_rf, rf_to_national
from membook_app.db import session_scope
from membook_app.errors import ValidationError
from membook_app.settlements import runs
from membook_app.settlements.runs import (
    approve_run,
    compute_shares,
    create_run,
    discard_run,
    preview_settlement,
)
from models import (
    InvoiceLine,
    Organization,
    Payment,
    Settlement,
    SettlementLine,
    SettlementRun,
    utcnow,
)
from tests.db.settlement_support import (
    FEES,
    IBANS,
    correct,
    make_invoice,
    make_org_tree,
    money_balance,
    pay,
    received_on_invoices,
    settlement_of,
    standard_invoice,
)

NS = {"03": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03",
      "09": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}


def _create(url: str, cut_off=None) -> int:  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return create_run(s, None, cut_off).id  # type: ignore[return-value]


def _approve(url: str, run_id: int, **kw) -> bytes:  # type: ignore[no-untyped-def]
    with session_scope(url) as s:
        return approve_run(s, None, run_id, **kw)


def _shares(url: str) -> dict[int, runs.OrgShare]:
    with session_scope(url) as s:
        return {sh.organization_id: sh for sh in compute_shares(s, utcnow())}


def _assert_balanced(url: str) -> None:
    with session_scope(url) as s:
        payouts, fees, carried, unsettled = money_balance(s)
        assert payouts + fees + carried + unsettled == received_on_invoices(s)


def test_full_payment_gives_each_level_its_line_and_fee(db_url: str) -> None:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)  # club 30,00, district 15,00, federation 10,00
    pay(db_url, [(ref, 5500)])
    shares = _shares(db_url)
    assert {o: (s.payment_count, s.gross_cents, s.fee_cents, s.payout_cents)
            for o, s in shares.items()} == {
        w.club: (1, 3000, FEES["club"], 3000 - FEES["club"]),
        w.district: (1, 1500, FEES["district"], 1500 - FEES["district"]),
        w.federation: (1, 1000, FEES["federation"], 1000 - FEES["federation"]),
    }
    run_id = _create(db_url)
    with session_scope(db_url) as s:
        run = s.get(SettlementRun, run_id)
        assert run is not None
        assert (run.status, run.organization_count, run.payout_count, run.gross_cents) == (
            "draft", 3, 3, 5500)
        for org in (w.club, w.district, w.federation):
            st = settlement_of(s, run_id, org)
            assert is_valid_rf(st.reference)
            assert rf_to_national(st.reference) is not None
            assert st.iban == IBANS[{w.club: "club", w.district: "district",
                                     w.federation: "federation"}[org]]
        assert len(s.exec(select(SettlementLine)).all()) == 3
    # Nothing is left for the next run.
    assert _shares(db_url) == {}
    _assert_balanced(db_url)


def test_partial_payments_split_in_proportion_and_add_up(db_url: str) -> None:
    w = make_org_tree(db_url)
    _, ref = make_invoice(w, [(w.club, 1), (w.district, 1), (w.federation, 1)])
    pay(db_url, [(ref, 1)])  # one cent over three equal lines: the first line's org
    shares = _shares(db_url)
    assert {o: s.gross_cents for o, s in shares.items()} == {w.club: 1}
    _, ref2 = standard_invoice(w)
    pay(db_url, [(ref2, 1001)])  # 1001 × 30/55 = 546.0, 273.0, 182.0 (largest remainder)
    with session_scope(db_url) as s:
        gross = {sh.organization_id: sh.gross_cents for sh in compute_shares(s, utcnow())}
    assert gross == {w.club: 1 + 546, w.district: 273, w.federation: 182}
    assert sum(gross.values()) == 1002
    _assert_balanced(db_url)


def test_over_payment_settles_only_the_invoice_part(db_url: str) -> None:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 6000)])  # 5,00 € over: payer credit stays in escrow
    shares = _shares(db_url)
    assert sum(s.gross_cents for s in shares.values()) == 5500
    _assert_balanced(db_url)


def test_reversal_after_settlement_is_taken_off_next_week(db_url: str) -> None:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    _, ref2 = standard_invoice(w)
    pay(db_url, [(ref, 5500), (ref2, 5500)])
    first = _create(db_url)
    _approve(db_url, first)
    correct(db_url, ref, 5500)  # the bank returns the first payment
    shares = _shares(db_url)
    assert {o: (s.gross_cents, s.reversal_cents, s.fee_cents) for o, s in shares.items()} == {
        w.club: (0, 3000, 0), w.district: (0, 1500, 0), w.federation: (0, 1000, 0)}
    second = _create(db_url)
    with session_scope(db_url) as s:
        club = settlement_of(s, second, w.club)
        assert (club.status, club.net_cents, club.payout_cents) == ("carried", -3000, 0)
    _approve(db_url, second)
    # The carried negative comes off the next payout.
    _, ref3 = standard_invoice(w, club=5000)
    pay(db_url, [(ref3, 7500)])
    shares = _shares(db_url)
    assert shares[w.club].carried_in_cents == -3000
    assert shares[w.club].net_cents == 5000 - FEES["club"] - 3000
    assert shares[w.club].payout_cents == 5000 - FEES["club"] - 3000
    third = _create(db_url)
    _approve(db_url, third)
    with session_scope(db_url) as s:
        # District and federation got back exactly what was reversed, less this week's fee.
        assert runs.carried_balances(s) == {w.district: -FEES["district"],
                                             w.federation: -FEES["federation"]}
    _assert_balanced(db_url)


def test_reversal_in_the_same_run_cancels_out_and_keeps_the_fee(db_url: str) -> None:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    correct(db_url, ref, 5500)
    shares = _shares(db_url)
    # Gross and reversal cancel; the fee for the processed payment is not refunded.
    assert shares[w.club].gross_cents == shares[w.club].reversal_cents == 3000
    assert shares[w.club].net_cents == -FEES["club"]
    _create(db_url)
    _assert_balanced(db_url)


def test_fee_once_per_payment_and_organisation(db_url: str) -> None:
    w = make_org_tree(db_url)
    a, ref_a = standard_invoice(w)
    b, ref_b = standard_invoice(w)
    pay(db_url, [{"ref": "", "cents": 11000, "ustrd": "kaksi laskua"}])
    from membook_app.payments.unmatched import split_payment
    with session_scope(db_url) as s:
        payment = s.exec(select(Payment).where(Payment.status == "unmatched")).one()
        operator = _operator(s)
        split_payment(s, operator, payment.id, [(a, 5500), (b, 5500)])  # type: ignore[arg-type]
    shares = _shares(db_url)
    assert {o: (s.payment_count, s.fee_cents) for o, s in shares.items()} == {
        w.club: (1, FEES["club"]), w.district: (1, FEES["district"]),
        w.federation: (1, FEES["federation"])}


def _operator(s):  # type: ignore[no-untyped-def]
    from membook_app.accounts.permissions import load_actor
    from membook_app.accounts.users import get_or_create_user
    return load_actor(s, get_or_create_user(s, None, "operaattori@example.fi", is_operator=True))


def test_credit_note_changes_the_weights(db_url: str) -> None:
    from membook_app.billing.invoices import create_credit_note
    w = make_org_tree(db_url)
    inv, ref = standard_invoice(w)
    with session_scope(db_url) as s:
        district_line = s.exec(select(InvoiceLine).where(
            InvoiceLine.invoice_id == inv, InvoiceLine.organization_id == w.district)).one()
        create_credit_note(s, None, inv, amounts={district_line.position: 1500})  # type: ignore[dict-item]
    pay(db_url, [(ref, 4000)])  # what is left: club 30 + federation 10
    assert {o: s.gross_cents for o, s in _shares(db_url).items()} == {
        w.club: 3000, w.federation: 1000}


def test_payout_file_validates_for_both_versions(db_url: str) -> None:
    w = make_org_tree(db_url)
    for version in ("03", "09"):
        _, ref = standard_invoice(w)
        pay(db_url, [(ref, 5500)])
        run_id = _create(db_url)
        xml = _approve(db_url, run_id, version=version)
        validate_pain001(xml, f"pain.001.001.{version}")  # type: ignore[arg-type]
        doc = etree.fromstring(xml)
        ns = {"p": NS[version]}
        refs = doc.xpath("//p:CdtTrfTxInf/p:RmtInf/p:Strd/p:CdtrRefInf/p:Ref/text()",
                         namespaces=ns)
        issuers = doc.xpath("//p:CdtrRefInf/p:Tp/p:Issr/text()", namespaces=ns)
        with session_scope(db_url) as s:
            settled = s.exec(select(Settlement).where(Settlement.run_id == run_id)).all()
            assert sorted(refs) == sorted(st.reference for st in settled)
            assert issuers == ["ISO"] * 3
            amounts = sorted(doc.xpath("//p:CdtTrfTxInf/p:Amt/p:InstdAmt/text()",
                                       namespaces=ns))
            assert amounts == sorted(f"{st.payout_cents / 100:.2f}" for st in settled)
            assert doc.xpath("//p:DbtrAcct/p:Id/p:IBAN/text()", namespaces=ns) == [
                "FI2112345600000785"]
            run = s.get(SettlementRun, run_id)
            assert run is not None and run.status == "approved"
            assert run.execution_date is not None and run.execution_date >= date.today() - \
                timedelta(days=1)
        # Approving again hands back the very same file.
        assert _approve(db_url, run_id) == xml


def test_missing_iban_refuses_approval_naming_the_organisation(db_url: str) -> None:
    w = make_org_tree(db_url, club_iban=None)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    run_id = _create(db_url)
    with pytest.raises(ValidationError, match="Seura ry"):
        _approve(db_url, run_id)
    with session_scope(db_url) as s:
        run = s.get(SettlementRun, run_id)
        assert run is not None and run.status == "draft"
        club = s.get(Organization, w.club)
        assert club is not None
        club.iban = IBANS["club"]
        s.add(club)
    xml = _approve(db_url, run_id)
    assert IBANS["club"].encode() in xml


def test_idempotent_one_draft_and_discard(db_url: str) -> None:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    cut = utcnow()
    first = _create(db_url, cut)
    assert _create(db_url, cut) == first
    with pytest.raises(ValidationError, match="draft"):
        _create(db_url)
    with session_scope(db_url) as s:
        discard_run(s, None, first)
    with session_scope(db_url) as s:
        assert s.exec(select(SettlementLine)).all() == []
        assert preview_settlement(s, None).totals.gross_cents == 5500
    again = _create(db_url)
    _approve(db_url, again)
    with session_scope(db_url) as s, pytest.raises(ValidationError):
        discard_run(s, None, again)


def test_crash_in_the_middle_leaves_nothing_and_rerun_is_identical(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    w = make_org_tree(db_url)
    for _ in range(3):
        _, ref = standard_invoice(w)
        pay(db_url, [(ref, 4000)])
    cut = utcnow()
    # Every settlement gets the same reference: the second insert breaks the unique
    # constraint after the run row and the first settlement are already written.
    monkeypatch.setattr(runs, "settlement_reference", lambda run_id, org_id: "RF18539007547034")
    with pytest.raises(sa.exc.IntegrityError):
        _create(db_url, cut)
    with session_scope(db_url) as s:
        assert s.exec(select(SettlementRun)).all() == []
        assert s.exec(select(Settlement)).all() == []
        assert s.exec(select(SettlementLine)).all() == []
    monkeypatch.undo()
    run_id = _create(db_url, cut)
    with session_scope(db_url) as s:
        lines = sorted((ln.allocation_id, ln.organization_id, ln.amount_cents, ln.fee_cents)
                       for ln in s.exec(select(SettlementLine)).all())
        assert len(lines) == 9
        assert sum(ln[2] for ln in lines) == 12000
        assert s.exec(select(SettlementRun.id)).all() == [run_id]
    _assert_balanced(db_url)


def test_compute_shares_limited_to_a_subtree(db_url: str) -> None:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    with session_scope(db_url) as s:
        district = s.get(Organization, w.district)
        assert district is not None
        shares = compute_shares(s, utcnow(), organization_path=district.path)
        assert {sh.organization_id for sh in shares} == {w.district, w.club}
        # Allocations made after the cut-off wait for a later run.
        assert compute_shares(s, utcnow() - timedelta(hours=1)) == []


def test_a_bad_bic_refuses_approval_with_a_message(db_url: str) -> None:
    w = make_org_tree(db_url)
    _, ref = standard_invoice(w)
    pay(db_url, [(ref, 5500)])
    with session_scope(db_url) as s:
        club = s.get(Organization, w.club)
        assert club is not None
        club.bic = "XXXXFIHX1"
        s.add(club)
    run_id = _create(db_url)
    with pytest.raises(ValidationError, match="BIC") as refused:
        _approve(db_url, run_id)
    # Finnish first, naming the organisation; the bank library's reason in English after.
    assert refused.value.fi == "Maksutiedostoa ei voi tehdä: yhdistyksen Seura ry BIC-tunnus " \
        "ei kelpaa"
    assert str(refused.value).startswith("Maksutiedostoa ei voi tehdä")
    assert "XXXXFIHX1" in refused.value.en


_KILLED_RUN = """
import sys, time
from membook_app.db import session_scope
from membook_app.settlements import runs
real_record = runs.record
def record_then_hang(*args, **kwargs):
    event = real_record(*args, **kwargs)
    print("inside the transaction", flush=True)
    time.sleep(120)
    return event
runs.record = record_then_hang
with session_scope() as session:
    runs.create_run(session, None)
"""


def test_killed_process_mid_run_leaves_nothing(db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import os
    import subprocess
    import sys
    w = make_org_tree(db_url)
    for _ in range(3):
        _, ref = standard_invoice(w)
        pay(db_url, [(ref, 4000)])
    before = _shares(db_url)
    process = subprocess.Popen([sys.executable, "-c", _KILLED_RUN], stdout=subprocess.PIPE,
                               env={**os.environ, "DATABASE_URL": db_url}, text=True,
                               cwd=tmp_path)
    try:
        # Run, settlements and lines are written; the commit has not happened yet.
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "inside the transaction"
    finally:
        process.kill()
        process.wait(timeout=30)
    with session_scope(db_url) as s:
        assert s.exec(select(SettlementRun)).all() == []
        assert s.exec(select(SettlementLine)).all() == []
    assert _shares(db_url) == before
    run_id = _create(db_url)
    with session_scope(db_url) as s:
        written = {st.organization_id: (st.gross_cents, st.fee_cents, st.payout_cents)
                   for st in s.exec(select(Settlement).where(Settlement.run_id == run_id))}
    assert written == {o: (sh.gross_cents, sh.fee_cents, sh.payout_cents)
                       for o, sh in before.items()}


def test_nothing_to_settle_writes_no_run(db_url: str) -> None:
    make_org_tree(db_url)
    with pytest.raises(runs.NothingToSettle):
        _create(db_url)
    with session_scope(db_url) as s:
        assert s.exec(select(SettlementRun)).all() == []
