"""A settled world for the settlement list, detail, report and refusal tests (no tests here).

federation → district → club and its sibling club; members invoiced with the real manual
invoice service (one line per organisation that charges a share), paid through a real
camt.054 import, settled by a real approved run; then one more payment in a draft run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import select

from membook_app.billing.invoices import LineInput, create_manual_invoice
from membook_app.db import session_scope
from membook_app.payments.bank_import import import_bank_file
from membook_app.register.organizations import create_organization
from membook_app.settlements.runs import approve_run, create_run
from models import Settlement
from tests.db.settlement_support import make_org_tree
from tests.db.test_bank_import_support import TODAY, camt054
from tests.factories import make_member, make_member_login, make_staff

PAID_ON = date(2026, 11, 26)
SIBLING_IBAN = "FI1410093000123458"


@dataclass
class SettledWorld:
    url: str
    federation: int
    district: int
    club: int
    sibling: int
    references: dict[str, str]          # member key → invoice reference
    approved: dict[int, int]            # organisation → settlement id in the approved run
    draft: dict[int, int]               # organisation → settlement id in the draft run
    tokens: dict[str, str]              # who → session token ("" and a forged one too)


def _invoice(url: str, org: int, person: int, lines: list[tuple[int, int]]) -> str:
    with session_scope(url) as s:
        invoice = create_manual_invoice(
            s, None, organization_id=org, person_id=person,
            lines=[LineInput(o, "Jäsenmaksu 2027", cents) for o, cents in lines],
            issue_date=date(2026, 11, 1), due_date=date(2026, 12, 31))
        return invoice.reference


def _pay(url: str, msg_id: str, payments: list[tuple[str, str, int, str]]) -> None:
    """camt.054 credits: (archive id, reference, cents, payer name)."""
    with session_scope(url) as s:
        import_bank_file(s, None, camt054([
            {"archive": archive, "ref": ref, "cents": cents, "name": name,
             "date": PAID_ON.isoformat()} for archive, ref, cents, name in payments],
            msg_id=msg_id), f"{msg_id}.xml", today=TODAY)


def _run(url: str, approve: bool) -> dict[int, int]:
    with session_scope(url) as s:
        run_id = create_run(s, None).id
    if approve:
        with session_scope(url) as s:
            approve_run(s, None, run_id)  # type: ignore[arg-type]
    with session_scope(url) as s:
        return {x.organization_id: x.id for x in s.exec(  # type: ignore[misc]
            select(Settlement).where(Settlement.run_id == run_id))}


def make_settled_world(url: str) -> SettledWorld:
    tree = make_org_tree(url)
    with session_scope(url) as s:
        sibling = create_organization(s, None, name="Sisarseura ry", parent_id=tree.district,
                                      plan_code="basic_mini", iban=SIBLING_IBAN).id
    assert sibling is not None
    people = {
        "aino": make_member(url, tree.club, None, "Aino", "Aaltonen", "aino@example.fi"),
        "ville": make_member(url, tree.club, None, "Ville", "Virta", "ville@example.fi"),
        "pekka": make_member(url, sibling, None, "Pekka", "Pelkonen", "pekka@example.fi"),
        "late": make_member(url, tree.club, None, "Liisa", "Myöhä", "liisa@example.fi"),
    }
    chain = [(tree.club, 3000), (tree.district, 1500), (tree.federation, 1000)]
    refs = {
        "aino": _invoice(url, tree.club, people["aino"], chain),
        "ville": _invoice(url, tree.club, people["ville"], chain),
        "pekka": _invoice(url, sibling, people["pekka"], [(sibling, 2000), (tree.district, 1500)]),
        "late": _invoice(url, tree.club, people["late"], chain),
    }
    _pay(url, "FIRST", [("A1", refs["aino"], 5500, "Aaltonen Aino"),
                        ("A2", refs["ville"], 5500, "Virta Ville"),
                        ("A3", refs["pekka"], 3500, "Pelkonen Pekka")])
    approved = _run(url, approve=True)
    _pay(url, "SECOND", [("B1", refs["late"], 5500, "Myöhä Liisa")])
    draft = _run(url, approve=False)
    tokens = {
        "nobody": "", "forged": "not-a-real-session-token",
        "member": make_member_login(url, "aino@example.fi"),
        "operator": make_staff(url, "op@example.fi", None, None, operator=True),
        "club_treasurer": make_staff(url, "club@example.fi", tree.club, "treasurer"),
        "sibling_treasurer": make_staff(url, "sibling@example.fi", sibling, "treasurer"),
        "district_viewer": make_staff(url, "district@example.fi", tree.district, "viewer"),
    }
    return SettledWorld(url, tree.federation, tree.district, tree.club, sibling, refs,
                        approved, draft, tokens)
