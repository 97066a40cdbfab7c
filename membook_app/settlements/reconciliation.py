"""Escrow reconciliation: what Membook's books say the escrow account should hold, against
the closing balance of the latest imported camt.053 statement (docs/settlements.md,
"Escrow reconciliation").

    expected = received − settled − fees − refunds

* **received** — credits into the escrow account as the bank booked them: reference
  payments (net of the bank's corrections), Paytrail's payouts (`psp_settlement`) and
  payments the operator marked to be refunded. Member payments booked from Paytrail's
  callbacks (`source = "paytrail"`) are *not* counted: their money reaches the account
  only in Paytrail's payout, and counting both would count it twice. Their gap to the
  payouts (money still at Paytrail, and Paytrail's fees) is reported beside.
* **settled** — the payout of every approved settlement;
* **fees** — the transaction fees kept from settlements (the operator's, no longer the
  organisations' money);
* **refunds** — payments marked to be refunded: owed back to their payers, or paid back
  (the operator recorded the day, `payments.refunds.mark_refund_paid`); and credit paid
  back to payers (`payments.credit_refunds`) once the operator recorded the day: until
  then that money is still in the account, counted in the payments it came with.

The difference to the statement is explained line by line: the balance already in the
account before Membook's first statement, payments waiting in the unmatched queue,
payments marked for refund and not yet paid back, outgoing debits that neither a
settlement payout nor a recorded refund explains (bank charges, fee transfers), fees
still in the account, approved payouts the statement does not show yet, and money booked
after the statement date. What is left over is money
on one side that the other side does not know (typically a bank file not imported).

Everything is a handful of SQL aggregates, whatever the number of payments.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from membook_app.accounts.permissions import Actor
from membook_app.errors import PermissionDenied
from membook_app.formatting import HELSINKI
from membook_app.payments.bank_import import helsinki_today
from membook_app.payments.matching import MATCHED_STATUSES
from membook_app.settings import get_settings
from models import BankImport, CreditRefund, Payment, Settlement, SettlementRun

_PAYMENT = Payment.__table__.c  # type: ignore[attr-defined]
_SETTLEMENT = Settlement.__table__.c  # type: ignore[attr-defined]
_RUN = SettlementRun.__table__.c  # type: ignore[attr-defined]
_IMPORT = BankImport.__table__.c  # type: ignore[attr-defined]
_CREDIT_REFUND = CreditRefund.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Amount:
    """One named sum with the number of rows behind it (a term or a difference line)."""

    key: str
    fi: str
    en: str
    cents: int
    count: int = 0


@dataclass(frozen=True)
class StatementBalance:
    """The camt.053 statement the books are compared with."""

    bank_import_id: int
    filename: str
    iban: str | None
    closing_date: date
    closing_cents: int


@dataclass(frozen=True)
class PaytrailGap:
    """Online payments booked from callbacks against Paytrail's payouts to the account."""

    booked_cents: int
    booked_count: int
    payout_cents: int
    payout_count: int

    @property
    def gap_cents(self) -> int:
        """Still at Paytrail, plus Paytrail's fees (payouts are net of them)."""
        return self.booked_cents - self.payout_cents


@dataclass(frozen=True)
class Reconciliation:
    """The expected escrow balance, the statement's balance and why they differ."""

    as_of: date
    received: tuple[Amount, ...]
    settled: Amount
    fees: Amount
    refunds: tuple[Amount, ...]
    statement: StatementBalance | None
    explained: tuple[Amount, ...]
    paytrail: PaytrailGap

    @property
    def received_cents(self) -> int:
        return sum(a.cents for a in self.received)

    @property
    def refunds_cents(self) -> int:
        return sum(a.cents for a in self.refunds)

    @property
    def expected_cents(self) -> int:
        """received − settled − fees − refunds."""
        return self.received_cents - self.settled.cents - self.fees.cents - self.refunds_cents

    @property
    def difference_cents(self) -> int | None:
        """Statement balance − expected balance (None without a statement)."""
        if self.statement is None:
            return None
        return self.statement.closing_cents - self.expected_cents

    @property
    def unexplained_cents(self) -> int | None:
        """What the lines do not explain: 0 when every bank movement is accounted for."""
        if self.difference_cents is None:
            return None
        return self.difference_cents - sum(a.cents for a in self.explained)


def _norm(expr: sa.ColumnElement[str | None]) -> sa.ColumnElement[str]:
    """A reference as compared: without spaces, upper case (RF references are printed in
    groups of four, and banks echo them either way)."""
    return sa.func.upper(sa.func.replace(expr, " ", ""))


def _escrow_statements(as_of: date) -> sa.Select[Any]:
    iban = get_settings().escrow_iban.replace(" ", "").upper()
    return (sa.select(_IMPORT.id, _IMPORT.filename, _IMPORT.statement_iban,
                      _IMPORT.closing_balance_date, _IMPORT.closing_balance_cents,
                      _IMPORT.opening_balance_cents)
            .where(_IMPORT.closing_balance_cents.is_not(None),
                   _IMPORT.closing_balance_date.is_not(None),
                   _IMPORT.closing_balance_date <= as_of,
                   sa.or_(_IMPORT.statement_iban.is_(None), _IMPORT.statement_iban == iban)))


def _approved_settlements(approved_before: datetime) -> sa.Subquery:
    """Settlements of runs approved before the moment, with their payout reference."""
    return (sa.select(_SETTLEMENT.id, _SETTLEMENT.status, _SETTLEMENT.payout_cents,
                      _SETTLEMENT.fee_cents, _norm(_SETTLEMENT.reference).label("ref"))
            .join(SettlementRun.__table__, _RUN.id == _SETTLEMENT.run_id)  # type: ignore[arg-type]
            .where(_RUN.status == "approved", _RUN.approved_at < approved_before)
            .subquery("approved"))


def _bank_sums(session: Session, as_of: date, statement_date: date | None,
               first_date: date | None, approved: sa.Subquery
               ) -> dict[tuple[str, str], tuple[int, int]]:
    """Bank payments up to `as_of` summed by kind and period: (kind, period) → (count, cents).

    Periods: `early` (before the first statement's day: part of its opening balance),
    `on` (up to the statement date) and `after`.

    The database sums per status and booking day — read in index order from
    `ix_payment_status_day` without touching the payments — and this puts the few
    thousand sums in kinds and periods; only the outgoing debits are compared with the
    approved payouts' references. (One CASE per payment with that comparison as an outer
    join took a second for 300,000 payments on SQLite.)
    """
    per_day = session.execute(
        sa.select(_PAYMENT.status, _PAYMENT.booking_date, sa.func.count(),
                  sa.func.sum(_PAYMENT.amount_cents))
        .where(_PAYMENT.source == "bank", _PAYMENT.booking_date <= as_of)
        .group_by(_PAYMENT.status, _PAYMENT.booking_date)).all()
    paid_refs = sa.select(approved.c.ref).where(approved.c.status == "approved")
    payouts = session.execute(
        sa.select(_PAYMENT.booking_date, sa.func.count(), sa.func.sum(_PAYMENT.amount_cents))
        .where(_PAYMENT.source == "bank", _PAYMENT.status == "outgoing",
               _PAYMENT.booking_date <= as_of, _norm(_PAYMENT.reference).in_(paid_refs))
        .group_by(_PAYMENT.booking_date)).all()

    def period(day: date) -> str:
        if statement_date is None:
            return "on"
        if first_date is not None and day < first_date:
            return "early"
        return "on" if day <= statement_date else "after"

    sums: dict[tuple[str, str], tuple[int, int]] = {}

    def add(kind: str, day: date, count: int, cents: int) -> None:
        key = (kind, period(day))
        had_count, had_cents = sums.get(key, (0, 0))
        sums[key] = (had_count + count, had_cents + cents)

    for status, day, count, cents in per_day:
        add(_KINDS.get(status, "other"), day, int(count), int(cents or 0))
    for day, count, cents in payouts:         # outgoing debits that are payouts
        add("outgoing", day, -int(count), -int(cents or 0))
        add("payout", day, int(count), int(cents or 0))
    return sums


# Payment status → kind of bank movement (outgoing debits matching an approved payout's
# reference are "payout", see _bank_sums).
_KINDS = {**dict.fromkeys(MATCHED_STATUSES, "reference"), "reversal": "correction",
          "psp_settlement": "psp", "refund": "refund", "unmatched": "unmatched",
          "outgoing": "outgoing"}


ALL_PERIODS = ("early", "on", "after")


def _amount(sums: dict[tuple[str, str], tuple[int, int]], key: str, fi: str, en: str,
            kinds: tuple[str, ...], periods: tuple[str, ...] = ALL_PERIODS, sign: int = 1
            ) -> Amount:
    """The sum and count of the given kinds over the given periods, as a named amount."""
    count = sum(sums.get((k, p), (0, 0))[0] for k in kinds for p in periods)
    cents = sum(sums.get((k, p), (0, 0))[1] for k in kinds for p in periods)
    return Amount(key, fi, en, sign * cents, count)


def reconcile(session: Session, actor: Actor, as_of: date | None = None) -> Reconciliation:
    """The escrow account reconciled on `as_of` (default: today in Helsinki); operator only,
    because the escrow account holds every organisation's money."""
    if not actor.is_operator:
        raise PermissionDenied("Vain operaattori näkee asiakasvaratilin täsmäytyksen",
                               "Only the operator may see the escrow reconciliation")
    day = as_of or helsinki_today()
    approved_before = datetime.combine(day + timedelta(days=1), time(0), HELSINKI)
    statements = _escrow_statements(day)
    latest = session.execute(statements.order_by(_IMPORT.closing_balance_date.desc(),
                                                 _IMPORT.id.desc()).limit(1)).first()
    first = session.execute(statements.order_by(_IMPORT.closing_balance_date,
                                                _IMPORT.id).limit(1)).first()
    approved = _approved_settlements(approved_before)
    statement_date = latest.closing_balance_date if latest else None
    sums = _bank_sums(session, day, statement_date, first.closing_balance_date if first else None,
                      approved)
    paid_back = _refunds_paid(session, day, statement_date)
    credit_back = _credit_refunds_paid(session, day, statement_date)

    settled_n, settled_c, fees_c, missing_n, missing_c, differs_c = _settlement_sums(
        session, approved, statement_date)
    psp = _amount(sums, "psp", "Paytrailin tilitykset", "Paytrail payouts", ("psp",))
    marked = _amount(sums, "refund", "Palautettaviksi merkityt maksut",
                     "Payments marked for refund", ("refund",))
    received = (
        _amount(sums, "reference", "Viitemaksut", "Reference payments", ("reference",)),
        _amount(sums, "correction", "Pankin oikaisut", "Bank corrections", ("correction",)),
        psp, marked,
    )
    explained: tuple[Amount, ...] = ()
    statement = None
    if latest is not None and first is not None:
        statement = StatementBalance(int(latest.id), latest.filename, latest.statement_iban,
                                     latest.closing_balance_date,
                                     int(latest.closing_balance_cents))
        explained = _explain(sums, int(first.opening_balance_cents or 0), fees_c,
                             missing_n, missing_c, differs_c, paid_back[1], credit_back)
    booked_n, booked_c = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(_PAYMENT.amount_cents), 0))
        .where(_PAYMENT.source == "paytrail", _PAYMENT.booking_date <= day)).one()
    return Reconciliation(
        as_of=day, received=received,
        settled=Amount("settled", "Tilitetty yhdistyksille", "Paid out to organisations",
                       settled_c, settled_n),
        fees=Amount("fees", "Palvelumaksut", "Transaction fees", fees_c),
        refunds=(Amount("refunds_owed", "Palautettavat maksajille", "Refunds owed to payers",
                        marked.cents - paid_back[0].cents, marked.count - paid_back[0].count),
                 dataclasses.replace(paid_back[0], cents=paid_back[0].cents + credit_back[0].cents,
                                     count=paid_back[0].count + credit_back[0].count)),
        statement=statement, explained=explained,
        paytrail=PaytrailGap(int(booked_c), int(booked_n), psp.cents, psp.count))


def _refunds_paid(session: Session, as_of: date, statement_date: date | None
                  ) -> tuple[Amount, Amount]:
    """Refunds paid back by `as_of` (a term of the books) and those booked and paid back by
    the statement date (their debit is on the statement): one query over the few payments
    marked for refund."""
    refund = sa.and_(_PAYMENT.source == "bank", _PAYMENT.status == "refund",
                     _PAYMENT.booking_date <= as_of, _PAYMENT.refunded_on.is_not(None))
    by_day = _PAYMENT.refunded_on <= as_of
    # Paid back by the statement date: its debit should be on the statement.
    on_statement = (sa.and_(_PAYMENT.refunded_on <= statement_date,
                            _PAYMENT.booking_date <= statement_date)
                    if statement_date else sa.false())
    n_day, c_day, n_st, c_st = session.execute(sa.select(
        sa.func.count(sa.case((by_day, 1))),
        sa.func.coalesce(sa.func.sum(sa.case((by_day, _PAYMENT.amount_cents), else_=0)), 0),
        sa.func.count(sa.case((on_statement, 1))),
        sa.func.coalesce(sa.func.sum(sa.case((on_statement, _PAYMENT.amount_cents),
                                             else_=0)), 0),
    ).where(refund)).one()
    return (Amount("refunds_paid", "Palautettu maksajille", "Refunds paid back to payers",
                   int(c_day), int(n_day)),
            Amount("refunds_paid_on_statement", "", "", int(c_st), int(n_st)))


def _credit_refunds_paid(session: Session, as_of: date, statement_date: date | None
                         ) -> tuple[Amount, Amount]:
    """Credit refunds paid back by `as_of` and those paid back by the statement date (their
    debit is on the statement): one query over the few credit refunds."""
    by_day = _CREDIT_REFUND.paid_on <= as_of
    on_statement = _CREDIT_REFUND.paid_on <= statement_date if statement_date else sa.false()
    n_day, c_day, n_st, c_st = session.execute(sa.select(
        sa.func.count(sa.case((by_day, 1))),
        sa.func.coalesce(sa.func.sum(sa.case((by_day, _CREDIT_REFUND.amount_cents),
                                             else_=0)), 0),
        sa.func.count(sa.case((on_statement, 1))),
        sa.func.coalesce(sa.func.sum(sa.case((on_statement, _CREDIT_REFUND.amount_cents),
                                             else_=0)), 0),
    ).where(_CREDIT_REFUND.paid_on.is_not(None))).one()
    return (Amount("credit_refunds_paid", "", "", int(c_day), int(n_day)),
            Amount("credit_refunds_paid_on_statement", "", "", int(c_st), int(n_st)))


def _settlement_sums(session: Session, approved: sa.Subquery, statement_date: date | None
                     ) -> tuple[int, int, int, int, int, int]:
    """(payouts, their sum, fees, payouts not on the statement and their sum, paid amounts'
    differences from the approved payouts) — one query."""
    debits = sa.select(_norm(_PAYMENT.reference).label("ref"), _PAYMENT.amount_cents).where(
        _PAYMENT.source == "bank", _PAYMENT.status == "outgoing",
        _PAYMENT.booking_date <= statement_date if statement_date else sa.false()
    ).subquery("debits")
    on_statement = (sa.select(debits.c.ref, (-sa.func.sum(debits.c.amount_cents)).label("paid"))
                    .group_by(debits.c.ref).subquery("paid"))
    is_payout = approved.c.status == "approved"
    unpaid = sa.and_(is_payout, on_statement.c.paid.is_(None))
    row = session.execute(sa.select(
        sa.func.count(sa.case((is_payout, 1))),
        sa.func.coalesce(sa.func.sum(sa.case((is_payout, approved.c.payout_cents), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(approved.c.fee_cents), 0),
        sa.func.count(sa.case((unpaid, 1))),
        sa.func.coalesce(sa.func.sum(sa.case((unpaid, approved.c.payout_cents), else_=0)), 0),
        sa.func.coalesce(sa.func.sum(sa.case(
            (sa.and_(is_payout, on_statement.c.paid.is_not(None)),
             approved.c.payout_cents - on_statement.c.paid), else_=0)), 0),
    ).select_from(approved.outerjoin(on_statement, on_statement.c.ref == approved.c.ref))).one()
    return tuple(int(v) for v in row)  # type: ignore[return-value]


def _less(amount: Amount, part: Amount, sign: int = 1) -> Amount:
    """`amount` without `part` (sign −1: without the debits `part` stands for)."""
    return dataclasses.replace(amount, cents=amount.cents - sign * part.cents,
                               count=amount.count - part.count)


def _explain(sums: dict[tuple[str, str], tuple[int, int]], opening_first: int, fees: int,
             missing_n: int, missing_c: int, differs_c: int, paid_back: Amount,
             credit_back: tuple[Amount, Amount]) -> tuple[Amount, ...]:
    """Statement − expected, term by term (see the module docstring); lines of 0 € with
    nothing behind them are left out."""
    every = ("reference", "correction", "psp", "refund", "unmatched", "payout", "outgoing",
             "other")
    early = _amount(sums, "opening", "", "", every, ("early",))
    on = ("early", "on")
    lines = [
        Amount("opening", "Tilillä ennen ensimmäistä tuotua tiliotetta",
               "In the account before the first imported statement",
               opening_first - early.cents, early.count),
        _amount(sums, "unmatched", "Kohdistamattomat maksut odottavat",
                "Unmatched payments waiting", ("unmatched",), on),
        _less(_amount(sums, "refund", "Palautettaviksi merkityt, tilillä kunnes palautetaan",
                      "Marked for refund, in the account until paid back", ("refund",), on),
              paid_back),
        # A refund recorded as paid back explains one outgoing debit of its amount.
        _less(_less(_amount(sums, "outgoing",
                            "Lähteneet veloitukset, joita mikään tilitys tai kirjattu palautus "
                            "ei selitä", "Outgoing debits no settlement or recorded refund "
                            "explains (bank charges, fee transfers)", ("outgoing",), on),
                    paid_back, sign=-1),
              credit_back[1], sign=-1),
        # Credit paid back after the statement date: the books no longer count it, the
        # statement still shows it.
        dataclasses.replace(_less(credit_back[0], credit_back[1]), key="credit_refunds_pending",
                            fi="Saldon palautukset, joita tiliote ei vielä näytä",
                            en="Credit refunds paid back after the statement date"),
        _amount(sums, "other", "Muut pankkitapahtumat", "Other bank movements", ("other",), on),
        Amount("fees", "Palvelumaksut ovat tilillä kunnes ne siirretään",
               "Transaction fees stay in the account until transferred", fees),
        Amount("payouts_pending", "Hyväksytyt tilitykset, joita tiliote ei vielä näytä",
               "Approved payouts not yet on the statement", missing_c, missing_n),
        Amount("payouts_differ", "Tiliotteen tilitykset eroavat hyväksytyistä",
               "Payouts on the statement differ from the approved amounts", differs_c),
        _amount(sums, "after", "Kirjattu tiliotteen päivän jälkeen",
                "Booked after the statement date", ("reference", "correction", "psp"),
                ("after",), sign=-1),
    ]
    return tuple(line for line in lines if line.cents or line.count)
