"""Membership changes for the year, as a federation asks of its member associations.

Per organisation: members at the start of the year, joined, resigned, deemed resigned
(unpaid fees), ended by the association (erotettu tai päättynyt), left in all, members at
the end of the year. One aggregate query (SUM of CASEs on the memberships' start and end
dates and their final status); it holds that

    at start + joined − left = at end.

A member on a day: joined on or before it and not ended before it (the end date is the
last day of membership). The year is that of the start date (default: this year). The
register has no "deceased" status; a death is recorded as "ended" with its reason.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from membook_app.reports.registry import (
    Column,
    ReportDef,
    Scope,
    Table,
    frame,
    register,
    with_total,
)
from models import Membership

COUNTS = (("at_start", "Jäseniä vuoden alussa", "Members at the start"),
          ("joined", "Liittyneet", "Joined"), ("resigned", "Eronneet", "Resigned"),
          ("deemed_resigned", "Katsottu eronneiksi", "Deemed resigned"),
          ("ended", "Erotettu tai päättynyt", "Expelled or ended"),
          ("left", "Poistuneet yhteensä", "Left in all"),
          ("at_end", "Jäseniä vuoden lopussa", "Members at the end"))
KEYS = [k for k, _, _ in COUNTS]


def year_of(scope: Scope) -> int:
    """The reported year: of the start date, else of the end date, else of today."""
    return (scope.date_from or scope.date_to or scope.today).year


def _tables(session: Session, scope: Scope) -> list[Table]:
    year = year_of(scope)
    first, last = date(year, 1, 1), date(year, 12, 31)
    start, end, status = Membership.start_date, Membership.end_date, Membership.status

    def count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
        return sa.func.sum(sa.case((condition, 1), else_=0))

    left_in_year = sa.and_(end.is_not(None), end >= first, end <= last)  # type: ignore[union-attr]
    rows = session.execute(
        sa.select(Membership.organization_id,
                  count(sa.and_(start < first, sa.or_(end.is_(None), end >= first))),  # type: ignore[union-attr]
                  count(sa.and_(start >= first, start <= last)),
                  count(sa.and_(left_in_year, status == "resigned")),
                  count(sa.and_(left_in_year, status == "deemed_resigned")),
                  count(sa.and_(left_in_year, status == "ended")),
                  count(left_in_year),
                  count(sa.and_(start <= last, sa.or_(end.is_(None), end > last))))  # type: ignore[union-attr]
        .where(scope.in_orgs(Membership.organization_id))
        .group_by(Membership.organization_id)).all()
    df = frame(rows, ["organization", *KEYS])
    df["organization"] = scope.names(df["organization"])
    return shape(df, year)


def shape(df: pd.DataFrame, year: int) -> list[Table]:
    """pandas: organisations in name order with a total row."""
    df = df.sort_values("organization")
    df.insert(0, "year", str(year))
    return [Table("data", f"Jäsenmuutokset {year}", f"Membership changes {year}",
                  (Column("organization", "Yhdistys", "Organisation"),
                   *[Column(k, fi, en, "int") for k, fi, en in COUNTS]),
                  with_total(df, "organization", sum_keys=KEYS))]


REPORT = register(ReportDef(
    name="membership-changes", fi="Jäsenmuutokset", en="Membership changes",
    action="register.read", tables=_tables, filters=("from",),
    notes=("Vuosi alkupäivästä (oletus kuluva vuosi) / the year of the start date "
           "(default this year)",)))
