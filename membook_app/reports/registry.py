"""The one definition of every report, and running it for an asker.

A report is a `ReportDef`: its identifier, Finnish and English title, which filters it
takes, the permission it needs, `tables` (SQL aggregates shaped by pandas into `Table`s)
and optionally `detail` (a SQL select of the rows behind the figures, paged on the page
and streamed into the export's data sheet). Report modules register themselves with
`register` (as `REPORT`); `REPORT_MODULES` lists them so `all_reports()` finds every one.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col

from membook_app.accounts.permissions import ACTION_ROLES, Actor
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.formatting import HELSINKI, fi_date, money, number
from membook_app.register.organizations import get_organization
from models import Organization

REPORT_MODULES = ("register_summary", "invoicing", "receivables", "payments_journal",
                  "settlements", "membership_changes", "escrow")
KINDS = ("text", "int", "money", "date")
DETAIL_PAGE_MAX = 500
# The command line runs on the server as the system, like `membook export members`.
SYSTEM = Actor(user_id=0, email="system", display_name="system", is_operator=True)
TOTAL_LABEL = "Yhteensä / Total"  # the label of a table's total row (`with_total`)


@dataclass(frozen=True)
class Column:
    """One column of a table: key in the frame, Finnish and English header, value kind.

    Kinds: `text`, `int` (a count), `money` (integer cents), `date`.
    """

    key: str
    fi: str
    en: str
    kind: str = "text"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")

    @property
    def header(self) -> str:
        """Finnish with English, as the export's headers read; once when the two are the
        same (a week "2026-V48", a status already labelled in both)."""
        return self.fi if self.fi == self.en else f"{self.fi} / {self.en}"


@dataclass(frozen=True)
class Table:
    """A shaped result: a small pandas frame and the columns to show, in order."""

    key: str
    fi: str
    en: str
    columns: tuple[Column, ...]
    frame: pd.DataFrame

    def records(self) -> list[tuple[Any, ...]]:
        """The rows as plain Python values (cents as int, dates as date) in column order."""
        if self.frame.empty:
            return []
        out = []
        for values in self.frame[[c.key for c in self.columns]].itertuples(index=False):
            out.append(tuple(_plain(v, c.kind) for v, c in zip(values, self.columns,
                                                                strict=True)))
        return out

    def split_total(self) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
        """The records, and the total row (`with_total`'s, the last) apart from them."""
        records = self.records()
        if records and TOTAL_LABEL in records[-1]:
            return records[:-1], records[-1]
        return records, None

    def display_rows(self) -> list[list[str]]:
        """The rows as Finnish display strings (12,50 €, 1 234, 28.11.2026)."""
        return [[display(v, c.kind) for v, c in zip(row, self.columns, strict=True)]
                for row in self.records()]

    def total(self, key: str) -> int:
        """Sum of one numeric column (for tests and headlines)."""
        if self.frame.empty:
            return 0
        return int(self.frame[key].sum())


def _plain(value: Any, kind: str) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if kind in ("int", "money"):
        return int(value)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return pd.Timestamp(value).date()
    return str(value)


def display(value: Any, kind: str) -> str:
    """One value in Finnish display form."""
    if value is None:
        return ""
    if kind == "money":
        return money(int(value))
    if kind == "int":
        return number(int(value))
    if kind == "date":
        return fi_date(value)
    return str(value)


@dataclass(frozen=True)
class Filters:
    """What the asker chose. `organization_id` None means every organisation (operator)."""

    organization_id: int | None
    date_from: date | None = None
    date_to: date | None = None
    bucket: str | None = None
    today: date | None = None


@dataclass(frozen=True)
class Scope:
    """Filters resolved and checked for an asker: the organisation (None: all), dates."""

    actor: Actor
    organization: Organization | None
    date_from: date | None
    date_to: date | None
    today: date
    bucket: str | None
    dialect: str

    organization_names: dict[int, str] = field(default_factory=dict)  # the subtree's
    # The subtree holds every organisation there is (a single federation's root), so
    # "in the subtree" is true of every organisation id.
    everything: bool = False

    def in_subtree(self, path_column: Any) -> sa.ColumnElement[bool]:
        """SQL condition: the organisation path is inside the chosen subtree."""
        if self.organization is None:
            return sa.true()
        return col(path_column).startswith(self.organization.path)

    def in_orgs(self, organization_id: Any) -> sa.ColumnElement[bool]:
        """SQL condition: an organisation id column is one of the subtree's (an IN list of
        a few hundred ids at most, so the big table needs no join to Organization).

        When the subtree is every organisation, `IS NOT NULL` says the same (the column is
        a foreign key to Organization) without a list for the planner to look rows up by:
        SQLite would otherwise walk the organisation index through the whole table."""
        if self.organization is None:
            return sa.true()
        if self.everything:
            return col(organization_id).is_not(None)
        return col(organization_id).in_(sorted(self.organization_names))

    def names(self, ids: pd.Series) -> pd.Series:
        """pandas: organisation ids as names."""
        return ids.map(lambda i: self.organization_names.get(int(i), str(i)))

    def between(self, column: Any) -> list[sa.ColumnElement[bool]]:
        """SQL conditions for a date column inside the chosen dates."""
        out = []
        if self.date_from is not None:
            out.append(column >= self.date_from)
        if self.date_to is not None:
            out.append(column <= self.date_to)
        return out

    def between_times(self, column: Any) -> list[sa.ColumnElement[bool]]:
        """The chosen dates (Helsinki calendar days) on a timestamp column."""
        out = []
        if self.date_from is not None:
            out.append(column >= datetime.combine(self.date_from, time(), HELSINKI))
        if self.date_to is not None:
            out.append(column < datetime.combine(self.date_to + timedelta(days=1), time(),
                                                 HELSINKI))
        return out

    @property
    def as_of(self) -> date:
        """The day a report looks from: the end date when given, else today."""
        return self.date_to or self.today

    @property
    def organization_name(self) -> str:
        return self.organization.name if self.organization else "Kaikki / All"


@dataclass(frozen=True)
class ReportDef:
    """One report, defined once for the page, the command and the export."""

    name: str
    fi: str
    en: str
    action: str                                   # register.read | billing.read
    tables: Callable[[Session, Scope], list[Table]]
    filters: tuple[str, ...] = ("from", "to")     # besides the organisation
    operator_only: bool = False
    detail_columns: tuple[Column, ...] = ()
    detail: Callable[[Scope], sa.Select] | None = None
    detail_fi: str = "Rivit"
    detail_en: str = "Rows"
    buckets: tuple[tuple[str, str], ...] = ()    # detail filter choices (key, label)
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ReportResult:
    report: ReportDef
    scope: Scope
    tables: list[Table]


_REGISTRY: dict[str, ReportDef] = {}


def register(report: ReportDef) -> ReportDef:
    """Add a report (each report module calls this once, at import)."""
    if report.name in _REGISTRY and _REGISTRY[report.name] is not report:
        raise ValueError(f"report {report.name!r} defined twice")
    _REGISTRY[report.name] = report
    return report


def all_reports() -> list[ReportDef]:
    """Every report, in the order of REPORT_MODULES."""
    return [importlib.import_module(f"membook_app.reports.{module}").REPORT
            for module in REPORT_MODULES]


def get_report(name: str) -> ReportDef:
    """The report by identifier, or NotFound naming the known ones."""
    reports = {r.name: r for r in all_reports()}
    if name not in reports:
        known = ", ".join(reports)
        raise NotFound(f"Tuntematon raportti {name!r} (raportit: {known})",
                       f"Unknown report {name!r} (reports: {known})")
    return reports[name]


def reports_for(actor: Actor) -> list[ReportDef]:
    """The reports the actor may open somewhere (operator-only ones for operators)."""
    roles = {g.role for g in actor.grants}
    return [r for r in all_reports()
            if actor.is_operator or (not r.operator_only and roles & ACTION_ROLES[r.action])]


def resolve(session: Session, actor: Actor, report: ReportDef, filters: Filters) -> Scope:
    """Check the asker may run the report for the organisation and the dates make sense.

    Dates the report does not read (not in its `filters`) are dropped, so nothing — the
    export's summary sheet included — shows a date range the figures ignore."""
    if report.operator_only and not actor.is_operator:
        raise PermissionDenied("Vain operaattori näkee tämän raportin",
                               "Only the operator may see this report")
    if filters.organization_id is None:
        if not actor.is_operator:
            raise PermissionDenied()
        org = None
    else:
        org = get_organization(session, filters.organization_id)
        actor.require(report.action, org)
    date_from = filters.date_from if "from" in report.filters else None
    date_to = filters.date_to if "to" in report.filters else None
    if date_from and date_to and date_from > date_to:
        raise ValidationError("Alkupäivä on loppupäivän jälkeen",
                              "The start date is after the end date", field="date_from")
    bucket = filters.bucket or None
    if bucket is not None and bucket not in {k for k, _ in report.buckets}:
        raise ValidationError(f"Tuntematon rajaus {bucket!r}", f"Unknown bucket {bucket!r}",
                              field="bucket")
    names = dict(session.execute(sa.select(Organization.id, Organization.name).where(
        col(Organization.path).startswith(org.path) if org else sa.true())).all())
    everything = org is not None and len(names) == session.execute(
        sa.select(sa.func.count()).select_from(Organization)).scalar_one()
    return Scope(actor, org, date_from, date_to, filters.today or date.today(),
                 bucket, session.get_bind().dialect.name, names, everything)


def run_report(session: Session, actor: Actor, name: str, filters: Filters) -> ReportResult:
    """The report's shaped tables for the asker (permission checked first)."""
    report = get_report(name)
    scope = resolve(session, actor, report, filters)
    return ReportResult(report, scope, report.tables(session, scope))


def detail_page(session: Session, actor: Actor, name: str, filters: Filters, *,
                offset: int = 0, limit: int = 50) -> tuple[list[tuple[Any, ...]], bool]:
    """One page of the report's detail rows and whether more follow (never all rows)."""
    report = get_report(name)
    scope = resolve(session, actor, report, filters)
    if report.detail is None:
        return [], False
    limit = max(1, min(limit, DETAIL_PAGE_MAX))
    rows = session.execute(report.detail(scope).offset(max(0, offset)).limit(limit + 1)).all()
    return [tuple(r) for r in rows[:limit]], len(rows) > limit


def frame(rows: Sequence[Any], columns: Sequence[str]) -> pd.DataFrame:
    """An aggregate query's rows as a frame with these column names."""
    return pd.DataFrame([tuple(r) for r in rows], columns=list(columns))


def with_total(df: pd.DataFrame, label_key: str, label: str = TOTAL_LABEL,
               sum_keys: Sequence[str] = ()) -> pd.DataFrame:
    """The frame with a total row appended (sums of `sum_keys`)."""
    if df.empty:
        return df
    total = dict.fromkeys(df.columns)
    total[label_key] = label
    for key in sum_keys:
        total[key] = int(df[key].sum())
    return pd.concat([df, pd.DataFrame([total])], ignore_index=True)
