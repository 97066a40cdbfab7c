"""The public invoice page and PDF (/i/{token}, /i/{token}.pdf), both databases.

Invoices are written directly as rows here (the billing core builds them in runs);
the page is fetched through the real Starlette app that Reflex mounts.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from itertools import count

import pytest
import segno
from segno.helpers import make_epc_qr
from starlette.testclient import TestClient

from membook_app.accounts import tokens
from membook_app.api import api
from membook_app.banking.barcode import decode_barcode
from membook_app.banking.references import make_national
from membook_app.billing.invoice_view import build_view
from membook_app.billing.public_link import (
    LinkExpired,
    invoice_url,
    issue_token,
    issue_tokens,
    resolve,
)
from membook_app.billing.status import refresh_invoices
from membook_app.db import session_scope
from membook_app.errors import NotFound
from models import Allocation, Invoice, InvoiceLine, Payment
from tests.factories import make_member, make_tree
from tests.pdf_text import drawn_rectangles, pdf_text

_SEQ = count(1)


def make_invoice(url: str, org_id: int, payer_id: int, lines: list[tuple[int, str, int]],
                 *, due: date | None = None, issue: date | None = None,
                 description: str = "Jäsenmaksu 2027", run_id: int | None = None,
                 person_id: int | None = None) -> int:
    """An invoice with lines (org id, text, cents) and its own national reference, for
    `person_id` (the payer's household member) or the payer."""
    n = next(_SEQ)
    with session_scope(url) as s:
        invoice = Invoice(
            organization_id=org_id, person_id=person_id or payer_id, payer_id=payer_id,
            run_id=run_id, period="2027", reference=make_national(f"{n:04d}{payer_id:04d}"),
            description=description, issue_date=issue or date(2026, 12, 1),
            due_date=due or date(2027, 1, 31), total_cents=sum(c for _, _, c in lines))
        s.add(invoice)
        s.flush()
        for position, (line_org, text, cents) in enumerate(lines):
            s.add(InvoiceLine(invoice_id=invoice.id, organization_id=line_org, description=text,
                              amount_cents=cents, position=position))
        return invoice.id  # type: ignore[return-value]


def pay(url: str, invoice_id: int, cents: int, booked: date, today: date | None = None) -> None:
    """A bank payment allocated to the invoice, then the status rule."""
    with session_scope(url) as s:
        payment = Payment(source="bank", source_id=f"ARCH{invoice_id}-{booked}", amount_cents=cents,
                          booking_date=booked)
        s.add(payment)
        s.flush()
        s.add(Allocation(payment_id=payment.id, invoice_id=invoice_id, amount_cents=cents))
        s.flush()
        refresh_invoices(s, [invoice_id], today=today or booked)


@pytest.fixture
def world(db_url: str) -> dict:
    tree = make_tree(db_url)
    payer = make_member(db_url, tree.club_a, tree.type_a, "Åsa", "Öljynen", "asa@example.fi",
                        street_address="Kotikatu 1", postal_code="00100", city="Helsinki")
    invoice_id = make_invoice(db_url, tree.club_a, payer, [
        (tree.club_a, "Seuran jäsenmaksu", 2500),
        (tree.district, "Piirin osuus", 800),
        (tree.federation, "Liiton osuus", 1200),
    ])
    with session_scope(db_url) as s:
        invoice = s.get(Invoice, invoice_id)
        reference = invoice.reference
    return {"url": db_url, "tree": tree, "payer": payer, "invoice": invoice_id,
            "reference": reference, "token": issue_token(invoice_id, reference)}


def test_page_shows_everything_needed_to_pay(world: dict) -> None:
    client = TestClient(api)
    response = client.get(f"/i/{world['token']}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"  # the token is in the URL
    html = response.text
    for expected in ("Seura A ry", "Åsa Öljynen", "Seuran jäsenmaksu", "Piirin osuus",
                     "Liiton osuus", "45,00", "31.1.2027", "FI21 1234 5600 0007 85", "NDEAFIHH",
                     "Membook asiakasvaratili", "Eräpäivä", "Due date",
                     "Maksa verkossa", "Pay online", 'id="pay-online"',
                     f'href="/pay/{world["token"]}"',
                     'name="viewport"', "data:image/svg+xml;base64,"):
        assert expected in html, expected
    reference = world["reference"]
    printed = re.search(r'id="reference">([0-9 ]+)<', html).group(1)
    assert printed.replace(" ", "") == reference and all(len(g) <= 5 for g in printed.split())
    digits = re.search(r'id="barcode">(\d+)<', html).group(1)
    decoded = decode_barcode(digits)
    assert decoded == {"version": 4, "iban": "FI2112345600000785", "amount_cents": 4500,
                       "reference": reference, "due": date(2027, 1, 31)}


def test_view_codes_match_the_banking_helpers(world: dict) -> None:
    with session_scope(world["url"]) as s:
        view = build_view(s, s.get(Invoice, world["invoice"]))
    assert view.open_cents == 4500 and view.total == "45,00\xa0€"
    assert view.barcode_svg.lstrip().startswith("<?xml") and "<rect" in view.barcode_svg
    # The QR the PDF draws is the EPC symbol segno's helper makes.
    epc = make_epc_qr(name="Membook asiakasvaratili", iban="FI2112345600000785",
                      amount=45, reference=view.qr_payload.splitlines()[9], bic="NDEAFIHH")
    assert segno.make_qr(view.qr_payload, error="m", boost_error=False).matrix == epc.matrix


def test_pdf_has_the_same_content(world: dict) -> None:
    response = TestClient(api).get(f"/i/{world['token']}.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    data = response.content
    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    with session_scope(world["url"]) as s:
        view = build_view(s, s.get(Invoice, world["invoice"]))
    for expected in ("Seura A ry", "Åsa Öljynen", "Piirin osuus", "45,00\xa0€", "31.1.2027",
                     view.reference, view.barcode, "FI21 1234 5600 0007 85", "NDEAFIHH",
                     "Viitenumero / Reference"):
        assert expected in text, expected
    assert drawn_rectangles(data) > 100  # the bars and QR modules are drawn as rectangles


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB"),  # broken signature
    lambda t: "not-a-token",
    lambda t: tokens.issue("signin", "1", None),  # another purpose
])
def test_forged_tokens_get_the_404_page(world: dict, mangle) -> None:  # noqa: ANN001
    client = TestClient(api)
    for suffix in ("", ".pdf"):
        response = client.get(f"/i/{mangle(world['token'])}{suffix}")
        assert response.status_code == 404
        assert "Laskua ei löydy" in response.text and "Invoice not found" in response.text
        assert world["reference"] not in response.text


def test_token_for_another_invoice_id_is_refused(world: dict) -> None:
    """A validly signed token whose reference does not belong to the invoice id."""
    token = tokens.issue("invoice", str(world["invoice"]), None, ref="12344")
    assert TestClient(api).get(f"/i/{token}").status_code == 404


def test_link_expires_90_days_after_payment(world: dict) -> None:
    url, invoice_id = world["url"], world["invoice"]
    paid_on = date(2027, 1, 20)
    pay(url, invoice_id, 4500, paid_on)
    with session_scope(url) as s:
        assert resolve(s, world["token"], today=paid_on + timedelta(days=90)).id == invoice_id
        with pytest.raises(LinkExpired):
            resolve(s, world["token"], today=paid_on + timedelta(days=91))
    # Paid: no barcode or QR any more, the page says so.
    html = TestClient(api).get(f"/i/{world['token']}").text
    assert "Maksettu" in html and 'id="barcode"' not in html and 'id="pay-online"' not in html


def test_partly_paid_invoice_asks_for_the_rest_and_never_expires(world: dict) -> None:
    url = world["url"]
    pay(url, world["invoice"], 1500, date(2027, 1, 10))
    with session_scope(url) as s:
        assert resolve(s, world["token"], today=date(2030, 1, 1)).id == world["invoice"]
        view = build_view(s, s.get(Invoice, world["invoice"]))
    assert view.status == "partly_paid" and view.open_cents == 3000
    assert decode_barcode(view.barcode)["amount_cents"] == 3000


def test_bulk_tokens_are_the_same_jwt(world: dict) -> None:
    [bulk] = issue_tokens([(world["invoice"], world["reference"])])
    claims = tokens.read(bulk, "invoice")  # joserfc verifies what hmac signed
    assert claims["sub"] == str(world["invoice"]) and claims["ref"] == world["reference"]
    assert claims["jti"] and "exp" not in claims
    with session_scope(world["url"]) as s:
        assert resolve(s, bulk).id == world["invoice"]
    other = issue_tokens([(world["invoice"], world["reference"])])[0]
    assert other != bulk  # a fresh nonce each time: links are not guessable from each other
    assert invoice_url(bulk) == f"http://127.0.0.1:3999/i/{bulk}"


def test_unknown_invoice_is_not_found(world: dict) -> None:
    token = issue_token(999_999, "12344")
    with session_scope(world["url"]) as s, pytest.raises(NotFound):
        resolve(s, token)


def test_pdf_and_page_name_payer_and_member_in_any_script(world: dict) -> None:
    """Names outside Windows-1252 (Polish, Vietnamese, Sámi, Cyrillic) render in the PDF,
    and a household payer's invoice names the member it is for."""
    url, tree = world["url"], world["tree"]
    payer = make_member(url, tree.club_a, tree.type_a, "Łukasz", "Nguyễn", "lukasz@example.fi")
    child = make_member(url, tree.club_a, tree.type_a, "Áile", "Ŋuđđečč")
    invoice_id = make_invoice(url, tree.club_a, payer, [
        (tree.club_a, "Членский взнос / Jäsenmaksu", 2500)], person_id=child,
        description="Юниоры 2027")
    with session_scope(url) as s:
        token = issue_token(invoice_id, s.get(Invoice, invoice_id).reference)
    client = TestClient(api)
    response = client.get(f"/i/{token}.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    for expected in ("Łukasz Nguyễn", "Áile Ŋuđđečč", "Членский взнос / Jäsenmaksu",
                     "Юниоры 2027", "Jäsen / Member", "25,00\xa0€"):
        assert expected in text, expected
    html = client.get(f"/i/{token}").text
    assert re.search(r'id="member">Áile Ŋuđđečč<', html)
    assert re.search(r'id="payer">Łukasz Nguyễn<', html)
    # The payer's own invoice names nobody else.
    assert 'id="member"' not in client.get(f"/i/{world['token']}").text
    assert "Jäsen / Member" not in pdf_text(client.get(f"/i/{world['token']}.pdf").content)
