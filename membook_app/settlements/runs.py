"""Settlement runs: compute each organisation's share, write the run, approve, pay out.

Everything money-shaped happens in SQL over the whole set (`_SHARES_SQL`): the unsettled
invoice allocations up to the cut-off, split per organisation with the largest-remainder
rule of `split.py` (window functions), the plan's per-payment transaction fee on the first
share of each (payment, organisation). `compute_shares` aggregates that per organisation
without writing anything; `create_run` materialises it once into a temporary table and
writes the run, one settlement per organisation and every line from it, in the caller's
single transaction. Nothing is read back row by row, so a run over 300,000 payments is a
handful of statements (docs/settlements.md has the numbers).

"Settled" means "has a SettlementLine": the anti-join on it, not the previous cut-off,
decides what a run takes, so an allocation committed late (created before the previous
cut-off by a transaction that finished after it) is simply in the next run, and the
unique (allocation, organisation) pair makes settling twice a constraint violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from membook_app.accounts.permissions import Actor
from membook_app.audit import record
from membook_app.banking.banking_days import next_banking_day
from membook_app.banking.pain001 import (
    VERSIONS,
    CreditTransfer,
    Debtor,
    Pain001Error,
    Pain001Version,
    build_pain001,
)
from membook_app.banking.references import make_national, national_to_rf
from membook_app.db import is_sqlite
from membook_app.errors import NotFound, PermissionDenied, ValidationError
from membook_app.formatting import HELSINKI, money
from membook_app.payments.matching import lock_money
from membook_app.settings import get_settings
from models import Organization, Settlement, SettlementLine, SettlementRun, utcnow

# The unsettled shares up to :cut_off, one row per (allocation, organisation) with a
# non-zero amount: allocation_id, payment_id, invoice_id, organization_id, amount_cents,
# fee_cents, kind. Integer arithmetic throughout (BIGINT casts: PostgreSQL's SUM of
# bigint is numeric, and a numeric division would not floor). An allocation is split by its
# invoice's lines netted with the credit notes created at or before it (a reversal: at or
# before the allocation it reverses, so both split alike); one that a credit note moved to
# the payer's credit (`credit_note_id`) by that credit note's lines, negated. Only a
# positive share of an allocation that reverses nothing earns a fee (`fee_ok`): the
# reversal of a credit note's take-back gives the share back, it is no new member payment.
_SHARES_SQL = """
WITH pending AS (
    SELECT a.id, a.payment_id, a.invoice_id, a.amount_cents, a.reverses_allocation_id,
           a.credit_note_id, a.created_at
    FROM allocation a
    WHERE a.invoice_id IS NOT NULL AND a.amount_cents <> 0 AND a.created_at <= :cut_off
      AND NOT EXISTS (SELECT 1 FROM settlementline x WHERE x.allocation_id = a.id)
),
mirrored AS (
    SELECT p.id AS allocation_id, p.payment_id, p.invoice_id, x.organization_id,
           -x.amount_cents AS amount_cents, 0 AS fee_ok
    FROM pending p JOIN settlementline x ON x.allocation_id = p.reverses_allocation_id
),
to_split AS (
    SELECT p.id, p.payment_id, p.invoice_id, p.amount_cents,
           CASE WHEN p.reverses_allocation_id IS NULL THEN 1 ELSE 0 END AS fee_ok,
           COALESCE(p.credit_note_id, o.credit_note_id) AS note_id,
           COALESCE(o.created_at, p.created_at) AS as_of
    FROM pending p
    LEFT JOIN allocation o ON o.id = p.reverses_allocation_id
    WHERE p.reverses_allocation_id IS NULL
       OR NOT EXISTS (SELECT 1 FROM settlementline x
                      WHERE x.allocation_id = p.reverses_allocation_id)
),
billed AS (
    SELECT s.id AS allocation_id, l.organization_id, l.amount_cents, l.position AS pos
    FROM to_split s JOIN invoiceline l ON l.invoice_id = s.invoice_id
    WHERE s.note_id IS NULL
    UNION ALL
    SELECT s.id, l.organization_id, l.amount_cents, l.position
    FROM to_split s JOIN invoice i ON i.id = s.invoice_id
    JOIN runpriceline l ON l.run_price_id = i.run_price_id
    WHERE s.note_id IS NULL
    UNION ALL
    SELECT s.id, l.organization_id, l.amount_cents, l.position
    FROM to_split s
    JOIN invoice c ON c.credited_invoice_id = s.invoice_id AND c.kind = 'credit_note'
                  AND c.created_at <= s.as_of
    JOIN invoiceline l ON l.invoice_id = c.id
    WHERE s.note_id IS NULL
    UNION ALL
    SELECT s.id, l.organization_id, -l.amount_cents, l.position
    FROM to_split s JOIN invoiceline l ON l.invoice_id = s.note_id
),
positive AS (
    SELECT allocation_id, organization_id, CAST(SUM(amount_cents) AS BIGINT) AS weight,
           MIN(pos) AS pos
    FROM billed GROUP BY allocation_id, organization_id HAVING SUM(amount_cents) > 0
),
weights AS (
    SELECT allocation_id, organization_id, weight, pos FROM positive
    UNION ALL
    SELECT s.id, i.organization_id, 1, 0 FROM to_split s JOIN invoice i ON i.id = s.invoice_id
    WHERE NOT EXISTS (SELECT 1 FROM positive w WHERE w.allocation_id = s.id)
),
parts AS (
    SELECT s.id AS allocation_id, s.payment_id, s.invoice_id, w.organization_id, w.pos,
           s.fee_ok, CASE WHEN s.amount_cents < 0 THEN -1 ELSE 1 END AS sgn,
           CAST(ABS(s.amount_cents) AS BIGINT) AS amount,
           CAST(ABS(s.amount_cents) AS BIGINT) * w.weight AS product,
           CAST(SUM(w.weight) OVER (PARTITION BY s.id) AS BIGINT) AS total
    FROM to_split s JOIN weights w ON w.allocation_id = s.id
),
floored AS (
    SELECT allocation_id, payment_id, invoice_id, organization_id, pos, fee_ok, sgn, amount,
           product / total AS base, product % total AS remainder
    FROM parts
),
ranked AS (
    SELECT allocation_id, payment_id, invoice_id, organization_id, fee_ok, sgn, base,
           amount - CAST(SUM(base) OVER (
               by_remainder ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
               AS BIGINT) AS left_over,
           ROW_NUMBER() OVER by_remainder AS rank_no
    FROM floored
    WINDOW by_remainder AS (PARTITION BY allocation_id
                            ORDER BY remainder DESC, pos, organization_id)
),
shares AS (
    SELECT allocation_id, payment_id, invoice_id, organization_id,
           sgn * (base + CASE WHEN rank_no <= left_over THEN 1 ELSE 0 END) AS amount_cents,
           fee_ok
    FROM ranked
    UNION ALL
    SELECT allocation_id, payment_id, invoice_id, organization_id, amount_cents, fee_ok
    FROM mirrored
),
numbered AS (
    SELECT sh.allocation_id, sh.payment_id, sh.invoice_id, sh.organization_id,
           sh.amount_cents, sh.fee_ok, pl.transaction_fee_cents AS plan_fee,
           ROW_NUMBER() OVER (PARTITION BY sh.payment_id, sh.organization_id
                              ORDER BY CASE WHEN sh.amount_cents > 0 AND sh.fee_ok = 1
                                            THEN 0 ELSE 1 END,
                                       sh.allocation_id) AS fee_no
    FROM shares sh
    JOIN organization o ON o.id = sh.organization_id
    JOIN plan pl ON pl.id = o.plan_id
    WHERE sh.amount_cents <> 0
)
SELECT n.allocation_id, n.payment_id, n.invoice_id, n.organization_id, n.amount_cents,
       CASE WHEN n.fee_no = 1 AND n.amount_cents > 0 AND n.fee_ok = 1 AND NOT EXISTS (
                SELECT 1 FROM settlementline x
                WHERE x.payment_id = n.payment_id AND x.organization_id = n.organization_id
                  AND x.fee_cents > 0)
            THEN n.plan_fee ELSE 0 END AS fee_cents,
       CASE WHEN n.amount_cents < 0 THEN 'reversal' ELSE 'payment' END AS kind
FROM numbered n
"""

_LINE_COLUMNS = ("allocation_id", "payment_id", "invoice_id", "organization_id",
                 "amount_cents", "fee_cents", "kind")

# Per organisation, over either the shares query or the temporary table holding it.
_AGGREGATE_SQL = """
SELECT l.organization_id,
       COUNT(DISTINCT CASE WHEN l.amount_cents > 0 THEN l.payment_id END) AS payment_count,
       CAST(SUM(CASE WHEN l.amount_cents > 0 THEN l.amount_cents ELSE 0 END) AS BIGINT),
       CAST(-SUM(CASE WHEN l.amount_cents < 0 THEN l.amount_cents ELSE 0 END) AS BIGINT),
       CAST(SUM(l.fee_cents) AS BIGINT)
FROM ({source}) l
JOIN organization o ON o.id = l.organization_id
WHERE o.path LIKE :path
GROUP BY l.organization_id
"""

_TEMP = "membook_settle"
_CREATE_TEMP = f"""CREATE TEMP TABLE {_TEMP} (
    allocation_id BIGINT NOT NULL, payment_id BIGINT NOT NULL, invoice_id BIGINT NOT NULL,
    organization_id BIGINT NOT NULL, amount_cents BIGINT NOT NULL, fee_cents BIGINT NOT NULL,
    kind VARCHAR(20) NOT NULL)"""

_INSERT_LINES = f"""
INSERT INTO settlementline (settlement_id, organization_id, allocation_id, payment_id,
                            invoice_id, amount_cents, fee_cents, kind)
SELECT s.id, t.organization_id, t.allocation_id, t.payment_id, t.invoice_id, t.amount_cents,
       t.fee_cents, t.kind
FROM {_TEMP} t JOIN settlement s ON s.run_id = :run_id AND s.organization_id = t.organization_id
"""


class NothingToSettle(ValidationError):
    """No unsettled invoice allocation up to the cut-off: no run is written."""


def _cut_off_param(sql: str) -> sa.TextClause:
    """Bind the cut-off through the column type, so SQLite compares the stored format."""
    text = sa.text(sql)
    if ":cut_off" in sql:
        text = text.bindparams(sa.bindparam("cut_off", type_=UTCDateTime()))
    return text


@dataclass(frozen=True)
class OrgShare:
    """What one organisation would be (or was) settled: net = gross − reversals − fees +
    carried_in; payout = net when positive, else 0 and the net carries over."""

    organization_id: int
    organization_name: str
    iban: str | None
    payment_count: int
    gross_cents: int
    reversal_cents: int
    fee_cents: int
    carried_in_cents: int
    net_cents: int
    payout_cents: int


@dataclass(frozen=True)
class SettlementTotals:
    organization_count: int
    payout_count: int
    payment_count: int
    gross_cents: int
    reversal_cents: int
    fee_cents: int
    carried_in_cents: int
    net_cents: int
    payout_cents: int


@dataclass(frozen=True)
class SettlementPreview:
    cut_off: datetime
    previous_cut_off: datetime | None
    shares: list[OrgShare]
    totals: SettlementTotals


def totals_of(shares: list[OrgShare]) -> SettlementTotals:
    return SettlementTotals(
        organization_count=len(shares),
        payout_count=sum(1 for s in shares if s.payout_cents > 0),
        payment_count=sum(s.payment_count for s in shares),
        gross_cents=sum(s.gross_cents for s in shares),
        reversal_cents=sum(s.reversal_cents for s in shares),
        fee_cents=sum(s.fee_cents for s in shares),
        carried_in_cents=sum(s.carried_in_cents for s in shares),
        net_cents=sum(s.net_cents for s in shares),
        payout_cents=sum(s.payout_cents for s in shares),
    )


def carried_balances(session: Session, organization_ids: list[int] | None = None
                     ) -> dict[int, int]:
    """Each organisation's carried (zero or negative) net not yet absorbed.

    It is the net of the organisation's latest settlement when that one was carried: every
    later settlement takes the previous carry into its own net, so only the latest counts.
    """
    latest = (sa.select(Settlement.organization_id, sa.func.max(Settlement.run_id).label("run_id"))
              .group_by(Settlement.organization_id))
    if organization_ids is not None:
        latest = latest.where(col(Settlement.organization_id).in_(organization_ids))
    last = latest.subquery()
    rows = session.execute(
        sa.select(Settlement.organization_id, Settlement.net_cents)
        .join(last, sa.and_(last.c.organization_id == Settlement.organization_id,
                            last.c.run_id == Settlement.run_id))
        .where(Settlement.status == "carried")).all()
    return {int(org): int(net) for org, net in rows}


def _shares_from(session: Session, source: str, cut_off: datetime,
                 organization_path: str | None) -> list[OrgShare]:
    params: dict[str, Any] = {"path": (organization_path or "/") + "%"}
    if ":cut_off" in source:
        params["cut_off"] = cut_off
    rows = session.execute(_cut_off_param(_AGGREGATE_SQL.format(source=source)), params).all()
    if not rows:
        return []
    ids = [int(r[0]) for r in rows]
    orgs = {o.id: o for o in session.exec(
        select(Organization).where(col(Organization.id).in_(ids))).all()}
    carried = carried_balances(session, ids)
    shares = []
    for org_id, count, gross, reversals, fees in rows:
        org = orgs[int(org_id)]
        carried_in = carried.get(int(org_id), 0)
        net = int(gross) - int(reversals) - int(fees) + carried_in
        shares.append(OrgShare(int(org_id), org.name, org.iban, int(count), int(gross),
                               int(reversals), int(fees), carried_in, net, max(net, 0)))
    shares.sort(key=lambda s: (s.organization_name.casefold(), s.organization_id))
    return shares


def pending_count(session: Session, cut_off: datetime) -> int:
    """Unsettled invoice allocations up to `cut_off` (to decide inline run or worker)."""
    return int(session.execute(_cut_off_param(
        "SELECT COUNT(*) FROM allocation a WHERE a.invoice_id IS NOT NULL "
        "AND a.amount_cents <> 0 AND a.created_at <= :cut_off AND NOT EXISTS "
        "(SELECT 1 FROM settlementline x WHERE x.allocation_id = a.id)"),
        {"cut_off": cut_off}).scalar_one())


def compute_shares(session: Session, cut_off: datetime, *,
                   organization_path: str | None = None) -> list[OrgShare]:
    """Per organisation, what a run with this cut-off would settle now (writes nothing).

    No permission check: callers decide who may see it (the operator preview, a
    dashboard's estimate limited to `organization_path` and its subtree).
    """
    return _shares_from(session, _SHARES_SQL, cut_off, organization_path)


# --- permissions and lookups -----------------------------------------------------------

def require_operator(actor: Actor | None) -> None:
    """Settlements move escrow money: the operator only (`None` is the system: CLI, task)."""
    if actor is not None and not actor.is_operator:
        raise PermissionDenied("Vain operaattori voi käsitellä tilityksiä",
                               "Only the operator may handle settlements")


def latest_cut_off(session: Session) -> datetime | None:
    return session.exec(select(sa.func.max(SettlementRun.cut_off))).one()


def get_run(session: Session, run_id: int) -> SettlementRun:
    run = session.get(SettlementRun, run_id)
    if run is None:
        raise NotFound(f"Tilitysajoa {run_id} ei ole", f"No settlement run {run_id}")
    return run


def _as_share(s: Settlement, name: str, iban: str | None) -> OrgShare:
    return OrgShare(s.organization_id, name, iban, s.payment_count, s.gross_cents,
                    s.reversal_cents, s.fee_cents, s.carried_in_cents, s.net_cents,
                    s.payout_cents)


def _settlements(session: Session, run_id: int) -> list[tuple[Settlement, Organization]]:
    rows = session.exec(
        select(Settlement, Organization)
        .join(Organization, col(Organization.id) == Settlement.organization_id)
        .where(Settlement.run_id == run_id)).all()
    return sorted(rows, key=lambda r: (r[1].name.casefold(), r[1].id))


def run_shares(session: Session, run_id: int) -> list[OrgShare]:
    """A written run's settlements as OrgShares, by organisation name."""
    return [_as_share(s, org.name, s.iban) for s, org in _settlements(session, run_id)]


# --- preview and create ----------------------------------------------------------------

def _check_cut_off(session: Session, cut_off: datetime | None) -> tuple[datetime, datetime | None]:
    now = utcnow()
    cut = cut_off or now
    if cut.utcoffset() is None:
        raise ValidationError("Katkaisuhetkellä on oltava aikavyöhyke",
                              "The cut-off needs a time zone")
    if cut > now:
        raise ValidationError("Katkaisuhetki ei voi olla tulevaisuudessa",
                              "The cut-off cannot be in the future")
    return cut, latest_cut_off(session)


def preview_settlement(session: Session, actor: Actor | None,
                       cut_off: datetime | None = None) -> SettlementPreview:
    """What the next run would pay each organisation (`membook settle --dry-run`)."""
    require_operator(actor)
    cut, previous = _check_cut_off(session, cut_off)
    shares = compute_shares(session, cut)
    return SettlementPreview(cut, previous, shares, totals_of(shares))


SETTLEMENT_PREFIX = "2"  # invoices are "1" (billing/references.py); 2–9 are for schemes
RUN_PAD = 7


def settlement_reference(run_id: int, organization_id: int) -> str:
    """RF reference of a settlement: RF + check + the national reference "2", the run id in
    7 digits, the organisation id in 8 digits, 7-3-1 check digit.

    The prefix "2" is the settlements' own (docs/billing.md reserves 2–9 for schemes other
    than invoices), so no settlement reference is an invoice reference or parses as one.
    Unique because (run, organisation) is and both parts have a fixed width; at 17 digits
    or more it cannot equal a reference of the earlier scheme (run id, then the
    organisation in 8 digits), which needed a run id of 8 digits for that length. The body
    is a valid Finnish national reference, so banks that show only national references
    show a usable one.
    """
    return national_to_rf(make_national(
        f"{SETTLEMENT_PREFIX}{run_id:0{RUN_PAD}d}{organization_id:08d}"))


def create_run(session: Session, actor: Actor | None,
               cut_off: datetime | None = None) -> SettlementRun:
    """Write the draft run for `cut_off` (default now) in the caller's transaction.

    Idempotent: a run with the same cut-off is returned as it is. Only one draft at a
    time: another draft must be approved or discarded first. Nothing to settle raises
    `NothingToSettle` before anything is written. A failure anywhere rolls the whole
    transaction back (the caller's `session_scope`), so nothing is half-written.
    """
    require_operator(actor)
    lock_money(session)  # no bank import or manual booking changes allocations meanwhile
    if cut_off is not None:
        existing = session.exec(select(SettlementRun).where(
            SettlementRun.cut_off == cut_off)).first()
        if existing is not None:
            return existing
    draft = session.exec(select(SettlementRun).where(SettlementRun.status == "draft")).first()
    if draft is not None:
        raise ValidationError(
            f"Tilitysajo {draft.id} odottaa hyväksyntää: hyväksy tai hylkää se ensin",
            f"Settlement run {draft.id} is still a draft: approve or discard it first")
    cut, previous = _check_cut_off(session, cut_off)
    if previous is not None and cut <= previous:
        raise ValidationError("Katkaisuhetken on oltava edellisen tilityksen jälkeen",
                              "The cut-off must be after the previous settlement's")

    connection = session.connection()
    connection.execute(sa.text(f"DROP TABLE IF EXISTS {_TEMP}"))
    # A failure leaves the temporary table to the rollback (DDL is transactional on both
    # databases); a DROP after an error would fail on PostgreSQL and hide the cause.
    connection.execute(sa.text(_CREATE_TEMP))
    connection.execute(_cut_off_param(
        f"INSERT INTO {_TEMP} ({', '.join(_LINE_COLUMNS)}) {_SHARES_SQL}"), {"cut_off": cut})
    if not is_sqlite(connection.engine):
        connection.execute(sa.text(f"ANALYZE {_TEMP}"))
    shares = _shares_from(session, f"SELECT * FROM {_TEMP}", cut, None)
    if not shares:
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {_TEMP}"))
        raise NothingToSettle("Ei tilitettävää: ei uusia maksuja laskuille",
                              "Nothing to settle: no new payments on invoices")
    run = SettlementRun(cut_off=cut, previous_cut_off=previous, status="draft",
                        created_by_user_id=actor.user_id if actor else None)
    session.add(run)
    session.flush()
    assert run.id is not None
    session.execute(sa.insert(Settlement.__table__), [  # type: ignore[arg-type]
        {"run_id": run.id, "organization_id": s.organization_id,
         "reference": settlement_reference(run.id, s.organization_id),
         "status": "draft" if s.payout_cents > 0 else "carried",
         "payment_count": s.payment_count, "gross_cents": s.gross_cents,
         "reversal_cents": s.reversal_cents, "fee_cents": s.fee_cents,
         "carried_in_cents": s.carried_in_cents, "net_cents": s.net_cents,
         "payout_cents": s.payout_cents, "iban": s.iban, "created_at": run.created_at}
        for s in shares])
    connection.execute(sa.text(_INSERT_LINES), {"run_id": run.id})
    connection.execute(sa.text(f"DROP TABLE IF EXISTS {_TEMP}"))
    totals = totals_of(shares)
    run.organization_count, run.payout_count = totals.organization_count, totals.payout_count
    run.gross_cents, run.fee_cents = totals.gross_cents, totals.fee_cents
    run.net_cents, run.payout_cents = totals.net_cents, totals.payout_cents
    session.add(run)
    session.flush()
    record(session, actor, "settlement_run.created", "settlementrun", run.id,
           after={"cut_off": cut, "previous_cut_off": previous,
                  "organization_count": totals.organization_count,
                  "payment_count": totals.payment_count, "gross_cents": totals.gross_cents,
                  "reversal_cents": totals.reversal_cents, "fee_cents": totals.fee_cents,
                  "payout_cents": totals.payout_cents})
    return run


def discard_run(session: Session, actor: Actor | None, run_id: int) -> None:
    """Delete a draft run with its settlements and lines: its allocations are free again."""
    require_operator(actor)
    lock_money(session)
    run = get_run(session, run_id)
    if run.status != "draft":
        raise ValidationError("Hyväksyttyä tilitysajoa ei voi hylätä",
                              "An approved settlement run cannot be discarded")
    settlement_ids = select(Settlement.id).where(Settlement.run_id == run_id)
    lines = session.execute(sa.delete(SettlementLine).where(
        col(SettlementLine.settlement_id).in_(settlement_ids)))
    session.execute(sa.delete(Settlement).where(Settlement.run_id == run_id))
    before = {"cut_off": run.cut_off, "organization_count": run.organization_count,
              "payout_cents": run.payout_cents, "line_count": lines.rowcount}
    session.delete(run)
    session.flush()
    record(session, actor, "settlement_run.discarded", "settlementrun", run_id, before=before)


# --- approval and the payout file ------------------------------------------------------

def pain001_version(value: str | None) -> Pain001Version:
    """`03`, `09`, `001.03` or the full name → the full pain.001 version name."""
    raw = (value or get_settings().settlement_pain001_version).strip()
    for version in VERSIONS:
        if raw == version or version.endswith("." + raw.lstrip(".")) \
                or version.endswith(".001." + raw):
            return version  # type: ignore[return-value]
    raise ValidationError(f"Tuntematon pain.001-versio {raw!r} (03 tai 09)",
                          f"Unknown pain.001 version {raw!r} (03 or 09)", field="version")


def _valid_iban(value: str | None) -> bool:
    if not value:
        return False
    try:
        IBAN(value)
    except SchwiftyException:
        return False
    return True


def _today() -> date:
    return datetime.now(HELSINKI).date()


ESCROW_EXAMPLE_WARNING = (
    "Asiakasvaratilin IBAN (ESCROW_IBAN) on asennuksen esimerkkitili: maksutiedosto "
    "veloittaisi kuvitteellista tiliä. Aseta oikea tili ennen kuin viet tiedoston pankkiin.",
    "The escrow IBAN (ESCROW_IBAN) is the installation's example account: the payout file "
    "would debit a fictitious account. Set the real account before taking the file to the "
    "bank.")


def escrow_iban_is_example() -> bool:
    """True while ESCROW_IBAN is still the settings model's built-in example value."""
    from membook_app.settings import Settings

    def compact(value: object) -> str:
        return str(value or "").replace(" ", "").upper()

    return compact(get_settings().escrow_iban) == compact(
        Settings.model_fields["escrow_iban"].default)


_PAIN001_ITEMS = {"iban": "tilinumero (IBAN) ei kelpaa", "bic": "BIC-tunnus ei kelpaa",
                  "name": "nimi puuttuu"}


def _pain001_message(exc: Pain001Error, names: dict[str, str]) -> ValidationError:
    """The payout file's refusal, Finnish first: whose account data and which part is
    wrong (`names`: end-to-end id, the settlement reference → organisation), the
    technical reason in English."""
    whose = ("asiakasvaratilin" if exc.party == "debtor" else
             f"yhdistyksen {names[exc.party]}" if exc.party in names else "tilisiirron")
    what = _PAIN001_ITEMS.get(exc.item or "", "tiedot eivät kelpaa")
    return ValidationError(f"Maksutiedostoa ei voi tehdä: {whose} {what}",
                           f"The payout file cannot be made: {exc}")


def approve_run(session: Session, actor: Actor | None, run_id: int, *,
                execution_date: date | None = None, version: str | None = None) -> bytes:
    """Approve a draft run and return its pain.001 payout file (stored on the run).

    One transfer per organisation with a payout, from the escrow account, with the
    settlement's RF reference as structured remittance. Execution on `execution_date`
    (default today, Helsinki), rolled to the next banking day. Approving an approved run
    returns the same file. Organisations without a valid IBAN stop the approval.
    """
    require_operator(actor)
    lock_money(session)
    run = get_run(session, run_id)
    if run.status == "approved":
        return (run.payout_xml or "").encode()
    chosen = pain001_version(version)
    today = _today()
    day = next_banking_day(execution_date or today)
    if day < today:
        raise ValidationError("Maksupäivä ei voi olla menneisyydessä",
                              "The execution date cannot be in the past", field="execution_date")
    rows = _settlements(session, run_id)
    for settlement, org in rows:
        settlement.iban = org.iban  # the account as it is now, fixed by the approval
    paid = [(s, o) for s, o in rows if s.payout_cents > 0]
    missing = [o.name for s, o in paid if not _valid_iban(s.iban)]
    if missing:
        raise ValidationError(
            "Näiltä yhdistyksiltä puuttuu kelvollinen IBAN: " + ", ".join(missing),
            "These organisations have no valid IBAN: " + ", ".join(missing), field="iban")
    settings = get_settings()
    message_id = f"MEMBOOK-SETTLEMENT-{run.id}"
    xml = b""
    if paid:
        try:
            xml = build_pain001(
                Debtor(settings.escrow_name, settings.escrow_iban, settings.escrow_bic),
                day,
                [CreditTransfer(end_to_end_id=s.reference, creditor_name=o.name,
                                creditor_iban=s.iban or "", amount_cents=s.payout_cents,
                                reference=s.reference, creditor_bic=o.bic or None)
                 for s, o in paid],
                version=chosen, message_id=message_id)
        except Pain001Error as exc:  # e.g. a mistyped BIC: the bank would reject the file
            raise _pain001_message(exc, {s.reference: o.name for s, o in paid}) from exc
    for settlement, _ in rows:
        if settlement.status == "draft":
            settlement.status = "approved"
        session.add(settlement)
    run.status, run.execution_date, run.pain001_version = "approved", day, chosen
    run.payout_xml = xml.decode() if xml else None
    run.message_id = message_id if xml else None
    run.approved_by_user_id = actor.user_id if actor else None
    run.approved_at = utcnow()
    session.add(run)
    session.flush()
    record(session, actor, "settlement_run.approved", "settlementrun", run.id,
           before={"status": "draft"},
           after={"status": "approved", "execution_date": day, "pain001_version": chosen,
                  "payout_count": len(paid), "payout_cents": sum(s.payout_cents for s, _ in paid),
                  "message_id": run.message_id})
    return xml


def describe_share(share: OrgShare) -> dict[str, Any]:
    """Finnish money strings of one share (CLI and page)."""
    return {"payments": share.payment_count, "gross": money(share.gross_cents),
            "reversals": money(share.reversal_cents), "fees": money(share.fee_cents),
            "carried_in": money(share.carried_in_cents), "net": money(share.net_cents),
            "payout": money(share.payout_cents)}


# --- the operator's review -------------------------------------------------------------

@dataclass(frozen=True)
class ReviewRow:
    """One settlement of a run, as the operator reviews it."""

    share: OrgShare
    settlement_id: int
    reference: str
    status: str
    iban_ok: bool


def list_runs(session: Session, actor: Actor | None, *, limit: int = 52) -> list[SettlementRun]:
    """The latest runs, newest first (a year of weekly runs by default)."""
    require_operator(actor)
    return list(session.exec(select(SettlementRun).order_by(
        col(SettlementRun.cut_off).desc()).limit(limit)).all())


def review_run(session: Session, actor: Actor | None, run_id: int) -> list[ReviewRow]:
    """Every settlement of a run with what it pays; a draft shows the IBAN as it is now."""
    require_operator(actor)
    draft = get_run(session, run_id).status == "draft"
    review = []
    for s, org in _settlements(session, run_id):
        iban = org.iban if draft else s.iban
        review.append(ReviewRow(_as_share(s, org.name, iban), s.id,  # type: ignore[arg-type]
                                s.reference, s.status, s.payout_cents == 0 or _valid_iban(iban)))
    return review


def payout_file(session: Session, actor: Actor | None, run_id: int) -> tuple[bytes, str]:
    """The stored pain.001 of an approved run and a file name for it."""
    require_operator(actor)
    run = get_run(session, run_id)
    if run.status != "approved" or not run.payout_xml:
        raise NotFound("Tilitysajolla ei ole maksutiedostoa",
                       "The settlement run has no payout file")
    return run.payout_xml.encode(), f"tilitys-{run.id}-{run.execution_date}.xml"
