"""The reports agree where they overlap, on generated data, on SQLite and PostgreSQL.

Each seed makes its own federation: members of two clubs invoiced by an invoice run and
by hand, paid through a bank file in full, in part, too much or twice, some invoices
credited (in full or one line, before or after payment), payments with unknown
references left in the unmatched queue, booked from it or refunded. Everything goes
through the real services. The generator keeps its own account of the money it sent
and credited, and the reports must agree with it and with each other:

* invoicing: invoiced = paid + open + credited (nothing over-covered: a credit note on a
  paid invoice moves the excess to the payer's credit), invoiced and credited as
  generated, paid = the allocations to the subtree's invoices;
* receivables: the buckets add up to the invoicing report's open, and the dashboard's
  buckets are the report's;
* payments journal: total = allocated + waiting in the queue + refunded, the total as
  generated (all organisations: every incoming cent; a subtree: the money sent to its
  invoices, with no queue and no refunds);
* settlements (operator): gross − reversals = paid;
* escrow (operator only): the workbook holds `reconcile`'s figures; received = every
  incoming cent but what waits in the queue.

for the operator (every organisation and the federation) and for treasurers of a club
and of the district.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlmodel import col, select

from membook_app.banking.references import make_national
from membook_app.billing.fees import set_fee
from membook_app.billing.invoices import LineInput, create_credit_note, create_manual_invoice
from membook_app.billing.runs import commit_run
from membook_app.db import session_scope
from membook_app.errors import PermissionDenied
from membook_app.payments.bank_import import import_bank_file
from membook_app.payments.unmatched import book_payment, mark_refund
from membook_app.reports.dashboard import dashboard
from membook_app.reports.registry import TOTAL_LABEL, Filters, Table, run_report
from membook_app.reports.xlsx import export_report
from membook_app.settlements.reconciliation import reconcile
from membook_app.settlements.runs import create_run
from models import Allocation, Invoice, Payment, invoice_lines
from tests.db.test_bank_import_support import actor, camt054
from tests.factories import Tree, make_member, make_staff, make_tree

SEEDS = (11, 23, 47)
BANK_DAY = date(2026, 11, 27)
PERIOD = "2026"


@dataclass
class Money:
    """The generator's own account, per organisation that issued the invoice."""

    invoiced: dict[int, int] = field(default_factory=dict)
    credited: dict[int, int] = field(default_factory=dict)
    sent: dict[int, int] = field(default_factory=dict)    # bank money to its invoices
    paid_in: int = 0                                       # every incoming cent
    waiting: int = 0
    refunded: int = 0

    def add(self, part: dict[int, int], org: int, cents: int) -> None:
        part[org] = part.get(org, 0) + cents


@dataclass
class World:
    url: str
    tree: Tree
    money: Money
    tokens: dict[str, str]


def _invoices(url: str) -> list[tuple[int, int, str, int]]:
    with session_scope(url) as s:
        return [(i.id, i.organization_id, i.reference, i.total_cents)  # type: ignore[misc]
                for i in s.exec(select(Invoice).where(Invoice.kind == "invoice")
                                .order_by(col(Invoice.id)))]


def _credit(url: str, rng: random.Random, money: Money, invoice: tuple[int, int, str, int]
            ) -> None:
    """Credit the whole invoice, or part of one of its lines."""
    invoice_id, org, _ref, total = invoice
    with session_scope(url) as s:
        lines = list(s.execute(sa.select(invoice_lines).where(
            invoice_lines.c.invoice_id == invoice_id)))
        if rng.random() < 0.4:
            create_credit_note(s, None, invoice_id, reason="Generoitu")
            money.add(money.credited, org, total)
            return
        line = rng.choice(lines)
        cents = rng.randint(1, line.amount_cents)
        create_credit_note(s, None, invoice_id, amounts={line.position: cents},
                           reason="Generoitu osa")
        money.add(money.credited, org, cents)


def _import(url: str, entries: list[dict[str, object]], name: str) -> None:
    with session_scope(url) as s:
        import_bank_file(s, None, camt054(entries, msg_id=name), f"{name}.xml",
                         today=BANK_DAY)


def generate(url: str, seed: int) -> World:
    rng = random.Random(seed)
    tree = make_tree(url)
    money = Money()
    tokens = {"operator": make_staff(url, "op@example.fi", None, None, operator=True),
              "club_a": make_staff(url, "ta@example.fi", tree.club_a, "treasurer"),
              "club_b": make_staff(url, "tb@example.fi", tree.club_b, "treasurer"),
              "district": make_staff(url, "td@example.fi", tree.district, "treasurer")}
    with session_scope(url) as s:
        set_fee(s, None, organization_id=tree.club_a, period=PERIOD,
                amount_cents=rng.randint(20, 40) * 100, membership_type_id=tree.type_a)
        set_fee(s, None, organization_id=tree.club_b, period=PERIOD,
                amount_cents=rng.randint(1500, 2500), membership_type_id=tree.type_b)
        set_fee(s, None, organization_id=tree.district, period=PERIOD, amount_cents=1000,
                category="varsinainen")
        set_fee(s, None, organization_id=tree.federation, period=PERIOD, amount_cents=550,
                category="varsinainen")
    people = [(tree.club_a, make_member(url, tree.club_a, tree.type_a, f"A{n}", "Aalto"))
              for n in range(rng.randint(3, 6))]
    people += [(tree.club_b, make_member(url, tree.club_b, tree.type_b, f"B{n}", "Berg"))
               for n in range(rng.randint(3, 6))]
    with session_scope(url) as s:
        commit_run(s, None, tree.federation, True, PERIOD, BANK_DAY - timedelta(days=130),
                   BANK_DAY - timedelta(days=100), today=BANK_DAY)
        for org, person in rng.sample(people, 3):  # by hand, due on scattered days
            due = BANK_DAY + timedelta(days=rng.randint(-95, 20))
            create_manual_invoice(s, None, organization_id=org, person_id=person,
                                  lines=[LineInput(org, "Leiri", rng.randint(500, 6000)),
                                         LineInput(tree.district, "Piirin osuus", 700)],
                                  issue_date=min(due, BANK_DAY), due_date=due)
    invoices = _invoices(url)
    for _id, org, _ref, total in invoices:
        money.add(money.invoiced, org, total)
    later: list[tuple[int, int, str, int]] = []
    for invoice in invoices:
        roll = rng.random()
        if roll < 0.15:
            _credit(url, rng, money, invoice)
        elif roll < 0.35:
            later.append(invoice)
    entries: list[dict[str, object]] = []
    second: list[dict[str, object]] = []

    def send(target: list[dict[str, object]], invoice: tuple[int, int, str, int],
             cents: int) -> None:
        target.append({"archive": f"G{seed}-{len(entries) + len(second)}", "cents": cents,
                       "ref": invoice[2], "date": BANK_DAY.isoformat()})
        money.add(money.sent, invoice[1], cents)
        money.paid_in += cents

    for invoice in invoices:
        total = invoice[3]
        how = rng.choice(("none", "exact", "part", "over", "twice"))
        if how == "exact":
            send(entries, invoice, total)
        elif how == "part":
            send(entries, invoice, rng.randint(1, total - 1))
        elif how == "over":
            send(entries, invoice, total + rng.randint(1, 2000))
        elif how == "twice":
            send(entries, invoice, total)
            send(second, invoice, rng.randint(100, total))
    unknown = [rng.randint(300, 5000) for _ in range(rng.randint(2, 4))]
    for n, cents in enumerate(unknown):
        entries.append({"archive": f"G{seed}-U{n}", "cents": cents,
                        "ref": make_national(f"9{seed:03d}{n:04d}"), "name": f"Tuntematon {n}",
                        "date": BANK_DAY.isoformat()})
        money.paid_in += cents
    _import(url, entries, f"GEN-{seed}-1")
    for invoice in later:  # credited after the money came
        _credit(url, rng, money, invoice)
    if second:
        _import(url, second, f"GEN-{seed}-2")
    operator = actor(url, tokens["operator"])
    with session_scope(url) as s:
        queued = list(s.execute(sa.select(Payment.id, Payment.amount_cents)
                                .where(Payment.status == "unmatched").order_by(Payment.id)))
        assert [int(c) for _, c in queued] == unknown
        # Booked to an invoice with something open: the payment is then the invoice's
        # organisation's (booked to a paid one, all of it would be the payer's credit,
        # escrow money of no organisation, as the journal says).
        still_open = set(s.execute(sa.select(Invoice.id).where(
            Invoice.kind == "invoice",
            Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents > 0)).scalars())
        target = rng.choice([i for i in invoices if i[0] in still_open])
        book_payment(s, operator, queued[0][0], target[0], today=BANK_DAY)
        money.add(money.sent, target[1], int(queued[0][1]))
        mark_refund(s, operator, queued[1][0])
        money.refunded = int(queued[1][1])
        money.waiting = sum(int(c) for _, c in queued[2:])
    with session_scope(url) as s:
        create_run(s, None)
    return World(url, tree, money, tokens)


@pytest.fixture(params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def world(db_url: str, request: pytest.FixtureRequest) -> World:
    return generate(db_url, request.param)


def _total(table: Table, key: str) -> int:
    _rows, total = table.split_total()
    assert total is not None
    return int(total[[c.key for c in table.columns].index(key)])


def _scopes(w: World) -> list[tuple[str, int | None, set[int]]]:
    """(who, organisation asked for, the organisations of its subtree)."""
    t = w.tree
    everyone = {t.federation, t.district, t.club_a, t.club_b}
    return [("operator", None, everyone), ("operator", t.federation, everyone),
            ("district", t.district, {t.district, t.club_a, t.club_b}),
            ("club_a", t.club_a, {t.club_a}), ("club_b", t.club_b, {t.club_b})]


def _of(part: dict[int, int], orgs: set[int]) -> int:
    return sum(cents for org, cents in part.items() if org in orgs)


def test_invoicing_and_receivables_agree(world: World) -> None:
    w, m = world, world.money
    for who, org, orgs in _scopes(w):
        asker = actor(w.url, w.tokens[who])
        with session_scope(w.url) as s:
            periods, _by_org, shares = run_report(s, asker, "invoicing",
                                                  Filters(org, today=BANK_DAY)).tables
            invoiced, credited, paid, open_, over = (
                _total(periods, k) for k in ("invoiced", "credited", "paid", "open",
                                             "overcovered"))
            assert (invoiced, credited) == (_of(m.invoiced, orgs), _of(m.credited, orgs)), who
            assert invoiced == paid + open_ + credited and over == 0, who
            assert paid == s.execute(
                sa.select(sa.func.coalesce(sa.func.sum(Allocation.amount_cents), 0))
                .join(Invoice, Invoice.id == Allocation.invoice_id)
                .where(col(Invoice.organization_id).in_(orgs))).scalar_one(), who
            assert _total(shares, "invoiced") == invoiced
            assert _total(shares, "credited") == credited
            buckets = run_report(s, asker, "receivables",
                                 Filters(org, today=BANK_DAY)).tables[0]
            assert _total(buckets, "open") == open_, who
            if org is None:
                continue
            board = dashboard(s, asker, org, BANK_DAY)
        rows, _ = buckets.split_total()
        assert [(a.invoice_count, a.open_cents) for a in board.receivables] == [
            (r[1], r[2]) for r in rows], who
    assert m.credited and m.paid_in > 0  # the seed exercised credits and payments


def test_journal_total_is_allocated_plus_waiting_plus_refunded(world: World) -> None:
    w, m = world, world.money
    for who, org, orgs in _scopes(w):
        asker = actor(w.url, w.tokens[who])
        with session_scope(w.url) as s:
            table = run_report(s, asker, "payments-journal", Filters(org)).tables[0]
            allocated_rows = s.execute(
                sa.select(sa.func.coalesce(sa.func.sum(Allocation.amount_cents), 0))).scalar_one()
        recon = dict(zip(table.frame["key"], table.frame["amount"], strict=True))
        assert recon["total"] == recon["allocated"] + recon["waiting"] + recon["refunded"], who
        assert recon["difference"] == 0, who
        if org is None:  # the queue and refunds belong to no organisation
            assert (recon["total"], recon["waiting"], recon["refunded"]) == (
                m.paid_in, m.waiting, m.refunded)
            assert recon["allocated"] == allocated_rows
        else:
            assert (recon["total"], recon["waiting"], recon["refunded"]) == (
                _of(m.sent, orgs), 0, 0), who


def test_settlements_and_escrow_for_the_operator(world: World) -> None:
    w, m = world, world.money
    operator = actor(w.url, w.tokens["operator"])
    with session_scope(w.url) as s:
        settlements = run_report(s, operator, "settlements", Filters(None)).tables[1]
        paid = _total(run_report(s, operator, "invoicing", Filters(None)).tables[0], "paid")
        assert _total(settlements, "gross") - _total(settlements, "reversals") == paid
        rec = reconcile(s, operator, BANK_DAY)
        data = export_report(s, operator, "escrow", Filters(None, date_to=BANK_DAY))
        with pytest.raises(PermissionDenied):
            export_report(s, actor(w.url, w.tokens["district"]), "escrow",
                          Filters(w.tree.district, date_to=BANK_DAY))
    # Received: every incoming cent but the queue's (which explains part of the difference
    # to a statement, docs/settlements.md "Escrow reconciliation").
    assert rec.received_cents == m.paid_in - m.waiting
    assert isinstance(data, bytes)
    book = load_workbook(io.BytesIO(data))
    amounts: dict[str, Any] = {}
    for row in book["Yhteenveto"].iter_rows(values_only=True):
        if row[0] and isinstance(row[1], float | int):
            amounts.setdefault(str(row[0]), row[1])
    expected = {f"{a.fi} / {a.en}": a.cents for a in rec.received}
    expected["Odotettu saldo / Expected balance"] = rec.expected_cents
    expected["Erotus / Difference"] = rec.difference_cents  # type: ignore[assignment]
    for label, cents in expected.items():
        if cents is not None:
            assert round(amounts[label] * 100) == cents, label
    assert TOTAL_LABEL not in amounts  # the escrow tables are not summed

