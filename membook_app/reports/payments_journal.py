"""Payments journal: all incoming money, the rule that matched it and its allocations.

Incoming money is every payment except outgoing debits and Paytrail payouts (whose
member payments are booked from the callbacks). For every set of payments

    total = allocated + waiting in the unmatched queue + refunded

(a correction is a negative payment with negative allocations). The reconciliation table
shows the three parts and the difference, which is zero unless something is wrong.

Scope: for an organisation, the payments booked to its subtree's invoices or paid with a
reference of one of them (as the payments list decides); the unmatched queue and refunds
belong to no organisation, so they appear only in the operator's all-organisations view.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from membook_app.reports.registry import (
    Column,
    ReportDef,
    Scope,
    Table,
    frame,
    register,
    with_total,
)
from models import Allocation, Invoice, Organization, Payment

NOT_INCOMING = ("outgoing", "psp_settlement", "new")
SOURCES = {"bank": "pankki / bank", "paytrail": "Paytrail", "manual": "käsin / manual"}


def incoming(scope: Scope) -> list[sa.ColumnElement[bool]]:
    """SQL conditions on Payment: incoming money of the scope, inside the dates."""
    where = [col(Payment.status).not_in(NOT_INCOMING), *scope.between(Payment.booking_date)]
    if scope.organization is not None:
        # Aliases: the detail query joins Organization and Invoice itself, and these
        # subqueries must not correlate to those.
        org, inv, alloc = aliased(Organization), aliased(Invoice), aliased(Allocation)
        inside = scope.in_subtree(org.path)
        where.append(sa.or_(
            sa.exists(select(alloc.id).join(inv, inv.id == alloc.invoice_id)
                      .join(org, org.id == inv.organization_id)
                      .where(alloc.payment_id == Payment.id, inside)),
            sa.exists(select(inv.id).join(org, org.id == inv.organization_id)
                      .where(inv.reference == Payment.national_reference, inside))))
    return where


def _tables(session: Session, scope: Scope) -> list[Table]:
    where = incoming(scope)
    by_status = frame(session.execute(
        sa.select(Payment.source, Payment.status, sa.func.coalesce(Payment.match_rule, "–"),
                  sa.func.count(), sa.func.sum(Payment.amount_cents))
        .where(*where).group_by(Payment.source, Payment.status, Payment.match_rule)).all(),
        ["source", "status", "match_rule", "payments", "amount"])
    by_rule = frame(session.execute(
        sa.select(Allocation.kind, sa.func.coalesce(Allocation.rule, "–"), sa.func.count(),
                  sa.func.sum(Allocation.amount_cents))
        .join(Payment, Payment.id == Allocation.payment_id)
        .where(*where).group_by(Allocation.kind, Allocation.rule)).all(),
        ["kind", "rule", "allocations", "allocated"])
    return shape(by_status, by_rule)


def reconciliation(by_status: pd.DataFrame, by_rule: pd.DataFrame) -> pd.DataFrame:
    """The journal's total against its parts: allocated, waiting, refunded, difference."""
    def status_sum(*statuses: str) -> int:
        return int(by_status.loc[by_status["status"].isin(statuses), "amount"].sum())

    total = int(by_status["amount"].sum()) if not by_status.empty else 0
    allocated = int(by_rule["allocated"].sum()) if not by_rule.empty else 0
    to_invoices = int(by_rule.loc[by_rule["kind"] != "credit", "allocated"].sum())
    waiting, refunded = status_sum("unmatched"), status_sum("refund")
    rows = [("total", "Saapunut yhteensä", "Incoming total", total),
            ("allocated", "Kohdistettu", "Allocated", allocated),
            ("to_invoices", "– laskuille", "– to invoices", to_invoices),
            ("to_credit", "– maksajan saldolle", "– to payer credit", allocated - to_invoices),
            ("waiting", "Kohdistamatta jonossa", "Waiting in the unmatched queue", waiting),
            ("refunded", "Palautettava", "Refunded", refunded),
            ("difference", "Erotus", "Difference", total - allocated - waiting - refunded)]
    return pd.DataFrame([{"key": k, "label": f"{fi} / {en}", "amount": v}
                         for k, fi, en, v in rows])


def shape(by_status: pd.DataFrame, by_rule: pd.DataFrame) -> list[Table]:
    """pandas: the reconciliation, per source and status, per allocation rule."""
    by_status = by_status.assign(source=by_status["source"].map(lambda s: SOURCES.get(s, s)))
    by_status = by_status.sort_values(["source", "status", "match_rule"])
    by_rule = by_rule.sort_values(["kind", "rule"])
    return [
        Table("reconciliation", "Täsmäytys", "Reconciliation",
              (Column("label", "Erä", "Item"), Column("amount", "Summa", "Amount", "money")),
              reconciliation(by_status, by_rule)),
        Table("data", "Lähteen, tilan ja säännön mukaan", "By source, status and rule",
              (Column("source", "Lähde", "Source"), Column("status", "Tila", "Status"),
               Column("match_rule", "Kohdistussääntö", "Matching rule"),
               Column("payments", "Maksuja", "Payments", "int"),
               Column("amount", "Summa", "Amount", "money")),
              with_total(by_status, "source", sum_keys=["payments", "amount"])),
        Table("rule", "Kohdistukset säännön mukaan", "Allocations by rule",
              (Column("kind", "Laji", "Kind"), Column("rule", "Sääntö", "Rule"),
               Column("allocations", "Kohdistuksia", "Allocations", "int"),
               Column("allocated", "Kohdistettu", "Allocated", "money")),
              with_total(by_rule, "kind", sum_keys=["allocations", "allocated"])),
    ]


DETAIL = (
    Column("booking_date", "Kirjauspäivä", "Booked", "date"),
    Column("payment_id", "Maksu", "Payment", "int"),
    Column("source", "Lähde", "Source"), Column("source_id", "Arkistointitunnus", "Archive id"),
    Column("payer", "Maksaja", "Payer"), Column("reference", "Viite", "Reference"),
    Column("amount", "Maksun summa", "Payment amount", "money"),
    Column("status", "Tila", "Status"), Column("match_rule", "Kohdistussääntö", "Matching rule"),
    Column("allocated", "Kohdistettu", "Allocated", "money"),
    Column("allocation_rule", "Kohdistuksen sääntö", "Allocation rule"),
    Column("invoice", "Lasku", "Invoice"), Column("organization", "Yhdistys", "Organisation"),
)


def detail(scope: Scope) -> sa.Select:
    """SQL: each payment with each of its allocations (a payment without any: one row)."""
    return (sa.select(Payment.booking_date, Payment.id, Payment.source, Payment.source_id,
                      Payment.payer_name, Payment.reference, Payment.amount_cents,
                      Payment.status, Payment.match_rule, Allocation.amount_cents,
                      Allocation.rule, Invoice.reference, Organization.name)
            .select_from(Payment)
            .join(Allocation, Allocation.payment_id == Payment.id, isouter=True)
            .join(Invoice, Invoice.id == Allocation.invoice_id, isouter=True)
            .join(Organization, Organization.id == Invoice.organization_id, isouter=True)
            .where(*incoming(scope))
            .order_by(Payment.booking_date, Payment.id, Allocation.id))


REPORT = register(ReportDef(
    name="payments-journal", fi="Maksupäiväkirja", en="Payments journal",
    action="billing.read", tables=_tables, detail_columns=DETAIL, detail=detail,
    detail_fi="Maksut ja kohdistukset", detail_en="Payments and allocations",
    notes=("Päivämäärät rajaavat kirjauspäivän / the dates filter the booking date",)))
