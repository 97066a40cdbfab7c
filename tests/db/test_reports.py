"""Reports on generated data, on SQLite and PostgreSQL: the figures agree with each other
and with the rows they come from.

The data goes through the real services: two invoice runs, a manual invoice, a KTL bank
file (exact, partial, over-payments, unknown and mistyped references), a booking and a
refund from the unmatched queue, credit notes (one after payment), and memberships that
join, resign and end within the year.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlmodel import col, select

from membook_app.banking.references import make_national
from membook_app.billing.fees import set_fee
from membook_app.billing.invoices import LineInput, create_credit_note, create_manual_invoice
from membook_app.billing.runs import commit_run
from membook_app.db import session_scope
from membook_app.demo.bank_files import BankLine, ktl_file
from membook_app.payments.bank_import import import_bank_file
from membook_app.payments.unmatched import book_payment, mark_refund
from membook_app.register.memberships import add_membership, end_membership
from membook_app.register.people import create_person
from membook_app.reports.registry import Filters, all_reports, detail_page, resolve, run_report
from membook_app.reports.xlsx import export_report
from membook_app.settlements.runs import approve_run, create_run
from models import (
    Allocation,
    Invoice,
    Membership,
    Organization,
    Payment,
    Settlement,
    SettlementLine,
    SettlementRun,
)
from tests.db.settlement_support import IBANS
from tests.db.test_billing_fees import World, actor_for, billing_world
from tests.db.test_cli import membook
from tests.factories import make_member

AS_OF = date(2027, 3, 15)
BANK_DAY = date(2026, 11, 27)


@dataclass
class Data:
    world: World
    operator: object
    paid_in: int          # every incoming cent in the bank file
    waiting: int          # left in the unmatched queue
    refunded: int


def _total(table: object, key: str) -> int:
    """The value of the "Yhteensä / Total" row (the last one) in column `key`."""
    return int(table.frame.iloc[-1][key])  # type: ignore[attr-defined]


@pytest.fixture
def data(db_url: str) -> Data:
    return build_data(db_url)


def build_data(db_url: str) -> Data:
    """The reports' data (module docstring), built through the real services."""
    world = billing_world(db_url)
    t = world.tree
    operator = actor_for(db_url, "op@example.fi", None, None, operator=True)
    with session_scope(db_url) as s:
        for org, type_id, cents in ((t.club_a, t.type_a, 2800), (t.club_b, t.type_b, 2200)):
            set_fee(s, None, organization_id=org, period="2026", membership_type_id=type_id,
                    amount_cents=cents)
        commit_run(s, None, t.federation, True, "2026", date(2026, 2, 1), date(2026, 3, 31))
        commit_run(s, None, t.federation, True, "2027", date(2027, 1, 2), date(2027, 1, 31))
        create_manual_invoice(s, None, organization_id=t.club_b,
                              person_id=world.people["paper"],
                              lines=[LineInput(t.club_b, "Kevätleiri", 4000),
                                     LineInput(t.district, "Piirin osuus", 1000)],
                              issue_date=date(2027, 3, 1), due_date=date(2027, 4, 1))
        invoices = {(i.period, i.person_id): (i.id, i.reference, i.total_cents)
                    for i in s.exec(select(Invoice).where(Invoice.kind == "invoice"))}
    people = world.people
    full26 = invoices[("2026", people["full"])]
    full27 = invoices[("2027", people["full"])]
    youth27 = invoices[("2027", people["youth"])]
    parent27 = invoices[("2027", people["parent"])]
    paper26 = invoices[("2026", people["paper"])]
    payments = [BankLine(f"261126000000000{n}", ref, cents, payer, BANK_DAY)
                for n, (ref, cents, payer) in enumerate((
                    (full26[1], full26[2], "VIRTANEN MATTI"),                     # exact
                    (full27[1], full27[2] // 2, "VIRTANEN MATTI"),                # part
                    (youth27[1], youth27[2] + 1000, "NUORI AINO"),                # over
                    (parent27[1], parent27[2], "PERHE PIRJO"),
                    (make_national("900000001"), 1500, "TUNTEMATON"),
                    (paper26[1][:-1] + str((int(paper26[1][-1]) + 1) % 10),      # typo
                     2000, "PAPERI PAAVO"),
                    (make_national("900000002"), 700, "JOKU MUU"),
                ), start=1)]
    with session_scope(db_url) as s:
        import_bank_file(s, None, ktl_file(payments, account="12345600000785",
                                           created=datetime(2026, 11, 27, 6, 15)),
                         "viitteet.txt", today=BANK_DAY)
    with session_scope(db_url) as s:
        queued = dict(s.execute(sa.select(Payment.source_id, Payment.id)
                                .where(Payment.status == "unmatched")).all())
        assert len(queued) == 3
        book_payment(s, operator, queued["2611260000000005"], paper26[0],  # type: ignore[arg-type]
                     today=BANK_DAY)
        mark_refund(s, operator, queued["2611260000000006"])  # type: ignore[arg-type]
        create_credit_note(s, None, full26[0], amounts=None, reason="Hallituksen päätös")
        create_credit_note(s, None, invoices[("2027", people["paper"])][0], amounts=None,
                           reason="Ei jäsen")
    with session_scope(db_url) as s:
        create_run(s, None)  # the weekly settlement of everything allocated so far
    # Membership changes in 2027: one resigns, one is ended, one joins.
    with session_scope(db_url) as s:
        ms = {m.person_id: m.id for m in s.exec(select(Membership))}
        end_membership(s, None, ms[people["youth"]], end_date=date(2027, 5, 1))
        end_membership(s, None, ms[people["notype"]], end_date=date(2027, 6, 1), status="ended")
        newcomer = create_person(s, None, {"first_name": "Uusi", "last_name": "Jäsen",
                                           "birth_date": date(2000, 5, 5), "city": "Tampere"})
        add_membership(s, None, person_id=newcomer.id, organization_id=t.club_b,  # type: ignore[arg-type]
                       type_id=t.type_b, start_date=date(2027, 2, 1))
    make_member(db_url, t.club_b, t.type_b, "Vanha", "Jäsen", birth_date=date(1950, 1, 1),
                city="Tampere")
    return Data(world, operator, sum(p.cents for p in payments), 700, 2000)


def test_invoiced_is_paid_plus_open_plus_credited(data: Data) -> None:
    url, t = data.world.url, data.world.tree
    with session_scope(url) as s:
        result = run_report(s, data.operator, "invoicing", Filters(t.federation))  # type: ignore[arg-type]
        by_period, rows, shares = result.tables
        invoiced, paid, open_, credited, over = (
            _total(by_period, k) for k in ("invoiced", "paid", "open", "credited",
                                           "overcovered"))
        assert invoiced == paid + open_ + credited - over
        # A credit note on a paid invoice moves what is over-paid to the payer's credit
        # (billing.invoices.create_credit_note), so nothing is over-covered: Virtanen's
        # 2026 invoice, paid and then credited, shows paid 0 and credited in full.
        assert over == 0 and credited > 0 and paid > 0  # the data exercises every part
        # Against the rows: invoice totals, allocations to invoices, credit notes.
        assert invoiced == s.execute(sa.select(sa.func.sum(Invoice.total_cents))
                                     .where(Invoice.kind == "invoice")).scalar_one()
        assert paid == s.execute(sa.select(sa.func.sum(Allocation.amount_cents))
                                 .where(col(Allocation.invoice_id).is_not(None))).scalar_one()
        assert credited == -s.execute(sa.select(sa.func.sum(Invoice.total_cents))
                                      .where(Invoice.kind == "credit_note")).scalar_one()
        # Every period row agrees with itself, and the shares add up to the same totals.
        for _, row in rows.frame.iloc[:-1].iterrows():
            assert row.invoiced == row.paid + row.open + row.credited - row.overcovered
        assert _total(shares, "invoiced") == invoiced
        assert _total(shares, "credited") == credited
        assert _total(rows, "invoices") == _total(by_period, "invoices")
        # A treasurer of club B sees only club B's invoices.
        tb = actor_for(url, "tb@example.fi", t.club_b, "treasurer")
        own = run_report(s, tb, "invoicing", Filters(t.club_b)).tables[1]
        assert set(own.frame["organization"][:-1]) == {"Seura B ry"}
        assert _total(own, "invoiced") < invoiced


def test_journal_total_is_allocated_plus_waiting_plus_refunded(data: Data) -> None:
    url, t = data.world.url, data.world.tree
    with session_scope(url) as s:
        result = run_report(s, data.operator, "payments-journal", Filters(None))  # type: ignore[arg-type]
        recon = dict(zip(result.tables[0].frame["key"], result.tables[0].frame["amount"],
                         strict=True))
        assert recon["total"] == data.paid_in
        assert recon["waiting"] == data.waiting and recon["refunded"] == data.refunded
        assert recon["total"] == recon["allocated"] + recon["waiting"] + recon["refunded"]
        assert recon["difference"] == 0 and recon["to_credit"] > 0
        assert _total(result.tables[1], "amount") == data.paid_in
        assert _total(result.tables[2], "allocated") == recon["allocated"]
        rows, more = detail_page(s, data.operator, "payments-journal", Filters(None),  # type: ignore[arg-type]
                                 limit=500)
        assert not more
        by_payment = {r[1]: r[6] for r in rows}
        assert sum(by_payment.values()) == data.paid_in
        assert sum(r[9] or 0 for r in rows) == recon["allocated"]
        # Codes are shown by their Finnish-first names, in the tables and the detail rows.
        statuses = set(result.tables[1].frame["status"])
        assert "ylimaksu / overpaid" in statuses and "kohdistamatta / unmatched" in statuses
        assert "saldolle / to credit" in set(result.tables[2].frame["kind"])
        assert {r[2] for r in rows} == {"pankki / bank"}
        assert "viite / reference" in {r[8] for r in rows}
        assert "ylimaksu / overpayment" in {r[10] for r in rows}
        # An organisation's journal holds only its own money: no queue, no refunds.
        own = run_report(s, data.operator, "payments-journal", Filters(t.club_b))  # type: ignore[arg-type]
        own_recon = dict(zip(own.tables[0].frame["key"], own.tables[0].frame["amount"],
                             strict=True))
        assert own_recon["waiting"] == 0 and own_recon["refunded"] == 0
        assert 0 < own_recon["total"] < recon["total"]
        assert own_recon["difference"] == 0


def test_register_summary_totals_are_the_members(data: Data) -> None:
    url, t = data.world.url, data.world.tree
    with session_scope(url) as s:
        active = s.execute(sa.select(sa.func.count()).select_from(Membership)
                           .where(Membership.status == "active")).scalar_one()
        everyone = s.execute(sa.select(sa.func.count()).select_from(Membership)).scalar_one()
        tables = {tb.key: tb for tb in run_report(
            s, data.operator, "register-summary", Filters(t.federation)).tables}  # type: ignore[arg-type]
    assert _total(tables["status"], "members") == everyone == 10
    assert _total(tables["data"], "total") == everyone
    for key in ("type", "age", "municipality"):
        assert _total(tables[key], "members") == active == 8, key
    ages = dict(zip(tables["age"].frame["age"], tables["age"].frame["members"], strict=True))
    assert ages["18–29"] == 1 and ages["65–"] == 1
    cities = dict(zip(tables["municipality"].frame["municipality"],
                      tables["municipality"].frame["members"], strict=True))
    assert cities["Tampere"] == 2


def test_receivable_buckets_sum_to_open_receivables(data: Data) -> None:
    url, t = data.world.url, data.world.tree
    with session_scope(url) as s:
        filters = Filters(t.federation, date_to=AS_OF)
        buckets, by_org = run_report(s, data.operator, "receivables", filters).tables  # type: ignore[arg-type]
        open_total = _total(run_report(s, data.operator, "invoicing",  # type: ignore[arg-type]
                                       Filters(t.federation)).tables[0], "open")
        assert _total(buckets, "open") == open_total == _total(by_org, "total") > 0
        amounts = dict(zip(buckets.frame["bucket"][:-1], buckets.frame["open"][:-1],
                           strict=True))
        assert amounts["not_due"] > 0 and amounts["d31_60"] > 0 and amounts["d90"] > 0
        # The members behind each bucket add up to the bucket.
        for key, cents in amounts.items():
            rows, more = detail_page(s, data.operator, "receivables",  # type: ignore[arg-type]
                                     Filters(t.federation, date_to=AS_OF, bucket=key), limit=500)
            assert not more and sum(r[8] for r in rows) == cents, key


def test_membership_changes_add_up(data: Data) -> None:
    url, t = data.world.url, data.world.tree
    with session_scope(url) as s:
        (table,) = run_report(s, data.operator, "membership-changes",  # type: ignore[arg-type]
                              Filters(t.federation, date_from=date(2027, 1, 1))).tables
    rows = table.frame.set_index("organization")
    for name, row in rows.iterrows():
        assert row.at_start + row.joined - row.left == row.at_end, name
    a, b = rows.loc["Seura A ry"], rows.loc["Seura B ry"]
    assert (a.at_start, a.joined, a.resigned, a.left, a.at_end) == (6, 0, 1, 1, 5)
    assert (b.at_start, b.joined, b.ended, b.left, b.at_end) == (3, 1, 1, 1, 3)


def test_settlements_settle_what_was_paid(data: Data) -> None:
    """Every cent booked to an invoice is in a settlement: the settlements report's gross
    less its reversals equals the invoicing report's paid, and the lines add up to their
    settlements."""
    url, t = data.world.url, data.world.tree
    with session_scope(url) as s:
        week, settlements = run_report(s, data.operator, "settlements",  # type: ignore[arg-type]
                                       Filters(t.federation)).tables
        paid = _total(run_report(s, data.operator, "invoicing",  # type: ignore[arg-type]
                                 Filters(t.federation)).tables[0], "paid")
        # A credit note took back the credited invoice's money: a reversal in the same run.
        reversals = _total(settlements, "reversals")
        assert _total(settlements, "gross") - reversals == paid > 0 and reversals > 0
        net = s.execute(sa.select(sa.func.sum(Settlement.net_cents))).scalar_one()
        assert _total(settlements, "net") == _total(week, "total") == net
        rows, more = detail_page(s, data.operator, "settlements",  # type: ignore[arg-type]
                                 Filters(t.federation), limit=500)
        lines = s.execute(sa.select(sa.func.count(), sa.func.sum(SettlementLine.amount_cents))
                          ).one()
        assert not more and (len(rows), sum(r[7] for r in rows)) == tuple(lines)
        # Club B's treasurer sees no draft run, then club B's settlement only.
        tb = actor_for(url, "tb@example.fi", t.club_b, "treasurer")
        assert run_report(s, tb, "settlements", Filters(t.club_b)).tables[1].frame.empty
        for org, iban in zip((t.federation, t.district, t.club_a, t.club_b),
                             (*IBANS.values(), IBANS["club"]), strict=True):
            s.get(Organization, org).iban = iban  # type: ignore[union-attr]
        approve_run(s, None, s.execute(sa.select(SettlementRun.id)).scalar_one())
        own = run_report(s, tb, "settlements", Filters(t.club_b)).tables[1]
        assert set(own.frame["organization"][:-1]) == {"Seura B ry"}


def test_every_report_runs_and_exports(data: Data, tmp_path: Path) -> None:
    """Each report (settlements with no runs yet: empty) runs and writes a workbook with a
    summary and a data sheet."""
    url, t = data.world.url, data.world.tree
    for report in all_reports():
        if report.operator_only:
            continue
        path = tmp_path / f"{report.name}.xlsx"
        with session_scope(url) as s:
            export_report(s, data.operator, report.name, Filters(t.federation),  # type: ignore[arg-type]
                          str(path))
        book = load_workbook(path, read_only=True)
        assert book.sheetnames == ["Yhteenveto", "Tiedot"], report.name
        first = next(book["Yhteenveto"].iter_rows(max_row=1, values_only=True))
        assert first[0] == f"{report.fi} / {report.en}"


def test_cli_writes_typed_workbook(data: Data, tmp_path: Path) -> None:
    url = data.world.url
    out = tmp_path / "saatavat.xlsx"
    result = membook(url, "report", "receivables", "--org", "Liitto ry", "--to",
                     AS_OF.isoformat(), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with session_scope(url) as s:
        open_total = s.execute(sa.select(sa.func.sum(
            Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents))
            .join(Organization, Organization.id == Invoice.organization_id)
            .where(Invoice.kind == "invoice",
                   col(Invoice.status).in_(("open", "partly_paid", "overdue")))).scalar_one()
        count = s.execute(sa.select(sa.func.count()).select_from(Invoice).where(
            Invoice.kind == "invoice",
            col(Invoice.status).in_(("open", "partly_paid", "overdue")))).scalar_one()
    assert f"{count} riviä" in result.stdout
    book = load_workbook(out)
    data_sheet = book["Tiedot"]
    header = [c.value for c in data_sheet[1]]
    assert header[6] == "Eräpäivä / Due" and header[8] == "Avoinna / Open"
    rows = list(data_sheet.iter_rows(min_row=2))
    assert len(rows) == count
    for row in rows:
        due, open_cell, number = row[6], row[8], row[2]
        assert due.is_date and due.number_format == "d.m.yyyy"
        assert isinstance(open_cell.value, float | int) and "€" in open_cell.number_format
        assert number.value is None or isinstance(number.value, int)
    assert round(sum(r[8].value for r in rows) * 100) == open_total
    summary = book["Yhteenveto"]
    totals = [r for r in summary.iter_rows(values_only=True) if r[0] == "Yhteensä / Total"]
    assert round(totals[0][2] * 100) == open_total  # the bucket table's total, in euros
    # Wrong use: 2; an unknown report or organisation: 1, one line on stderr.
    assert membook(url, "report", "receivables", "--out", str(out), cwd=tmp_path).returncode == 2
    unknown = membook(url, "report", "nope", "--org", "Liitto ry", "--out", str(out),
                      cwd=tmp_path)
    assert unknown.returncode == 1 and "nope" in unknown.stderr
    listed = membook(url, "report", "--list", cwd=tmp_path)
    assert listed.returncode == 0 and "payments-journal" in listed.stdout


def test_whole_installation_shortcut_reports_the_same(data: Data) -> None:
    """The federation's subtree is every organisation, so the reports leave the
    organisation filter out (`Scope.everything`); with the filter as an id list they must
    give the very same tables."""
    url, t = data.world.url, data.world.tree
    with session_scope(url) as s:
        for report in all_reports():
            if report.operator_only:
                continue
            scope = resolve(s, data.operator, report, Filters(t.federation))  # type: ignore[arg-type]
            assert scope.everything, report.name
            listed = replace(scope, everything=False)
            for fast, slow in zip(report.tables(s, scope), report.tables(s, listed),
                                  strict=True):
                assert fast.records() == slow.records(), (report.name, fast.key)
            assert any(not table.frame.empty for table in report.tables(s, scope))
