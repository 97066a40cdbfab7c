"""Open receivables by age (not due, 1–30, 31–60, 61–90, over 90 days), with the members
behind each bucket.

The database puts every open invoice in its bucket (`reports.ages`, shared with the
dashboard: a CASE on the due date against cut-off dates computed from "today") and sums
per organisation and bucket; pandas pivots that into organisation × bucket. The detail
is the invoices themselves with the payer, filtered by bucket, paged on the page and
streamed into the export.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from membook_app.reports.ages import AGE_BUCKETS, age_bucket, open_cents, open_invoices
from membook_app.reports.registry import (
    Column,
    ReportDef,
    Scope,
    Table,
    frame,
    register,
    with_total,
)
from models import Invoice, Membership, Organization, Person

BUCKETS = tuple((b.key, b.label) for b in AGE_BUCKETS)
LABELS = dict(BUCKETS)


def bucket(scope: Scope) -> sa.ColumnElement[str]:
    """SQL: the age bucket of an invoice's due date on the day counted from."""
    return age_bucket(scope.as_of)


def _open_invoices(scope: Scope) -> list[sa.ColumnElement[bool]]:
    return [*open_invoices(), scope.in_orgs(Invoice.organization_id)]


def _tables(session: Session, scope: Scope) -> list[Table]:
    age = bucket(scope).label("bucket")
    rows = session.execute(
        sa.select(Invoice.organization_id, age, sa.func.count(), sa.func.sum(open_cents()))
        .where(*_open_invoices(scope))
        .group_by(Invoice.organization_id, age)).all()
    df = frame(rows, ["organization", "bucket", "invoices", "open"])
    df["organization"] = scope.names(df["organization"])
    return shape(df)


def shape(df: pd.DataFrame) -> list[Table]:
    """pandas: bucket totals in bucket order, and organisation × bucket."""
    keys = [k for k, _ in BUCKETS]
    by_bucket = (df.groupby("bucket")[["invoices", "open"]].sum()
                 .reindex(keys, fill_value=0).reset_index())
    by_bucket["label"] = by_bucket["bucket"].map(LABELS)
    if df.empty:
        pivot = pd.DataFrame(columns=["organization", *keys])
    else:
        pivot = (df.pivot_table(index="organization", columns="bucket", values="open",
                                aggfunc="sum", fill_value=0)
                 .reindex(columns=keys, fill_value=0).reset_index())
    pivot["total"] = pivot[keys].sum(axis=1) if not pivot.empty else 0
    return [
        Table("bucket", "Avoimet saatavat iän mukaan", "Open receivables by age",
              (Column("label", "Ikä", "Age"), Column("invoices", "Laskuja", "Invoices", "int"),
               Column("open", "Avoinna", "Open", "money")),
              with_total(by_bucket, "label", sum_keys=["invoices", "open"])),
        Table("data", "Yhdistyksittäin", "By organisation",
              (Column("organization", "Yhdistys", "Organisation"),
               *[Column(b.key, b.fi, b.en, "money") for b in AGE_BUCKETS],
               Column("total", "Yhteensä", "Total", "money")),
              with_total(pivot, "organization", sum_keys=[*keys, "total"])),
    ]


DETAIL = (
    Column("bucket", "Ikä", "Age"), Column("organization", "Yhdistys", "Organisation"),
    Column("member_number", "Jäsennumero", "Member number", "int"),
    Column("name", "Jäsen", "Member"), Column("payer", "Maksaja", "Payer"),
    Column("reference", "Viite", "Reference"), Column("due_date", "Eräpäivä", "Due", "date"),
    Column("total", "Summa", "Total", "money"), Column("open", "Avoinna", "Open", "money"),
)


def detail(scope: Scope) -> sa.Select:
    """SQL: the unpaid invoices with member and payer, oldest due first."""
    payer = sa.orm.aliased(Person)
    age = bucket(scope)
    labels = sa.case(dict(BUCKETS), value=age)
    stmt = (sa.select(labels, Organization.name, Membership.member_number,
                      Person.last_name + " " + Person.first_name,
                      payer.last_name + " " + payer.first_name, Invoice.reference,
                      Invoice.due_date, Invoice.total_cents, open_cents())
            .select_from(Invoice)
            .join(Organization, Organization.id == Invoice.organization_id)
            .join(Person, Person.id == Invoice.person_id)
            .join(payer, payer.id == Invoice.payer_id)
            .join(Membership, Membership.id == Invoice.membership_id, isouter=True)
            .where(*_open_invoices(scope)))
    if scope.bucket:
        stmt = stmt.where(age == scope.bucket)
    return stmt.order_by(Invoice.due_date, Invoice.id)


REPORT = register(ReportDef(
    name="receivables", fi="Saatavat iän mukaan", en="Receivables by age",
    action="billing.read", tables=_tables, filters=("to",), detail_columns=DETAIL,
    detail=detail, detail_fi="Laskut ja jäsenet", detail_en="Invoices and members",
    buckets=BUCKETS,
    notes=("Ikä lasketaan loppupäivästä (oletus tänään) / age counted on the end date "
           "(default today)",)))
