"""Invoicing and payments by period: per invoicing organisation, and per organisation share.

Invoice level (grouped by period and the invoice's organisation): invoiced, credited,
paid, open and "over-covered" (paid + credited beyond the total), so that for every group

    invoiced = paid + open + credited − over-covered

holds exactly. Over-covered is zero as long as credit notes move what a credit leaves
over-paid to the payer's credit (`billing.invoices.create_credit_note`); the column shows
where the sum would otherwise break.

Share level (grouped by period and the line's organisation): each organisation's share
of what was invoiced and credited, and of what was paid pro rata (paid × line / total,
rounded down per line). The issue-date filter applies to the invoices; their credit
notes count whenever they were written.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from membook_app.reports.registry import (
    Column,
    ReportDef,
    Scope,
    Table,
    frame,
    register,
    with_total,
)
from models import Invoice, InvoiceLine, Organization, RunPriceLine

NO_PERIOD = "–"  # manual invoices may have no period
MONEY_KEYS = ("invoiced", "credited", "paid", "open", "overcovered")
PERIOD = Column("period", "Kausi", "Period")
ORG = Column("organization", "Yhdistys", "Organisation")
MONEY = (Column("invoiced", "Laskutettu", "Invoiced", "money"),
         Column("credited", "Hyvitetty", "Credited", "money"),
         Column("paid", "Maksettu", "Paid", "money"),
         Column("open", "Avoinna", "Open", "money"),
         Column("overcovered", "Ylikatettu", "Over-covered", "money"))


def invoice_totals(scope: Scope) -> sa.Select:
    """SQL: per period and invoicing organisation, counts and the money identity's parts."""
    rest = Invoice.total_cents - Invoice.paid_cents - Invoice.credited_cents
    return (sa.select(Invoice.period, Invoice.organization_id, sa.func.count(),
                      sa.func.sum(Invoice.total_cents), sa.func.sum(Invoice.credited_cents),
                      sa.func.sum(Invoice.paid_cents),
                      sa.func.sum(sa.case((rest > 0, rest), else_=0)),
                      sa.func.sum(sa.case((rest < 0, -rest), else_=0)))
            .where(Invoice.kind == "invoice", scope.in_orgs(Invoice.organization_id),
                   *scope.between(Invoice.issue_date))
            .group_by(Invoice.period, Invoice.organization_id))


def _invoiced(session: Session, scope: Scope, line: sa.Table,
              on: sa.ColumnElement[bool]) -> pd.DataFrame:
    """Invoiced and paid per period and share, of the lines in `line` (InvoiceLine, or
    RunPriceLine for run invoices' fee lines) joined to their invoices by `on`."""
    # Integer division: the same whole cents on both databases (a cast of the exact
    # quotient rounded to nearest on PostgreSQL but truncated on SQLite), and no numeric
    # arithmetic per line.
    pro_rata = sa.case((Invoice.total_cents > 0,
                        sa.cast(line.c.amount_cents, sa.BigInteger) * Invoice.paid_cents
                        // Invoice.total_cents),
                       else_=0)
    return frame(session.execute(
        sa.select(Invoice.period, line.c.organization_id, sa.func.sum(line.c.amount_cents),
                  sa.func.sum(pro_rata))
        .select_from(line).join(Invoice, on)
        .where(Invoice.kind == "invoice", scope.in_orgs(Invoice.organization_id),
               *scope.between(Invoice.issue_date))
        .group_by(Invoice.period, line.c.organization_id)).all(),
        ["period", "organization", "invoiced", "paid"])


def _share_rows(session: Session, scope: Scope) -> pd.DataFrame:
    own = InvoiceLine.__table__  # type: ignore[attr-defined]
    priced = RunPriceLine.__table__  # type: ignore[attr-defined]
    parts = [_invoiced(session, scope, own, own.c.invoice_id == Invoice.id),
             _invoiced(session, scope, priced, priced.c.run_price_id == Invoice.run_price_id)]
    invoiced = (pd.concat([p for p in parts if not p.empty] or parts[:1])
                .groupby(["period", "organization"], as_index=False, dropna=False).sum())
    original = aliased(Invoice)
    credited = frame(session.execute(
        sa.select(original.period, InvoiceLine.organization_id,
                  -sa.func.sum(InvoiceLine.amount_cents))
        .select_from(Invoice)
        .join(original, original.id == Invoice.credited_invoice_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(Invoice.kind == "credit_note", scope.in_orgs(original.organization_id),
               *scope.between(original.issue_date))
        .group_by(original.period, InvoiceLine.organization_id)).all(),
        ["period", "organization", "credited"])
    shares = invoiced.merge(credited, on=["period", "organization"], how="outer")
    shares = shares.fillna({"period": NO_PERIOD, "invoiced": 0, "paid": 0, "credited": 0})
    # A share may go to an ancestor outside the subtree (the federation's line on a
    # club's invoice): its name comes from the whole organisation table.
    names = dict(session.execute(sa.select(Organization.id, Organization.name).where(
        col(Organization.id).in_([int(i) for i in shares["organization"].unique()]))).all())
    return shares.assign(organization=shares["organization"].map(lambda i: names[int(i)]))


def _tables(session: Session, scope: Scope) -> list[Table]:
    totals = frame(session.execute(invoice_totals(scope)).all(),
                   ["period", "organization", "invoices", *MONEY_KEYS])
    totals["period"] = totals["period"].fillna(NO_PERIOD)
    totals["organization"] = scope.names(totals["organization"])
    return shape(totals, _share_rows(session, scope))


def shape(totals: pd.DataFrame, shares: pd.DataFrame) -> list[Table]:
    """pandas: totals per period, the period × organisation rows, the shares."""
    totals = totals.sort_values(["period", "organization"], ascending=[False, True])
    by_period = (totals.groupby("period", as_index=False)[["invoices", *MONEY_KEYS]].sum()
                 .sort_values("period", ascending=False))
    shares = shares.sort_values(["period", "organization"], ascending=[False, True])
    count = Column("invoices", "Laskuja", "Invoices", "int")
    return [
        Table("period", "Kausittain", "By period", (PERIOD, count, *MONEY),
              with_total(by_period, "period", sum_keys=["invoices", *MONEY_KEYS])),
        Table("data", "Kausittain ja yhdistyksittäin", "By period and organisation",
              (PERIOD, ORG, count, *MONEY),
              with_total(totals, "period", sum_keys=["invoices", *MONEY_KEYS])),
        Table("share", "Yhdistysten osuudet", "Organisation shares",
              (PERIOD, Column("organization", "Osuuden saaja", "Share of"),
               Column("invoiced", "Laskutettu osuus", "Invoiced share", "money"),
               Column("credited", "Hyvitetty osuus", "Credited share", "money"),
               Column("paid", "Maksettu osuus (suhteessa)", "Paid share (pro rata)", "money")),
              with_total(shares, "period", sum_keys=["invoiced", "credited", "paid"])),
    ]


REPORT = register(ReportDef(
    name="invoicing", fi="Laskutus ja maksut", en="Invoicing and payments",
    action="billing.read", tables=_tables,
    notes=("Päivämäärät rajaavat laskun päiväyksen / the dates filter the invoice date",)))
