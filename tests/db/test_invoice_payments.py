"""The staff invoice page's payments (kind, matching rule, reversals) and print links."""

from __future__ import annotations

import re
from datetime import date

from starlette.testclient import TestClient

from membook_app.api import api
from membook_app.billing.invoice_payments import invoice_payments, paper_links
from membook_app.billing.invoice_view import printed_reference
from membook_app.billing.status import refresh_invoices
from membook_app.db import session_scope
from membook_app.payments.matching import reverse_payment
from models import Allocation, Invoice, Payment
from tests.db.test_invoice_delivery import actor_for
from tests.db.test_invoice_page import make_invoice
from tests.factories import make_member, make_tree


def test_payments_show_kind_rule_and_reversals_and_links_open_the_invoice(
        db_url: str) -> None:
    tree = make_tree(db_url)
    payer = make_member(db_url, tree.club_a, tree.type_a, "Ilmari", "Paperinen")
    invoice_id = make_invoice(db_url, tree.club_a, payer, [(tree.club_a, "Jäsenmaksu", 3000)])
    with session_scope(db_url) as s:
        paid = Payment(source="bank", source_id="A1", amount_cents=3000,
                       booking_date=date(2027, 1, 10), payer_name="PAPERINEN ILMARI",
                       status="matched", match_rule="reference")
        back = Payment(source="bank", source_id="A2", amount_cents=-3000,
                       booking_date=date(2027, 1, 12), payer_name="PAPERINEN ILMARI")
        s.add(paid)
        s.add(back)
        s.flush()
        s.add(Allocation(payment_id=paid.id, invoice_id=invoice_id, amount_cents=3000,
                         rule="reference"))
        s.flush()
        reverse_payment(s, back, paid)
        refresh_invoices(s, [invoice_id], today=date(2027, 1, 12))
    viewer = actor_for(db_url, "katsoja@example.fi", tree.club_a, "viewer")
    with session_scope(db_url) as s:
        lines = invoice_payments(s, viewer, invoice_id)
        links = paper_links(s, viewer, invoice_id)
        reference = printed_reference(s.get(Invoice, invoice_id).reference)
    assert [(p.source, p.amount_cents, p.kind, p.rule, p.reversal) for p in lines] == [
        ("pankki / bank", 3000, "laskulle / to invoice", "viite / reference",
         "oikaistu / reversed"),
        ("pankki / bank", -3000, "oikaisu / correction", "oikaisu / correction",
         "oikaisu / correction"),
    ]
    # For printing: the public page and the PDF of this very invoice.
    client = TestClient(api)
    page = client.get(links.page.removeprefix("http://127.0.0.1:3999"))
    assert page.status_code == 200
    assert re.search(rf'id="reference">{reference}<', page.text)
    pdf = client.get(links.pdf.removeprefix("http://127.0.0.1:3999"))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
