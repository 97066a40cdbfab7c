"""Shared builders for the bank import, matching and unmatched-queue tests (no tests here).

Invoices are written with the models directly (with one line each) until the invoice
run service lands; references come from the real reference code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, col, select

from membook_app.accounts.permissions import Actor
from membook_app.accounts.sessions import resolve_session
from membook_app.banking.references import validate_national
from membook_app.db import session_scope
from models import Allocation, Invoice, InvoiceLine, Payment
from tests.conftest import SHARED
from tests.factories import Tree, make_member, make_tree

SAMPLES = SHARED / "domain" / "samples"
TODAY = date(2026, 11, 27)
DUE = date(2026, 12, 31)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def sample_path(name: str) -> Path:
    return SAMPLES / name


def make_invoice(url: str, org_id: int, person_id: int, reference: str, total_cents: int,
                 *, due: date = DUE, payer_id: int | None = None) -> int:
    with session_scope(url) as s:
        invoice = Invoice(organization_id=org_id, person_id=person_id,
                          payer_id=payer_id or person_id, reference=validate_national(reference),
                          description=f"Jäsenmaksu {reference}", issue_date=date(2026, 11, 1),
                          due_date=due, total_cents=total_cents)
        s.add(invoice)
        s.flush()
        s.add(InvoiceLine(invoice_id=invoice.id, organization_id=org_id,  # type: ignore[arg-type]
                          description="Jäsenmaksu", amount_cents=total_cents))
        return invoice.id  # type: ignore[return-value]


@dataclass
class World:
    url: str
    tree: Tree
    people: dict[str, int]
    invoices: dict[str, int]


# Reference → (person key, club, amount) for every reference in the sample files.
SAMPLE_INVOICES = {
    "20260011": ("virtanen", "a", 3500),
    "100000010": ("makinen", "a", 12050),
    "20240015": ("korhonen", "a", 5000),
    "12345678901234567894": ("laakso", "b", 99999),
    "5550001237": ("esimerkki", "b", 1500),
    "20260037": ("heikkinen", "b", 4000),
    "20260040": ("salo", "b", 6000),
}
PEOPLE = {
    "virtanen": ("Matti", "Virtanen", "a"), "makinen": ("Liisa", "Mäkinen", "a"),
    "korhonen": ("Liisa", "Korhonen", "a"), "laakso": ("Anna-Maija", "Laakso-Ahonen", "b"),
    "esimerkki": ("Olli", "Esimerkki", "b"), "heikkinen": ("Jussi", "Heikkinen", "b"),
    "salo": ("Sari", "Salo", "b"), "niemi": ("Pekka", "Niemi", "a"),
}


def make_world(url: str, invoices: dict[str, tuple[str, str, int]] | None = None) -> World:
    tree = make_tree(url)
    clubs = {"a": (tree.club_a, tree.type_a), "b": (tree.club_b, tree.type_b)}
    people = {key: make_member(url, *clubs[club], first, last)
              for key, (first, last, club) in PEOPLE.items()}
    wanted = SAMPLE_INVOICES if invoices is None else invoices
    made = {ref: make_invoice(url, clubs[club][0], people[person], ref, amount)
            for ref, (person, club, amount) in wanted.items()}
    return World(url, tree, people, made)


def actor(url: str, token: str) -> Actor:
    with session_scope(url) as s:
        found = resolve_session(s, token)
    assert found is not None
    return found


def invoice_state(s: Session, invoice_id: int) -> tuple[str, int]:
    invoice = s.get(Invoice, invoice_id)
    assert invoice is not None
    s.refresh(invoice)
    return invoice.status, invoice.paid_cents


def balance(s: Session, person_id: int) -> int:
    return int(s.exec(select(sa.func.coalesce(sa.func.sum(Allocation.amount_cents), 0)).where(
        Allocation.person_id == person_id, col(Allocation.invoice_id).is_(None))).one())


def payment_by_source(s: Session, source_id: str) -> Payment:
    return s.exec(select(Payment).where(Payment.source_id == source_id)).one()


def money_snapshot(url: str) -> tuple[int, int, int, tuple[tuple[int, str, int], ...]]:
    """Counts of payments/allocations/audit rows and every invoice's state."""
    from models import AuditEvent, BankImport
    with session_scope(url) as s:
        return (
            len(s.exec(select(Payment.id)).all()) + 1000 * len(s.exec(select(BankImport.id)).all()),
            len(s.exec(select(Allocation.id)).all()),
            len(s.exec(select(AuditEvent.id).where(
                col(AuditEvent.action).startswith("payment"))).all()),
            tuple(s.exec(select(Invoice.id, Invoice.status, Invoice.paid_cents)
                         .order_by(Invoice.id)).all()),
        )


def camt054(entries: list[dict[str, object]], msg_id: str = "TEST-0001") -> bytes:
    """A minimal camt.054.001.02 notification; each entry: archive, cents, ref, ustrd, name,
    debit, reversal, date."""
    ntries = []
    for e in entries:
        cents = int(e["cents"])  # type: ignore[call-overload]
        amount = f"{cents // 100}.{cents % 100:02d}"
        ref = (f"<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp>"
               f"<Ref>{e['ref']}</Ref></CdtrRefInf></Strd>") if e.get("ref") else ""
        ustrd = f"<Ustrd>{e['ustrd']}</Ustrd>" if e.get("ustrd") else ""
        rvsl = "<RvslInd>true</RvslInd>" if e.get("reversal") else ""
        day = e.get("date", "2026-11-26")
        ntries.append(
            f"<Ntry><Amt Ccy=\"EUR\">{amount}</Amt>"
            f"<CdtDbtInd>{'DBIT' if e.get('debit') else 'CRDT'}</CdtDbtInd>{rvsl}"
            f"<Sts>BOOK</Sts><BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
            f"<AcctSvcrRef>{e['archive']}</AcctSvcrRef>"
            f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd>"
            f"</Fmly></Domn></BkTxCd><NtryDtls><TxDtls><Refs>"
            f"<AcctSvcrRef>{e['archive']}</AcctSvcrRef></Refs>"
            f"<AmtDtls><TxAmt><Amt Ccy=\"EUR\">{amount}</Amt></TxAmt></AmtDtls>"
            f"<RltdPties><Dbtr><Nm>{e.get('name', 'Maksaja')}</Nm></Dbtr></RltdPties>"
            f"<RmtInf>{ustrd}{ref}</RmtInf></TxDtls></NtryDtls></Ntry>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">'
        f"<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>{msg_id}</MsgId>"
        "<CreDtTm>2026-11-27T06:15:00</CreDtTm></GrpHdr><Ntfctn><Id>N1</Id>"
        "<CreDtTm>2026-11-27T06:15:00</CreDtTm><Acct><Id><IBAN>FI2112345600000785</IBAN>"
        "</Id></Acct>" + "".join(ntries) + "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"
    ).encode()
