"""Public invoice links: an unguessable signed token per invoice, no sign-in needed.

The token is a JWT (HS256, purpose ``invoice``, read with `accounts/tokens.py`) that
carries the invoice id, its reference and a random nonce (``jti``), and no ``exp``:
the link stays valid until 90 days after the invoice was settled (paid, or credited),
and that date is only known later. So the expiry follows the invoice, not the token:
`resolve` refuses a link whose invoice was settled more than 90 days ago. A forged,
altered or foreign token fails the signature check; a token whose reference does not
match the invoice (e.g. after a database restore) is refused as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable
from datetime import date, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from membook_app.accounts import tokens
from membook_app.errors import NotFound, ValidationError
from membook_app.settings import get_settings
from models import Allocation, Invoice, Payment

PURPOSE = "invoice"
VALID_AFTER_SETTLED = timedelta(days=90)
_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")


class LinkExpired(NotFound):
    """The invoice was settled more than 90 days ago; the page is no longer public."""


def _not_found() -> NotFound:
    return NotFound("Laskua ei löydy tai linkki on vanhentunut",
                    "Invoice not found or the link has expired")


def issue_token(invoice_id: int, reference: str) -> str:
    """One invoice link token (for a single page view or a resend)."""
    return tokens.issue(PURPOSE, str(invoice_id), None, ref=reference)


def issue_tokens(invoices: Iterable[tuple[int, str]]) -> list[str]:
    """Tokens for many invoices at once, e.g. 100,000 emails of an invoice run.

    The same JWT as `issue_token` (same claims, key and HS256 compact form, read back by
    `tokens.read` through joserfc), built with hmac directly: joserfc spends ~280 µs per
    token on key import and header checks, i.e. half a minute for a big run; this is
    ~10 µs.
    """
    key = get_settings().resolved_secret_key().encode("utf-8")
    now = int(time.time())
    out = []
    for invoice_id, reference in invoices:
        claims = json.dumps({"pur": PURPOSE, "sub": str(invoice_id), "iat": now,
                             "jti": secrets.token_urlsafe(16), "ref": reference},
                            separators=(",", ":")).encode()
        signing_input = _HEADER + b"." + base64.urlsafe_b64encode(claims).rstrip(b"=")
        signature = hmac.new(key, signing_input, hashlib.sha256).digest()
        out.append((signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"="))
                   .decode("ascii"))
    return out


def invoice_url(token: str) -> str:
    """The public page of an invoice, on the product's public address."""
    return f"{get_settings().base_url.rstrip('/')}/i/{token}"


def pdf_url(token: str) -> str:
    return invoice_url(token) + ".pdf"


def settled_on(session: Session, invoice: Invoice) -> date | None:
    """The day the invoice stopped being payable: its last payment, or its credit note.

    None while something is still open. Paid invoices without allocations (a zero
    invoice) count as settled on their issue date.
    """
    if invoice.status == "paid":
        last_payment = session.execute(
            sa.select(sa.func.max(Payment.booking_date))
            .join(Allocation, Allocation.payment_id == Payment.id)
            .where(Allocation.invoice_id == invoice.id)
        ).scalar_one_or_none()
        return last_payment or invoice.issue_date
    if invoice.status == "credited":
        last_credit = session.execute(
            sa.select(sa.func.max(Invoice.issue_date))
            .where(Invoice.credited_invoice_id == invoice.id, Invoice.kind == "credit_note")
        ).scalar_one_or_none()
        return last_credit or invoice.issue_date
    return None


def resolve(session: Session, token: str, today: date | None = None) -> Invoice:
    """The invoice a link token opens; NotFound (or LinkExpired) for anything else.

    Every refusal looks the same to the visitor, so a token reveals nothing about
    invoices it does not open.
    """
    try:
        claims = tokens.read(token, PURPOSE)
        invoice_id = int(claims["sub"])
    except (ValidationError, KeyError, TypeError, ValueError) as exc:
        raise _not_found() from exc
    invoice = session.get(Invoice, invoice_id)
    if invoice is None or claims.get("ref") != invoice.reference:
        raise _not_found()
    settled = settled_on(session, invoice)
    if settled is not None and settled + VALID_AFTER_SETTLED < (today or date.today()):
        raise LinkExpired("Linkki on vanhentunut", "The link has expired")
    return invoice
