"""Register summary: memberships by status, organisation, type, age group and municipality.

Two aggregate queries: memberships grouped by (organisation, type, status, age group) —
the age group is a CASE on the birth date against cut-off dates, so the database does
the bucketing — and active memberships grouped by municipality. pandas then sums the
first one along each dimension. "Members" are memberships, as in the register table: a
person in two clubs counts in both.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from membook_app.register.exporter import STATUS_FI
from membook_app.reports.registry import (
    Column,
    ReportDef,
    Scope,
    Table,
    frame,
    register,
    with_total,
)
from models import Membership, MembershipType, Person

AGE_GROUPS = ((18, "0–17"), (30, "18–29"), (45, "30–44"), (65, "45–64"))
OLDEST = "65–"
UNKNOWN_AGE = "ei tiedossa / unknown"
TOP_MUNICIPALITIES = 30
OTHER = "muut / others"
NO_CITY = "ei tiedossa / unknown"
COUNT = Column("members", "Jäseniä", "Members", "int")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def age_group(today: date) -> sa.ColumnElement[str]:
    """SQL: the age group of Person.birth_date on `today` (born after the cut-off = younger)."""
    whens = [(Person.birth_date.is_(None), UNKNOWN_AGE)]  # type: ignore[union-attr]
    whens += [(Person.birth_date > _years_before(today, years), label)  # type: ignore[operator]
              for years, label in AGE_GROUPS]
    return sa.case(*whens, else_=OLDEST)


def _tables(session: Session, scope: Scope) -> list[Table]:
    age = age_group(scope.as_of).label("age")
    rows = session.execute(
        sa.select(Membership.organization_id, Membership.type_id, Membership.status, age,
                  sa.func.count())
        .select_from(Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(scope.in_orgs(Membership.organization_id))
        .group_by(Membership.organization_id, Membership.type_id, Membership.status, age)
    ).all()
    df = frame(rows, ["organization", "type", "status", "age", "members"])
    types = dict(session.execute(sa.select(MembershipType.id, MembershipType.name).where(
        scope.in_orgs(MembershipType.organization_id))).all())
    df["organization"] = scope.names(df["organization"])
    df["type"] = df["type"].map(lambda i: types.get(i, "–") if pd.notna(i) else "–")
    cities = frame(session.execute(
        sa.select(Person.city, sa.func.count()).select_from(Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(scope.in_orgs(Membership.organization_id), Membership.status == "active")
        .group_by(Person.city)).all(), ["municipality", "members"])
    return shape(df, cities)


def shape(df: pd.DataFrame, cities: pd.DataFrame) -> list[Table]:
    """pandas: status totals, organisation × status, and the active ones by type, age and
    municipality (the 30 biggest, the rest as "others")."""
    df = df.assign(status=df["status"].map(lambda s: f"{STATUS_FI.get(s, s)} ({s})"))
    active = df[df["status"].str.endswith("(active)")]
    by_status = df.groupby("status", as_index=False)["members"].sum()
    statuses = sorted(df["status"].unique())
    pivot = (df.pivot_table(index="organization", columns="status", values="members",
                            aggfunc="sum", fill_value=0)
             .reindex(columns=statuses, fill_value=0).reset_index()) if not df.empty else \
        pd.DataFrame(columns=["organization"])
    pivot["total"] = pivot[statuses].sum(axis=1) if statuses else 0
    by_type = (active.groupby(["organization", "type"], as_index=False)["members"].sum()
               .sort_values(["organization", "type"]))
    order = [label for _, label in AGE_GROUPS] + [OLDEST, UNKNOWN_AGE]
    by_age = (active.groupby("age")["members"].sum().reindex(order, fill_value=0)
              .reset_index())
    cities = cities.assign(municipality=cities["municipality"].fillna("").str.strip()
                           .replace("", NO_CITY))
    cities = (cities.groupby("municipality", as_index=False)["members"].sum()
              .sort_values(["members", "municipality"], ascending=[False, True]))
    if len(cities) > TOP_MUNICIPALITIES:
        rest = int(cities["members"].iloc[TOP_MUNICIPALITIES:].sum())
        cities = pd.concat([cities.iloc[:TOP_MUNICIPALITIES],
                            pd.DataFrame([{"municipality": OTHER, "members": rest}])])
    org_col = Column("organization", "Yhdistys", "Organisation")
    return [
        Table("status", "Jäsenyydet tilan mukaan", "Memberships by status",
              (Column("status", "Tila", "Status"), COUNT),
              with_total(by_status, "status", sum_keys=["members"])),
        Table("data", "Yhdistykset ja tilat", "Organisations by status",
              (org_col, *[Column(s, s, s, "int") for s in statuses],
               Column("total", "Yhteensä", "Total", "int")),
              with_total(pivot, "organization", sum_keys=[*statuses, "total"])),
        Table("type", "Jäsenet jäsenlajeittain", "Members by type",
              (org_col, Column("type", "Jäsenlaji", "Membership type"), COUNT),
              with_total(by_type, "organization", sum_keys=["members"])),
        Table("age", "Jäsenet ikäryhmittäin", "Members by age group",
              (Column("age", "Ikäryhmä", "Age group"), COUNT),
              with_total(by_age, "age", sum_keys=["members"])),
        Table("municipality", "Jäsenet kunnittain", "Members by municipality",
              (Column("municipality", "Kunta", "Municipality"), COUNT),
              with_total(cities, "municipality", sum_keys=["members"])),
    ]


REPORT = register(ReportDef(
    name="register-summary", fi="Jäsenrekisterin yhteenveto", en="Register summary",
    action="register.read", tables=_tables, filters=(),
    notes=("Jäsenlaji, ikä ja kunta: aktiiviset jäsenyydet / type, age and municipality: "
           "active memberships",)))
