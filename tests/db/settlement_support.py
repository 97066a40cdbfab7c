"""Builders for the settlement tests (no tests here).

A federation → district → club tree on three plans with different transaction fees,
invoices with one line per organisation in the chain, and money booked through the real
bank import (camt.054) and the unmatched-queue functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from itertools import count

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.banking.references import make_national
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from membook_app.register.organizations import create_organization
from membook_app.register.people import create_person
from membook_app.register.plans import ensure_plans
from models import (
    Allocation,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    MembershipType,
    Organization,
    RunPrice,
    RunPriceLine,
    Settlement,
    SettlementLine,
    SettlementRun,
)
from tests.db.test_bank_import_support import camt054

TODAY = date(2026, 11, 27)
IBANS = {"federation": "FI5542345670000081", "district": "FI4950009420028730",
         "club": "FI7944052020036082"}
FEES = {"federation": 25, "district": 35, "club": 45}  # premium, basic, basic_mini


@dataclass
class Org3:
    url: str
    federation: int
    district: int
    club: int
    person: int


def make_org_tree(url: str, *, club_iban: str | None = IBANS["club"]) -> Org3:
    with session_scope(url) as s:
        ensure_plans(s)
        fed = create_organization(s, None, name="Liitto ry", plan_code="premium",
                                  iban=IBANS["federation"])
        dist = create_organization(s, None, name="Piiri ry", parent_id=fed.id,
                                   plan_code="basic", iban=IBANS["district"])
        club = create_organization(s, None, name="Seura ry", parent_id=dist.id,
                                   plan_code="basic_mini", iban=club_iban)
        person = create_person(s, None, {"first_name": "Matti", "last_name": "Virtanen"})
        return Org3(url, fed.id, dist.id, club.id, person.id)  # type: ignore[arg-type]


_numbers = count(1000)


def make_invoice(world: Org3, lines: list[tuple[int, int]], *,
                 priced: bool = False) -> tuple[int, str]:
    """An invoice of the club with these (organisation, cents) lines; (id, reference).

    `priced`: the lines are a run price's (as an invoice run writes them), not the
    invoice's own: settlements and reports must read both kinds alike."""
    reference = make_national(str(next(_numbers)))
    with session_scope(world.url) as s:
        invoice = Invoice(organization_id=world.club, person_id=world.person,
                          payer_id=world.person, reference=reference,
                          description="Jäsenmaksu", issue_date=date(2026, 11, 1),
                          due_date=date(2026, 12, 31), total_cents=sum(c for _, c in lines))
        if priced:
            invoice.run_id, invoice.run_price_id = _run_price(s, world, lines)
        s.add(invoice)
        s.flush()
        if not priced:
            for position, (org, cents) in enumerate(lines, start=1):
                s.add(InvoiceLine(invoice_id=invoice.id, organization_id=org,  # type: ignore[arg-type]
                                  description="Jäsenmaksu", amount_cents=cents,
                                  position=position))
        return invoice.id, reference  # type: ignore[return-value]


def _run_price(s: Session, world: Org3, lines: list[tuple[int, int]]) -> tuple[int, int]:
    """A one-price invoice run of the club with these lines: (run id, price id)."""
    kind = MembershipType(organization_id=world.club, name=f"Laji {next(_numbers)}")
    run = InvoiceRun(organization_id=world.club, period="2027", issue_date=date(2026, 11, 1),
                     due_date=date(2026, 12, 31))
    s.add_all([kind, run])
    s.flush()
    price = RunPrice(run_id=run.id, organization_id=world.club,  # type: ignore[arg-type]
                     membership_type_id=kind.id, total_cents=sum(c for _, c in lines))  # type: ignore[arg-type]
    s.add(price)
    s.flush()
    s.add_all([RunPriceLine(run_price_id=price.id, organization_id=org,  # type: ignore[arg-type]
                            description="Jäsenmaksu", amount_cents=cents, position=position)
               for position, (org, cents) in enumerate(lines, start=1)])
    return run.id, price.id  # type: ignore[return-value]


def standard_invoice(world: Org3, fed: int = 1000, dist: int = 1500,
                     club: int = 3000) -> tuple[int, str]:
    return make_invoice(world, [(world.club, club), (world.district, dist),
                                (world.federation, fed)])


_archives = count(1)


def pay(url: str, entries: list[tuple[str, int]] | list[dict[str, object]]) -> None:
    """Import one camt.054 with these (reference, cents) credits (or full entry dicts)."""
    full = []
    for e in entries:
        if isinstance(e, dict):
            full.append({"archive": f"A{next(_archives)}", **e})
        else:
            full.append({"archive": f"A{next(_archives)}", "ref": e[0], "cents": e[1]})
    with session_scope(url) as s:
        import_bank_file(s, None, camt054(full, msg_id=f"MSG-{next(_archives)}"), "pay.xml",
                         today=TODAY)


def correct(url: str, reference: str, cents: int) -> None:
    """The bank's correction (return) of an earlier payment of `cents` to `reference`."""
    pay(url, [{"ref": reference, "cents": cents, "debit": True, "reversal": True}])


def received_on_invoices(s: Session) -> int:
    return int(s.exec(select(sa.func.coalesce(sa.func.sum(Allocation.amount_cents), 0))
                      .where(col(Allocation.invoice_id).is_not(None))).one())


def unsettled_on_invoices(s: Session) -> int:
    settled = select(SettlementLine.allocation_id)
    return int(s.exec(select(sa.func.coalesce(sa.func.sum(Allocation.amount_cents), 0))
                      .where(col(Allocation.invoice_id).is_not(None),
                             col(Allocation.id).not_in(settled))).one())


def money_balance(s: Session) -> tuple[int, int, int, int]:
    """(payouts, fees, carried balances, unsettled) over every run."""
    payouts = int(s.exec(select(sa.func.coalesce(sa.func.sum(Settlement.payout_cents), 0))).one())
    fees = int(s.exec(select(sa.func.coalesce(sa.func.sum(SettlementLine.fee_cents), 0))).one())
    from membook_app.settlements.runs import carried_balances
    carried = sum(carried_balances(s).values())
    return payouts, fees, carried, unsettled_on_invoices(s)


def settlement_of(s: Session, run_id: int, org_id: int) -> Settlement:
    return s.exec(select(Settlement).where(Settlement.run_id == run_id,
                                           Settlement.organization_id == org_id)).one()


def org_name(s: Session, org_id: int) -> str:
    org = s.get(Organization, org_id)
    assert org is not None
    return org.name


def run_count(s: Session) -> int:
    return len(s.exec(select(SettlementRun.id)).all())
