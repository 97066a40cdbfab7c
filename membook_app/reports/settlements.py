"""Settlements per organisation and week, with their lines.

The `Settlement` rows are the aggregates themselves (one per organisation and run); the
database sums them per organisation and run, pandas labels each run with the ISO week of
its cut-off (Helsinki time) and pivots organisation × week. The detail is the
`SettlementLine`s: each organisation's share of each allocation, with payment and invoice.
The dates filter the runs' cut-off. Only the operator sees draft runs: a draft is the
operator's working copy until approved (docs/settlements.md), so everyone else reads the
approved runs, as on the settlement pages (`settlements.views`).
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from membook_app.formatting import HELSINKI
from membook_app.reports.registry import (
    Column,
    ReportDef,
    Scope,
    Table,
    frame,
    register,
    with_total,
)
from membook_app.settlements.report_xlsx import LINE_KIND
from models import Invoice, Organization, Payment, Settlement, SettlementLine, SettlementRun

MONEY_KEYS = ("gross", "reversals", "fees", "carried_in", "net", "payout")
STATUS_FI = {"draft": "luonnos / draft", "approved": "hyväksytty / approved",
             "carried": "siirtyy / carried"}


def _runs_visible(scope: Scope) -> list[sa.ColumnElement[bool]]:
    """SQL: the runs the asker may see (the operator every run, others approved ones)."""
    return [] if scope.actor.is_operator else [SettlementRun.status == "approved"]


def _tables(session: Session, scope: Scope) -> list[Table]:
    rows = session.execute(
        sa.select(SettlementRun.id, SettlementRun.cut_off, Settlement.organization_id,
                  Settlement.status, sa.func.sum(Settlement.payment_count),
                  sa.func.sum(Settlement.gross_cents), sa.func.sum(Settlement.reversal_cents),
                  sa.func.sum(Settlement.fee_cents), sa.func.sum(Settlement.carried_in_cents),
                  sa.func.sum(Settlement.net_cents), sa.func.sum(Settlement.payout_cents))
        .select_from(Settlement)
        .join(SettlementRun, SettlementRun.id == Settlement.run_id)
        .where(scope.in_orgs(Settlement.organization_id), *_runs_visible(scope),
               *scope.between_times(SettlementRun.cut_off))
        .group_by(SettlementRun.id, SettlementRun.cut_off, Settlement.organization_id,
                  Settlement.status)).all()
    df = frame(rows, ["run", "cut_off", "organization", "status", "payments", *MONEY_KEYS])
    df["organization"] = scope.names(df["organization"])
    return shape(df)


def _local(cut_off: object) -> pd.Timestamp:
    """A stored cut-off (UTC; SQLite returns it naive) in Helsinki time."""
    stamp = pd.Timestamp(cut_off)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
    return stamp.tz_convert(HELSINKI)


def _week(cut_off: object) -> str:
    year, week, _ = _local(cut_off).isocalendar()
    return f"{year}-V{week:02d}"


def shape(df: pd.DataFrame) -> list[Table]:
    """pandas: the week of each run, organisation × week net, and the rows per week."""
    df = df.copy()
    df["week"] = df["cut_off"].map(_week) if not df.empty else []
    df["cut_off_date"] = df["cut_off"].map(lambda c: _local(c).date()) if not df.empty else []
    df["status"] = df["status"].map(lambda s: STATUS_FI.get(s, s)) if not df.empty else []
    df = df.sort_values(["week", "organization"])
    weeks = sorted(df["week"].unique()) if not df.empty else []
    if df.empty:
        pivot = pd.DataFrame(columns=["organization", "total"])
    else:
        pivot = (df.pivot_table(index="organization", columns="week", values="net",
                                aggfunc="sum", fill_value=0)
                 .reindex(columns=weeks, fill_value=0).reset_index())
        pivot["total"] = pivot[weeks].sum(axis=1)
    money = [Column(k, fi, en, "money") for k, fi, en in (
        ("gross", "Brutto", "Gross"), ("reversals", "Oikaisut", "Reversals"),
        ("fees", "Palkkiot", "Fees"), ("carried_in", "Siirtynyt", "Carried in"),
        ("net", "Netto", "Net"), ("payout", "Maksetaan", "Payout"))]
    org = Column("organization", "Yhdistys", "Organisation")
    return [
        Table("week", "Netto viikoittain", "Net by week",
              (org, *[Column(w, w, w, "money") for w in weeks],
               Column("total", "Yhteensä", "Total", "money")),
              with_total(pivot, "organization", sum_keys=[*weeks, "total"])),
        Table("data", "Tilitykset", "Settlements",
              (Column("week", "Viikko", "Week"),
               Column("cut_off_date", "Rajapäivä", "Cut-off", "date"), org,
               Column("status", "Tila", "Status"),
               Column("payments", "Maksuja", "Payments", "int"), *money),
              with_total(df, "week", sum_keys=["payments", *MONEY_KEYS])),
    ]


DETAIL = (
    Column("cut_off", "Rajapäivä", "Cut-off", "date"),
    Column("organization", "Yhdistys", "Organisation"),
    Column("settlement", "Tilitysviite", "Settlement reference"),
    Column("kind", "Laji", "Kind"),
    Column("booking_date", "Maksupäivä", "Paid on", "date"),
    Column("payer", "Maksaja", "Payer"), Column("invoice", "Lasku", "Invoice"),
    Column("amount", "Osuus", "Share", "money"), Column("fee", "Palkkio", "Fee", "money"),
)


def _kind_label() -> sa.ColumnElement[str]:
    """SQL: a line's kind in words ("maksu / payment"), as the settlement's own export."""
    return sa.case({code: f"{fi} / {en}" for code, (fi, en) in LINE_KIND.items()},
                   value=SettlementLine.kind, else_=SettlementLine.kind)


def detail(scope: Scope) -> sa.Select:
    """SQL: the settlement lines of the chosen runs and organisations."""
    return (sa.select(SettlementRun.cut_off, Organization.name,
                      Settlement.reference, _kind_label(), Payment.booking_date,
                      Payment.payer_name, Invoice.reference, SettlementLine.amount_cents,
                      SettlementLine.fee_cents)
            .select_from(SettlementLine)
            .join(Settlement, Settlement.id == SettlementLine.settlement_id)
            .join(SettlementRun, SettlementRun.id == Settlement.run_id)
            .join(Organization, Organization.id == SettlementLine.organization_id)
            .join(Payment, Payment.id == SettlementLine.payment_id)
            .join(Invoice, Invoice.id == SettlementLine.invoice_id)
            .where(scope.in_orgs(SettlementLine.organization_id), *_runs_visible(scope),
                   *scope.between_times(SettlementRun.cut_off))
            .order_by(SettlementLine.id))


REPORT = register(ReportDef(
    name="settlements", fi="Tilitykset", en="Settlements", action="billing.read",
    tables=_tables, detail_columns=DETAIL, detail=detail, detail_fi="Tilitysrivit",
    detail_en="Settlement lines",
    notes=("Päivämäärät rajaavat tilitysajon rajahetken / the dates filter the run's "
           "cut-off",)))
