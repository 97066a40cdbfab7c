"""The public invoice page and its PDF: /i/{token} and /i/{token}.pdf.

No sign-in: the signed token in the link is the permission (see
`billing/public_link.py`). The page is plain server-rendered HTML (small, fast on a
phone, no websocket), Finnish first with the English words beside. The token is in
the URL, so responses forbid caching and send no Referer onwards; every refusal is
the same 404 page.
"""

from __future__ import annotations

import base64
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from membook_app.billing.invoice_view import InvoiceView, build_view
from membook_app.billing.pdf import render_pdf
from membook_app.billing.public_link import resolve
from membook_app.db import session_scope
from membook_app.errors import NotFound

HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
background:#f4f5f7;color:#1c2024;line-height:1.45}
main{max-width:44rem;margin:0 auto;padding:1rem}
.card{background:#fff;border-radius:10px;padding:1rem 1.2rem;margin:0 0 1rem;
box-shadow:0 1px 3px rgba(0,0,0,.08)}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.1rem;margin:0 0 .6rem}
.en{color:#60646c;font-weight:normal}
dl{display:grid;grid-template-columns:minmax(8rem,auto) 1fr;gap:.3rem .8rem;margin:0}
dt{color:#60646c}dd{margin:0;font-weight:600;overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse}td,th{padding:.35rem 0;text-align:left;
border-bottom:1px solid #e4e6ea}td.amount,th.amount{text-align:right;white-space:nowrap}
.total td{font-weight:700;border-bottom:none}
.codes{display:flex;flex-wrap:wrap;gap:1rem;align-items:center}
.codes img.barcode{max-width:100%;height:auto}.codes img.qr{width:160px;height:160px}
.digits{font-family:ui-monospace,monospace;font-size:.85rem;overflow-wrap:anywhere}
.pay-online{border:2px dashed #8da4ef}
.status{display:inline-block;padding:.1rem .5rem;border-radius:1rem;background:#e6f6eb}
.status.overdue{background:#ffe5e5}.muted{color:#60646c;font-size:.9rem}
a.button{display:inline-block;padding:.5rem .9rem;border-radius:6px;background:#3e63dd;
color:#fff;text-decoration:none}a.button .en{color:#dfe5ff}
#iban{white-space:nowrap}
@media (max-width:30rem){dl{grid-template-columns:1fr;gap:0}dt{margin-top:.45rem}}
"""


def _both(fi: str, en: str) -> str:
    """Finnish first, the English beside it."""
    return f'{escape(fi)} <span class="en">/ {escape(en)}</span>'


def _page(title: str, body: str) -> str:
    return (f'<!doctype html><html lang="fi"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{escape(title)}</title>'
            f"<style>{_STYLE}</style></head><body><main>{body}</main></body></html>")


def _svg_img(svg: str, css_class: str, alt: str) -> str:
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img class="{css_class}" alt="{escape(alt)}" src="data:image/svg+xml;base64,{data}">'


def _row(fi: str, en: str, value: str, ident: str = "") -> str:
    attr = f' id="{ident}"' if ident else ""
    return f"<dt>{_both(fi, en)}</dt><dd{attr}>{escape(value)}</dd>"


def render_invoice_page(view: InvoiceView, pdf_href: str, pay_href: str) -> str:
    """The whole page for one invoice."""
    credit = view.kind == "credit_note"
    title_fi, title_en = ("Hyvityslasku", "Credit note") if credit else ("Lasku", "Invoice")
    lines = "".join(
        f"<tr><td>{escape(ln.description)}<div class='muted'>{escape(ln.organization)}</div>"
        f"</td><td class='amount'>{escape(ln.amount)}</td></tr>" for ln in view.lines)
    details = "".join((
        _row("Maksaja", "Payer", view.payer_name, "payer"),
        _row("Jäsen", "Member", view.member_name, "member") if view.member_name else "",
        _row("Päivämäärä", "Date", view.issue_date),
        _row("Eräpäivä", "Due date", view.due_date, "due-date"),
        _row("Viitenumero", "Reference", view.reference, "reference"),
        _row("Kuvaus", "Description", view.description) if view.description else "",
    ))
    status_class = "status overdue" if view.status == "overdue" else "status"
    parts = [
        f'<div class="card"><div class="muted">{escape(view.organization)}</div>'
        f"<h1>{_both(title_fi, title_en)}</h1>"
        f'<span class="{status_class}" id="status">{_both(view.status_fi, view.status_en)}'
        f"</span></div>",
        f'<div class="card"><dl>{details}</dl></div>',
        f'<div class="card"><h2>{_both("Laskun rivit", "Invoice lines")}</h2><table>'
        f'<tr><th>{_both("Rivi", "Line")}</th><th class="amount">{_both("Summa", "Amount")}'
        f"</th></tr>{lines}"
        f'<tr class="total"><td>{_both("Yhteensä", "Total")}</td>'
        f'<td class="amount" id="total">{escape(view.total)}</td></tr>'
        + (f'<tr><td>{_both("Maksettu", "Paid")}</td><td class="amount">{escape(view.paid)}'
           f"</td></tr>" if view.paid_cents else "")
        + f'<tr class="total"><td>{_both("Maksettavaa", "Amount due")}</td>'
          f'<td class="amount" id="open-amount">{escape(view.open_amount)}</td></tr>'
          f"</table></div>",
    ]
    if view.payable:
        parts.append(
            f'<div class="card pay-online" id="pay-online" data-invoice="{view.id}">'
            f'<h2>{_both("Maksa verkossa", "Pay online")}</h2>'
            f'<p class="muted">{_both("Verkkopankki, kortti tai mobiilimaksu (Paytrail).", "Online bank, card or mobile payment (Paytrail).")}</p>'  # noqa: E501
            f'<p><a class="button" id="pay-online-link" href="{escape(pay_href)}">'
            f'{_both("Maksa verkossa", "Pay online")}</a></p></div>')
        payment = "".join((
            _row("Saaja", "Beneficiary", view.beneficiary),
            _row("Saajan tilinumero", "IBAN", view.iban, "iban"),
            _row("BIC", "BIC", view.bic, "bic"),
            _row("Viitenumero", "Reference", view.reference),
            _row("Eräpäivä", "Due date", view.due_date),
            _row("Summa", "Amount", view.open_amount),
        ))
        parts.append(
            f'<div class="card"><h2>{_both("Tilisiirto", "Bank transfer")}</h2>'
            f"<dl>{payment}</dl>"
            f'<p>{_both("Virtuaaliviivakoodi", "Virtual barcode")}<br>'
            f'<span class="digits" id="barcode">{escape(view.barcode)}</span></p>'
            f'<div class="codes">{_svg_img(view.barcode_svg, "barcode", "Pankkiviivakoodi")}'
            f'{_svg_img(view.qr_svg, "qr", "EPC QR")}</div>'
            f'<p class="muted">{_both("Skannaa QR-koodi pankkisovelluksella.", "Scan the QR code with your banking app.")}'  # noqa: E501
            f"</p></div>")
    parts.append(f'<p><a class="button" href="{escape(pdf_href)}" id="pdf-link">'
                 f'{_both("Lataa PDF", "Download PDF")}</a></p>')
    return _page(f"{title_fi} / {title_en} {view.reference} – {view.organization}",
                 "".join(parts))


def not_found_page() -> HTMLResponse:
    body = (f'<div class="card"><h1>{_both("Laskua ei löydy", "Invoice not found")}</h1>'
            f"<p>{_both('Linkki on virheellinen tai vanhentunut. Pyydä uusi linkki yhdistykseltäsi.', 'The link is invalid or has expired. Ask your association for a new link.')}"  # noqa: E501
            f"</p></div>")
    return HTMLResponse(_page("Laskua ei löydy / Invoice not found", body), status_code=404,
                        headers=HEADERS)


def _view_for(token: str) -> InvoiceView | None:
    with session_scope() as session:
        try:
            invoice = resolve(session, token)
        except NotFound:
            return None
        return build_view(session, invoice)


def invoice_page(request: Request) -> Response:
    token = request.path_params["token"]
    view = _view_for(token)
    if view is None:
        return not_found_page()
    return HTMLResponse(render_invoice_page(view, f"/i/{token}.pdf", f"/pay/{token}"),
                        headers=HEADERS)


def invoice_pdf(request: Request) -> Response:
    view = _view_for(request.path_params["token"])
    if view is None:
        return not_found_page()
    filename = f"lasku-{view.reference_compact}.pdf"
    return Response(render_pdf(view), media_type="application/pdf",
                    headers={**HEADERS, "Content-Disposition": f'inline; filename="{filename}"'})


# The .pdf route first: "{token}" alone would also match "abc.pdf".
ROUTES = [Route("/i/{token}.pdf", invoice_pdf), Route("/i/{token}", invoice_page)]
