"""Escrow reconciliation (operator only): the settlements package's `reconcile` as a report.

The escrow account holds every organisation's money, so the report ignores the chosen
organisation and is the operator's alone (checked by the registry and again by
`reconcile`). The end date is the day reconciled (default today). The figures are
`reconcile`'s own SQL aggregates; here they are only laid out as tables.
"""

from __future__ import annotations

import pandas as pd
from sqlmodel import Session

from membook_app.reports.registry import Column, ReportDef, Scope, Table, register
from membook_app.settlements.reconciliation import Amount, Reconciliation, reconcile

ITEM = Column("item", "Erä", "Item")
AMOUNT = Column("amount", "Summa", "Amount", "money")
COUNT = Column("count", "Rivejä", "Rows", "int")


def _row(key: str, fi: str, en: str, cents: int | None, count: int | None = None
         ) -> dict[str, object]:
    return {"key": key, "item": f"{fi} / {en}", "amount": cents, "count": count}


def _amount(a: Amount, sign: int = 1) -> dict[str, object]:
    return _row(a.key, a.fi, a.en, sign * a.cents, a.count)


def _tables(session: Session, scope: Scope) -> list[Table]:
    return shape(reconcile(session, scope.actor, scope.as_of))


def shape(rec: Reconciliation) -> list[Table]:
    """The expected balance and its terms, the statement, and the explained difference."""
    statement = rec.statement
    balance = pd.DataFrame([
        *[_amount(a) for a in rec.received],
        _amount(rec.settled, -1), _amount(rec.fees, -1), *[_amount(a, -1) for a in rec.refunds],
        _row("expected", "Odotettu saldo", "Expected balance", rec.expected_cents),
        _row("statement", f"Tiliote {statement.filename}" if statement else "Ei tiliotetta",
             "Statement balance" if statement else "No statement",
             statement.closing_cents if statement else None),
        _row("difference", "Erotus", "Difference", rec.difference_cents)])
    explained = pd.DataFrame([
        *[_amount(a) for a in rec.explained],
        _row("unexplained", "Selittämätön", "Unexplained", rec.unexplained_cents)])
    gap = rec.paytrail
    paytrail = pd.DataFrame([
        _row("booked", "Paytrail-maksut kirjattu", "Paytrail payments booked",
             gap.booked_cents, gap.booked_count),
        _row("payouts", "Paytrailin tilitykset", "Paytrail payouts", gap.payout_cents,
             gap.payout_count),
        _row("gap", "Paytrailissa tai palkkioina", "At Paytrail or its fees",
             gap.gap_cents)])
    return [
        Table("data", "Odotettu saldo ja tiliote", "Expected and statement balance",
              (ITEM, AMOUNT, COUNT), balance),
        Table("explained", "Erotuksen selitys", "The difference explained",
              (ITEM, AMOUNT, COUNT), explained),
        Table("paytrail", "Paytrail", "Paytrail", (ITEM, AMOUNT, COUNT), paytrail),
    ]


REPORT = register(ReportDef(
    name="escrow", fi="Asiakasvaratilin täsmäytys", en="Escrow reconciliation",
    action="billing.read", tables=_tables, filters=("to",), operator_only=True,
    notes=("Koko asiakasvaratili, yhdistyksestä riippumatta / the whole escrow account, "
           "whatever the organisation", "Loppupäivä = täsmäytyspäivä / end date = the day "
           "reconciled")))
