"""A few weeks of money in the demo: bank payments, the unmatched queue, a settlement.

Without it the dashboard, the payments list, the settlements and the reports of a fresh
`make run` would all show zeros. Everything goes through the product's own paths: daily
KTL files through the bank import and matching, one weekly settlement run created and
approved as the operator would, and a following week's payments left for the next run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlmodel import Session, col, select

from membook_app.banking.banking_days import is_banking_day
from membook_app.banking.references import make_national, national_to_rf
from membook_app.demo.bank_files import BankLine, camt053_statement, ktl_file
from membook_app.payments.bank_import import import_bank_file
from membook_app.settings import get_settings
from membook_app.settlements.runs import approve_run, create_run
from models import Invoice, Person

SETTLED_WEEKS = (date(2026, 11, 9), date(2026, 11, 16))  # paid out on Monday 23.11.
PENDING_WEEK = date(2026, 11, 23)  # waits for the settlement of Monday 30.11.
PAID_SHARE = 0.55  # of the run's invoices, over the two settled weeks
PENDING_SHARE = 0.15  # paid in the week still to be settled


@dataclass(frozen=True)
class DemoMoney:
    bank_files: int
    payments: int
    settlement_run_id: int


def _banking_days(monday: date) -> list[date]:
    return [d for d in (monday + timedelta(days=i) for i in range(5)) if is_banking_day(d)]


def _payment(rng: random.Random, number: int, day: date, reference: str, total: int,
             payer: str) -> BankLine:
    """A member's payment, now and then with the usual slips of real payers."""
    roll = rng.random()
    cents = total
    if roll < 0.04:
        cents = total // 2  # paid only part
    elif roll < 0.06:
        cents = total + 1000  # paid too much: a credit on the payer
    elif roll < 0.10:
        reference = national_to_rf(reference)  # the RF form of the same reference
    return BankLine(f"{day:%y%m%d}99{number:08d}", reference, cents, payer.upper(), day)


def _queue_payments(rng: random.Random, day: date, start: int) -> list[BankLine]:
    """Payments the matching cannot place: no usable reference, for the operator's queue."""
    lines = []
    for i in range(rng.choice((0, 1, 1))):
        reference = make_national(str(rng.randrange(10**6, 10**8)))
        lines.append(BankLine(f"{day:%y%m%d}99{start + i:08d}", reference,
                              rng.choice((2500, 3500, 4500)), "TUNTEMATON MAKSAJA", day))
    return lines


@dataclass
class _Bank:
    """The escrow account as the bank reports it: its balance runs from day to day."""

    iban: str
    balance: int = 0
    files: int = 0
    payments: int = 0


def _import_days(session: Session, rng: random.Random, bank: _Bank, days: list[date],
                 invoices: list[tuple[str, int, str]]) -> None:
    """Per banking day the KTL reference-payment file and the camt.053 statement, as the
    daily import takes them from the bank (the statement's payments are the same ones,
    so only its balances are new)."""
    per_day = -(-len(invoices) // len(days)) if days else 0
    for n, day in enumerate(days):
        chunk = invoices[n * per_day:(n + 1) * per_day]
        lines = [_payment(rng, bank.payments + 1 + i, day, ref, total, payer)
                 for i, (ref, total, payer) in enumerate(chunk)]
        lines += _queue_payments(rng, day, bank.payments + 1 + len(lines))
        bank.payments += len(lines)
        created = datetime.combine(day + timedelta(days=1), time(6, 15))
        if lines:
            import_bank_file(session, None, ktl_file(lines, account=bank.iban[4:],
                                                     created=created),
                             f"viitemaksut-{day:%Y%m%d}.txt", source="demo", today=day)
        import_bank_file(session, None, camt053_statement(
            lines, iban=bank.iban, opening_cents=bank.balance, day=day, created=created),
            f"tiliote-{day:%Y%m%d}.xml", source="demo", today=day)
        bank.balance += sum(line.cents for line in lines)
        bank.files += 2 if lines else 1


def seed_money(session: Session, run_id: int, keep_open: set[int], seed: int) -> DemoMoney:
    """Pay part of the demo invoice run through bank files and settle the first weeks.

    `keep_open` are payers whose invoices stay unpaid (the demo members who sign in to
    the portal should find an invoice to pay).
    """
    rng = random.Random(seed)
    rows = session.exec(
        select(Invoice.reference, Invoice.total_cents, Person.first_name, Person.last_name)
        .join(Person, col(Person.id) == Invoice.payer_id)
        .where(Invoice.run_id == run_id, col(Invoice.total_cents) > 0,
               col(Invoice.payer_id).not_in(keep_open or {0}))
        .order_by(col(Invoice.id))).all()
    invoices = [(ref, total, f"{last} {first}") for ref, total, first, last in rows]
    rng.shuffle(invoices)
    paid = int(len(invoices) * PAID_SHARE)
    pending = int(len(invoices) * PENDING_SHARE)
    settled_days = [d for monday in SETTLED_WEEKS for d in _banking_days(monday)]
    bank = _Bank(get_settings().escrow_iban.replace(" ", ""))
    _import_days(session, rng, bank, settled_days, invoices[:paid])
    run = create_run(session, None)
    # Paid out on the next banking day, after the last statement of the demo: the escrow
    # page shows the payouts as approved but not yet on the statement.
    approve_run(session, None, run.id)  # type: ignore[arg-type]
    _import_days(session, rng, bank, _banking_days(PENDING_WEEK), invoices[paid:paid + pending])
    return DemoMoney(bank.files, bank.payments, run.id)  # type: ignore[arg-type]
