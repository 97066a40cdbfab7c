"""The treasurer dashboard against hand-computed figures, on SQLite and PostgreSQL.

All data goes through the real services: memberships through the register, invoices
through an invoice run and manual invoices, bank money through the bank import of a
generated camt.054 file, Paytrail money through the callback booking, and a hand
booking through the unmatched queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlmodel import select

from membook_app.billing.fees import set_fee
from membook_app.billing.invoices import LineInput, create_credit_note, create_manual_invoice
from membook_app.billing.runs import commit_run
from membook_app.db import session_scope
from membook_app.errors import NotFound, PermissionDenied
from membook_app.payments.bank_import import helsinki_today, import_bank_file, record_refusal
from membook_app.payments.online import apply_result
from membook_app.payments.paytrail import CallbackParams
from membook_app.payments.unmatched import book_payment
from membook_app.register.memberships import add_membership, end_membership
from membook_app.register.people import create_person
from membook_app.reports import dashboard as dashboard_module
from membook_app.reports.dashboard import dashboard, default_period
from membook_app.reports.registry import Filters, run_report
from membook_app.settings import get_settings
from membook_app.settlements.runs import compute_shares
from models import Invoice, Membership, Payment, PaytrailAttempt, invoice_lines
from tests.db.test_bank_import_support import actor, camt054
from tests.factories import Tree, make_member, make_member_login, make_staff, make_tree


def _month(day: date, back: int) -> date:
    """The first day of the month `back` months before `day`'s."""
    index = day.year * 12 + day.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _join(url: str, org_id: int, type_id: int, name: str, start: date) -> int:
    with session_scope(url) as s:
        person = create_person(s, None, {"first_name": name, "last_name": "Testinen"})
        add_membership(s, None, person_id=person.id, organization_id=org_id,  # type: ignore[arg-type]
                       type_id=type_id, start_date=start)
        return person.id  # type: ignore[return-value]


def _end(url: str, person_id: int, end: date, status: str) -> None:
    with session_scope(url) as s:
        membership = s.exec(select(Membership).where(Membership.person_id == person_id)).one()
        end_membership(s, None, membership.id, end_date=end, status=status)  # type: ignore[arg-type]


def _invoice(url: str, person_id: int) -> Invoice:
    with session_scope(url) as s:
        return s.exec(select(Invoice).where(Invoice.person_id == person_id,
                                            Invoice.kind == "invoice")).one()


@dataclass
class Scenario:
    url: str
    tree: Tree
    today: date
    treasurer_a: str
    district_treasurer: str
    operator: str


@pytest.fixture
def scenario(db_url: str) -> Scenario:
    """Five members billed 45 € (club A) or 35 € (club B), paid by bank, Paytrail and hand.

    Shares per invoice: club A 30 € or club B 20 €, the district 10 €, the federation 5 €.
    """
    today = helsinki_today()
    period = str(today.year + 1)  # billed in advance: the only period, so the default
    tree = make_tree(db_url)
    treasurer_a = make_staff(db_url, "ta@example.fi", tree.club_a, "treasurer")
    district_treasurer = make_staff(db_url, "td@example.fi", tree.district, "treasurer")
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    with session_scope(db_url) as s:
        set_fee(s, None, organization_id=tree.club_a, period=period, amount_cents=3000,
                membership_type_id=tree.type_a)
        set_fee(s, None, organization_id=tree.club_b, period=period, amount_cents=2000,
                membership_type_id=tree.type_b)
        set_fee(s, None, organization_id=tree.district, period=period, amount_cents=1000,
                category="varsinainen")
        set_fee(s, None, organization_id=tree.federation, period=period, amount_cents=500,
                category="varsinainen")
    a1 = make_member(db_url, tree.club_a, tree.type_a, "Aino", "Aalto")
    a2 = make_member(db_url, tree.club_a, tree.type_a, "Eero", "Aalto")
    a3 = make_member(db_url, tree.club_a, tree.type_a, "Ilkka", "Aalto")
    b1 = make_member(db_url, tree.club_b, tree.type_b, "Olli", "Bergman")
    b2 = make_member(db_url, tree.club_b, tree.type_b, "Ulla", "Bergman")
    j1 = _join(db_url, tree.club_a, tree.type_a, "Jaana", _month(today, 0))
    j2 = _join(db_url, tree.club_b, tree.type_b, "Jussi", _month(today, 2) + timedelta(days=14))
    _end(db_url, b2, _month(today, 1), "resigned")
    _end(db_url, a3, today, "ended")
    with session_scope(db_url) as s:
        commit_run(s, None, tree.federation, True, period, today, today + timedelta(days=14),
                   today=today)
    inv = {key: _invoice(db_url, pid) for key, pid in
           (("a1", a1), ("a2", a2), ("b1", b1), ("j1", j1), ("j2", j2))}
    with session_scope(db_url) as s:  # the district's 10 € taken off Jussi's invoice
        line = s.execute(select(invoice_lines).where(
            invoice_lines.c.invoice_id == inv["j2"].id,
            invoice_lines.c.organization_id == tree.district)).one()
        create_credit_note(s, None, inv["j2"].id, amounts={line.position: 1000},  # type: ignore[arg-type]
                           reason="Piirin osuus hyvitetty")
    bank = camt054([
        {"archive": "D-A1", "cents": 4500, "ref": inv["a1"].reference, "date": today.isoformat()},
        {"archive": "D-A2", "cents": 1500, "ref": inv["a2"].reference,
         "date": (today - timedelta(days=7)).isoformat()},
        {"archive": "D-J1", "cents": 4500, "name": "Jaana Testinen",
         "date": (today - timedelta(days=14)).isoformat()},
        {"archive": "D-XX", "cents": 1234, "name": "Tuntematon Maksaja",
         "date": today.isoformat()},
        # No reference, but exactly what Jussi's invoice (club B) still asks: 35 € − 10 €.
        {"archive": "D-YY", "cents": 2500, "name": "Nimetön Näppäilijä",
         "date": today.isoformat()},
    ], msg_id="DASH-1")
    with session_scope(db_url) as s:
        import_bank_file(s, None, bank, "dashboard.xml", today=today)
    with session_scope(db_url) as s:  # Jaana's payment came without a reference
        payment = s.exec(select(Payment).where(Payment.source_id == "D-J1")).one()
        book_payment(s, actor(db_url, treasurer_a), payment.id, inv["j1"].id,  # type: ignore[arg-type]
                     today=today)
    with session_scope(db_url) as s:  # Olli pays online
        s.add(PaytrailAttempt(invoice_id=inv["b1"].id, stamp="dash-stamp-1",  # type: ignore[arg-type]
                              amount_cents=3500))
        s.commit()
        apply_result(s, CallbackParams(
            account=get_settings().paytrail_account, algorithm="sha256", amount=3500,
            stamp="dash-stamp-1", reference=inv["b1"].reference, transaction_id="DASH-TX-1",
            status="ok", provider="osuuspankki", settlement_reference=None), source="callback")
    return Scenario(db_url, tree, today, treasurer_a, district_treasurer, operator)


def _dashboard(sc: Scenario, token: str, org_id: int):  # type: ignore[no-untyped-def]
    with session_scope(sc.url) as s:
        return dashboard(s, actor(sc.url, token), org_id, sc.today)


def test_members_and_their_trend(scenario: Scenario) -> None:
    board = _dashboard(scenario, scenario.district_treasurer, scenario.tree.district)
    assert board.members_now == 5
    assert [m.month for m in board.months] == [_month(scenario.today, b)
                                               for b in range(11, -1, -1)]
    last = {12 - i: (m.joins, m.resignations, m.members_at_end)
            for i, m in enumerate(board.months) if i >= 8}
    # Oldest first: Jussi joined two months back, Ulla resigned last month, and this
    # month Jaana joined and Ilkka's membership ended.
    assert last == {4: (0, 0, 5), 3: (1, 0, 6), 2: (0, 1, 5), 1: (1, 1, 5)}
    assert all(m.joins == m.resignations == 0 and m.members_at_end == 5
               for m in board.months[:8])
    club_b = _dashboard(scenario, scenario.district_treasurer, scenario.tree.club_b)
    assert club_b.members_now == 2
    assert club_b.months[-3].members_at_end == 3  # Olli, Ulla and Jussi


@pytest.mark.parametrize("large", [False, True])
def test_invoiced_against_paid_by_share(scenario: Scenario, large: bool,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if large:  # the plan for big subtrees (invoices first) must count the same
        monkeypatch.setattr(dashboard_module, "LARGE_SUBTREE", 0)
    board = _dashboard(scenario, scenario.operator, scenario.tree.federation)
    assert board.period == str(scenario.today.year + 1)
    shares = {f.organization_name: (f.invoiced_cents, f.credited_cents, f.paid_cents,
                                    f.open_cents) for f in board.shares}
    # Paid: Aino, Jaana (45 €) and Olli (35 €) in full; Eero 15 € of 45 € (a third of each
    # share, rounded down). Jussi's invoice is unpaid with the district's 10 € credited.
    assert shares == {
        "Seura A ry": (9000, 0, 7000, 2000),
        "Seura B ry": (4000, 0, 2000, 2000),
        "Piiri ry": (5000, 1000, 3333, 667),
        "Liitto ry": (2500, 0, 1666, 834),
    }
    own = _dashboard(scenario, scenario.treasurer_a, scenario.tree.club_a)
    assert [(f.organization_name, f.paid_cents) for f in own.shares] == [("Seura A ry", 7000)]


def test_incoming_money_per_week_by_source(scenario: Scenario) -> None:
    board = _dashboard(scenario, scenario.district_treasurer, scenario.tree.district)
    assert len(board.weeks) == 12
    monday = scenario.today - timedelta(days=scenario.today.weekday())
    assert [w.week_start for w in board.weeks][-3:] == [monday - timedelta(weeks=2),
                                                        monday - timedelta(weeks=1), monday]
    sums = [(w.bank_cents, w.paytrail_cents, w.manual_cents) for w in board.weeks]
    assert sums[-1] == (4500, 3500, 0)     # Aino by reference, Olli online
    assert sums[-2] == (1500, 0, 0)        # Eero's part payment
    assert sums[-3] == (0, 0, 4500)        # Jaana's payment, booked by her treasurer
    assert all(s == (0, 0, 0) for s in sums[:-3])
    own = _dashboard(scenario, scenario.treasurer_a, scenario.tree.club_a)
    assert own.weeks[-1].total_cents == 4500  # club B's Paytrail money is not club A's
    # Club B has fewer members than the rest of the tree (read through its invoices),
    # the federation is the whole tree (nothing to leave out): the same money.
    club_b = _dashboard(scenario, scenario.district_treasurer, scenario.tree.club_b)
    assert [(w.bank_cents, w.paytrail_cents, w.manual_cents) for w in club_b.weeks][-3:] == [
        (0, 0, 0), (0, 0, 0), (0, 3500, 0)]
    whole = _dashboard(scenario, scenario.operator, scenario.tree.federation)
    assert whole.weeks == board.weeks


def test_queue_settlement_and_import_by_reader(scenario: Scenario) -> None:
    seen = _dashboard(scenario, scenario.operator, scenario.tree.federation)
    assert seen.unmatched is not None
    assert (seen.unmatched.count, seen.unmatched.amount_cents,
            seen.unmatched.whole_queue) == (2, 1234 + 2500, True)
    assert seen.latest_import is not None
    assert (seen.latest_import.filename, seen.latest_import.outcome,
            seen.latest_import.payment_count) == ("dashboard.xml", "imported", 5)
    assert not seen.latest_import.late
    treasurer = _dashboard(scenario, scenario.district_treasurer, scenario.tree.district)
    # The district sees the payment that resembles club B's open invoice, not the stranger's.
    assert treasurer.unmatched is not None
    assert (treasurer.unmatched.count, treasurer.unmatched.amount_cents,
            treasurer.unmatched.whole_queue) == (1, 2500, False)
    club_a = _dashboard(scenario, scenario.treasurer_a, scenario.tree.club_a)
    assert club_a.unmatched is not None
    assert (club_a.unmatched.count, club_a.unmatched.amount_cents) == (0, 0)
    assert treasurer.latest_import is not None
    assert treasurer.latest_import.outcome == "imported"
    assert treasurer.latest_import.filename is None and treasurer.latest_import.credit_cents is None

    estimate = treasurer.settlement
    assert estimate is not None
    with session_scope(scenario.url) as s:
        path = f"/{scenario.tree.federation}/{scenario.tree.district}/"
        shares = compute_shares(s, estimate.cut_off, organization_path=path)
    assert shares, "paid money waits to be settled"
    assert estimate.subtree_payout_cents == sum(x.payout_cents for x in shares)
    assert estimate.own_payout_cents == sum(x.payout_cents for x in shares
                                            if x.organization_id == scenario.tree.district)
    assert estimate.organization_count == 3


def test_receivables_by_age_at_the_boundaries(db_url: str) -> None:
    today = date(2026, 11, 27)
    tree = make_tree(db_url)
    person = make_member(db_url, tree.club_a, tree.type_a, "Aino", "Aalto")
    token = make_staff(db_url, "ta@example.fi", tree.club_a, "treasurer")
    with session_scope(db_url) as s:
        for days, cents in ((0, 100), (1, 200), (30, 400), (31, 800), (60, 1600), (61, 3200),
                            (90, 6400), (91, 12800), (-5, 25600)):
            due = today - timedelta(days=days)
            create_manual_invoice(s, None, organization_id=tree.club_a, person_id=person,
                                  lines=[LineInput(tree.club_a, f"Maksu {days}", cents)],
                                  issue_date=min(due, today), due_date=due)
    with session_scope(db_url) as s:
        board = dashboard(s, actor(db_url, token), tree.club_a, today)
    assert [(a.key, a.invoice_count, a.open_cents) for a in board.receivables] == [
        ("not_due", 2, 25700), ("d1_30", 2, 600), ("d31_60", 2, 2400), ("d61_90", 2, 9600),
        ("d90", 1, 12800)]
    # The receivables report counts the same invoices into the same buckets, and neither
    # counts a paid invoice whose status is still open or a fully credited one.
    with session_scope(db_url) as s:
        report = run_report(s, actor(db_url, token), "receivables",
                            Filters(tree.club_a, today=today)).tables[0]
    rows, _total = report.split_total()
    assert [(r[1], r[2]) for r in rows] == [(a.invoice_count, a.open_cents)
                                            for a in board.receivables]
    assert [r[0] for r in rows] == [f"{a.label_fi} / {a.label_en}" for a in board.receivables]


def test_who_may_read_it(db_url: str) -> None:
    tree = make_tree(db_url)
    make_member(db_url, tree.club_a, tree.type_a, "Aino", "Aalto", "aino@example.fi")
    sibling = make_staff(db_url, "tb@example.fi", tree.club_b, "treasurer")
    viewer = make_staff(db_url, "va@example.fi", tree.club_a, "viewer")
    member = make_member_login(db_url, "aino@example.fi")
    today = date(2026, 11, 27)
    with session_scope(db_url) as s:
        for token, org_id in ((sibling, tree.club_a), (sibling, tree.district),
                              (member, tree.club_a), (viewer, tree.district)):
            with pytest.raises(PermissionDenied):
                dashboard(s, actor(db_url, token), org_id, today)
        with pytest.raises(NotFound):
            dashboard(s, actor(db_url, sibling), 999_999, today)
        assert dashboard(s, actor(db_url, viewer), tree.club_a, today).members_now == 1


def _run(url: str, club: int, type_id: int, period: str, cents: int, today: date) -> None:
    with session_scope(url) as s:
        set_fee(s, None, organization_id=club, period=period, amount_cents=cents,
                membership_type_id=type_id)
    with session_scope(url) as s:
        commit_run(s, None, club, True, period, today, today + timedelta(days=14), today=today)


def test_period_choice(db_url: str) -> None:
    """The periods with invoices in the reader's subtree; this year's by default when it
    has invoices, else the latest; a period chosen, and one with no invoices ignored."""
    today = helsinki_today()
    this, last, next_ = str(today.year), str(today.year - 1), str(today.year + 1)
    tree = make_tree(db_url)
    make_member(db_url, tree.club_a, tree.type_a, "Aino", "Aalto")
    make_member(db_url, tree.club_b, tree.type_b, "Olli", "Bergman")
    _run(db_url, tree.club_a, tree.type_a, last, 2500, today)
    _run(db_url, tree.club_a, tree.type_a, this, 3000, today)
    _run(db_url, tree.club_b, tree.type_b, next_, 2000, today)
    district = make_staff(db_url, "td@example.fi", tree.district, "treasurer")
    club_b = make_staff(db_url, "tb@example.fi", tree.club_b, "treasurer")

    def board(token: str, org_id: int, period: str | None = None):  # type: ignore[no-untyped-def]
        with session_scope(db_url) as s:
            return dashboard(s, actor(db_url, token), org_id, today, period)

    def shares(b) -> dict[str, int]:  # type: ignore[no-untyped-def]
        return {f.organization_name: f.invoiced_cents for f in b.shares}

    seen = board(district, tree.district)
    assert seen.periods == (next_, this, last)
    assert seen.period == this and shares(seen) == {"Seura A ry": 3000}
    chosen = board(district, tree.district, next_)
    assert chosen.period == next_ and shares(chosen) == {"Seura B ry": 2000}
    assert board(district, tree.district, last).period == last
    unknown = board(district, tree.district, "1999")
    assert unknown.period == this and shares(unknown) == {"Seura A ry": 3000}
    # Club B was invoiced for next year only: that is its default, and its only period.
    own = board(club_b, tree.club_b)
    assert own.periods == (next_,) and own.period == next_
    assert shares(own) == {"Seura B ry": 2000}
    assert board(club_b, tree.club_b, this).period == next_


def test_default_period() -> None:
    today = date(2026, 3, 1)
    assert default_period(("2027", "2026", "2025"), today) == "2026"
    assert default_period(("2025", "2024"), today) == "2025"
    assert default_period((), today) == "2026"


def test_latest_import_shows_refusals_and_lateness(db_url: str) -> None:
    """A refused file after an import is the latest attempt, with the import that went in
    beside it; the import is late once the previous banking day has passed without one."""
    tree = make_tree(db_url)
    treasurer = make_staff(db_url, "ta@example.fi", tree.club_a, "treasurer")
    operator = make_staff(db_url, "op@example.fi", None, None, operator=True)
    today = helsinki_today()

    def latest(token: str, day: date = today):  # type: ignore[no-untyped-def]
        with session_scope(db_url) as s:
            return dashboard(s, actor(db_url, token), tree.club_a, day).latest_import

    assert latest(treasurer) is None
    with session_scope(db_url) as s:
        record_refusal(s, None, "eka.xml", "upload", "Summat eivät täsmää")
    first = latest(operator)
    assert first is not None and (first.outcome, first.imported_at) == ("refused", None)
    assert first.late and first.message == "Summat eivät täsmää"
    bank = camt054([{"archive": "L-1", "cents": 1000, "name": "Joku", "date": today.isoformat()}],
                   msg_id="LATE-1")
    with session_scope(db_url) as s:
        import_bank_file(s, None, bank, "toka.xml", today=today)
    ok = latest(treasurer)
    assert ok is not None and ok.outcome == "imported" and not ok.late
    assert ok.imported_at == ok.created_at and ok.message is None
    with session_scope(db_url) as s:
        record_refusal(s, None, "kolmas.xml", "upload", "Väärä muoto")
    refused = latest(treasurer)
    assert refused is not None and refused.outcome == "refused"
    assert refused.imported_at == ok.imported_at and refused.created_at > ok.imported_at
    assert refused.message is None and refused.filename is None  # the operator's details
    assert latest(operator).message == "Väärä muoto"  # type: ignore[union-attr]
    # Two banking days on (a week on is past any weekend and holiday), it is late.
    assert latest(treasurer, today + timedelta(days=7)).late  # type: ignore[union-attr]
    assert not latest(treasurer, today + timedelta(days=1)).late  # type: ignore[union-attr]
