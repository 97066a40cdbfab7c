"""Online payment pages and Paytrail's redirects and callbacks.

/pay/{token}            "Maksa verkossa": GET shows the amount and a button, POST
                        creates a fresh attempt and shows the bank and provider buttons
/paytrail/return/...    where Paytrail sends the browser back (signature verified)
/paytrail/callback/...  Paytrail's server-to-server notification (answers 2xx once
                        verified, 400 for forgeries)

The invoice link token is the permission, as on the invoice page itself.
"""

from __future__ import annotations

import logging
from html import escape
from urllib.parse import urlsplit

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from membook_app.billing.public_link import invoice_url, issue_token, resolve
from membook_app.db import session_scope
from membook_app.errors import DomainError, NotFound
from membook_app.formatting import money
from membook_app.payments.online import (
    ForgedResult,
    apply_signed_query,
    make_client,
    open_amount,
    start_payment,
)
from membook_app.payments.paytrail import PaytrailError
from membook_app.settings import get_settings
from models import Invoice, PaytrailAttempt

log = logging.getLogger(__name__)

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f4f5f7;color:#1c2024;line-height:1.45}
main{max-width:40rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:10px;padding:1rem 1.2rem;margin:0 0 1rem;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:.2rem 0}.en{color:#60646c;font-weight:normal}
.providers{display:grid;grid-template-columns:repeat(auto-fill,minmax(8.5rem,1fr));gap:.6rem}
.providers form{margin:0}.providers button{width:100%;min-height:3.2rem;border:1px solid #d0d4da;
border-radius:8px;background:#fff;cursor:pointer;font-size:.95rem}
button.primary,a.button{display:inline-block;padding:.7rem 1.1rem;border-radius:8px;border:0;
background:#3e63dd;color:#fff;text-decoration:none;font-size:1rem;cursor:pointer}
.ok{color:#18794e}.fail{color:#ce2c31}.muted{color:#60646c;font-size:.9rem}
"""


def _headers() -> dict[str, str]:
    provider_origin = "{0.scheme}://{0.netloc}".format(urlsplit(get_settings().paytrail_base_url))
    return {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Robots-Tag": "noindex, nofollow",
        "Content-Security-Policy": "default-src 'none'; img-src https: data:; "
                                   "style-src 'unsafe-inline'; frame-ancestors 'none'; "
                                   f"form-action 'self' https: {provider_origin}",
    }


def _both(fi: str, en: str) -> str:
    return f'{escape(fi)} <span class="en">/ {escape(en)}</span>'


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (f'<!doctype html><html lang="fi"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")
    return HTMLResponse(html, status_code=status, headers=_headers())


def _invoice_for(token: str) -> Invoice | None:
    with session_scope() as session:
        try:
            return resolve(session, token)
        except NotFound:
            return None


def _summary(invoice: Invoice) -> str:
    return (f'<div class="card"><h1>{_both("Maksa verkossa", "Pay online")}</h1>'
            f'<p>{_both("Viite", "Reference")}: <b>{escape(invoice.reference)}</b><br>'
            f'{_both("Maksettavaa", "To pay")}: <b id="pay-amount">'
            f"{escape(money(open_amount(invoice)))}</b></p></div>")


async def pay_page(request: Request) -> Response:
    """Show what will be paid; the POST creates the attempt (a GET never does)."""
    token = request.path_params["token"]
    invoice = _invoice_for(token)
    if invoice is None:
        return _page("Membook", f"<div class='card'>{_both('Linkkiä ei löydy', 'Not found')}</div>",
                     404)
    if request.method == "GET":
        if open_amount(invoice) <= 0:
            return _page("Membook", f"<div class='card'><p class='ok'>"
                                    f"{_both('Lasku on maksettu', 'The invoice is paid')}</p>"
                                    f"<a class='button' href='{escape(invoice_url(token))}'>"
                                    f"{_both('Lasku', 'Invoice')}</a></div>")
        return _page("Membook – maksa verkossa", _summary(invoice) + (
            f'<form method="post"><button class="primary" id="start-payment" type="submit">'
            f'{_both("Valitse maksutapa", "Choose how to pay")}</button></form>'))
    try:
        with session_scope() as session:
            fresh = session.get(Invoice, invoice.id)
            assert fresh is not None
            with make_client() as client:
                started = start_payment(session, fresh, client)
    except DomainError as exc:
        return _page("Membook", f"<div class='card'><p class='fail'>{escape(str(exc))}</p></div>",
                     400)
    except PaytrailError as exc:
        log.error("Paytrail create payment failed: %s", exc)
        return _page("Membook", "<div class='card'><p class='fail'>" + _both(
            "Verkkomaksu ei ole juuri nyt käytettävissä. Voit maksaa tilisiirrolla viitteellä.",
            "Online payment is not available right now. You can pay by bank transfer "
            "with the reference.") + "</p></div>", 502)
    forms = []
    for provider in started.created.providers:
        hidden = "".join(f'<input type="hidden" name="{escape(f.name)}" value="{escape(f.value)}">'
                         for f in provider.parameters)
        forms.append(f'<form method="post" action="{escape(provider.url)}">{hidden}'
                     f'<button type="submit" data-provider="{escape(provider.id)}">'
                     f"{escape(provider.name)}</button></form>")
    return _page("Membook – maksutapa", _summary(invoice) + (
        f'<div class="card"><p>{_both("Valitse pankki tai maksutapa", "Choose your bank")}</p>'
        f'<div class="providers">{"".join(forms)}</div>'
        f'<p class="muted"><a href="{escape(started.created.href)}">'
        f'{_both("Tai siirry Paytrailin maksusivulle", "Or go to the Paytrail payment page")}'
        f"</a></p></div>"))


def _token_for_stamp(stamp: str) -> str | None:
    with session_scope() as session:
        row = session.exec(select(Invoice.id, Invoice.reference)
                           .join(PaytrailAttempt, PaytrailAttempt.invoice_id == Invoice.id)
                           .where(PaytrailAttempt.stamp == stamp)).first()
    return issue_token(row[0], row[1]) if row else None


async def payment_return(request: Request) -> Response:
    """The browser is back: verify, apply (idempotently) and say what happened."""
    raw_query = request.url.query
    try:
        with session_scope() as session:
            outcome = apply_signed_query(session, raw_query, source="redirect")
    except ForgedResult:
        return _page("Membook", "<div class='card'><p class='fail'>" + _both(
            "Maksun paluutiedot eivät kelpaa.", "The payment return could not be verified.")
            + "</p></div>", 400)
    token = _token_for_stamp(request.query_params.get("checkout-stamp", ""))
    back = (f'<a class="button" id="back-to-invoice" href="{escape(invoice_url(token))}">'
            f'{_both("Takaisin laskulle", "Back to the invoice")}</a>') if token else ""
    if outcome.status == "ok":
        message = f"<p class='ok' id='payment-ok'>{_both('Kiitos! Maksu onnistui.', 'Thank you! The payment succeeded.')}</p>"  # noqa: E501
    elif outcome.status == "fail":
        message = f"<p class='fail' id='payment-cancelled'>{_both('Maksu peruttiin tai se epäonnistui.', 'The payment was cancelled or failed.')}</p>"  # noqa: E501
    else:
        message = f"<p id='payment-pending'>{_both('Maksu on käsittelyssä. Vahvistamme sen, kun pankki ilmoittaa.', 'The payment is being processed; we confirm it when the bank reports.')}</p>"  # noqa: E501
    return _page("Membook – maksu", f"<div class='card'>{message}{back}</div>")


async def payment_callback(request: Request) -> Response:
    """Paytrail's notification: 200 once verified (also for repeats), 400 for forgeries."""
    try:
        with session_scope() as session:
            apply_signed_query(session, request.url.query, source="callback")
    except ForgedResult as exc:
        return PlainTextResponse(f"refused: {exc.en}", status_code=400)
    return PlainTextResponse("OK")


ROUTES = [
    Route("/pay/{token}", pay_page, methods=["GET", "POST"]),
    Route("/paytrail/return/{kind}", payment_return),
    Route("/paytrail/callback/{kind}", payment_callback),
]
