"""Paying an invoice online through Paytrail: attempts, verified results, polling.

The flow (paytrail.md §3): an attempt row with a fresh stamp is committed
before the member is sent to Paytrail; the redirect and the callback carry
signed `checkout-*` parameters and may arrive more than once, in any order,
or not at all. Both go through `apply_result`, which moves an attempt only
forward (new → pending/delayed → ok | fail; ok is final) and books a verified
"ok" as exactly one Payment (source "paytrail", source id = transaction id,
unique in the database) allocated to the invoice. Anything whose signature,
account, stamp, transaction or amount does not match is refused and logged.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parseaddr

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from membook_app import audit
from membook_app.billing.status import refresh_invoices
from membook_app.errors import DomainError, ValidationError
from membook_app.formatting import HELSINKI
from membook_app.payments.paytrail import (
    CallbackParams,
    CallbackUrls,
    CreatedPayment,
    CreatePayment,
    Item,
    PaytrailClient,
    parse_callback,
    verify_callback_query,
)
from membook_app.settings import get_settings
from models import Allocation, Invoice, Payment, PaytrailAttempt, Person, utcnow

log = logging.getLogger(__name__)

RANK = {"new": 0, "pending": 1, "delayed": 1, "fail": 2, "ok": 3}
FINAL = {"ok"}
CALLBACK_DELAY_SECONDS = 3  # as Paytrail's own plugin: the browser usually returns first


class ForgedResult(DomainError):
    """A redirect or callback that is not what we asked Paytrail for."""


def make_client() -> PaytrailClient:
    """The client on the configured endpoint (the local sandbox by default)."""
    s = get_settings()
    return PaytrailClient(account=s.paytrail_account, secret=s.paytrail_secret,
                          base_url=s.paytrail_base_url)


def open_amount(invoice: Invoice) -> int:
    """What is still to pay, in cents (never negative)."""
    return max(0, invoice.total_cents - invoice.credited_cents - invoice.paid_cents)


@dataclass(frozen=True)
class StartedPayment:
    attempt_id: int
    created: CreatedPayment


def start_payment(session: Session, invoice: Invoice, client: PaytrailClient,
                  language: str = "FI") -> StartedPayment:
    """Create an attempt for the open amount and the Paytrail payment behind it.

    The attempt is committed before Paytrail is called, so a callback that
    beats our own response still finds its row.
    """
    if invoice.kind != "invoice" or invoice.status in ("paid", "credited"):
        raise ValidationError("Laskulla ei ole maksettavaa", "Nothing to pay on this invoice")
    amount = open_amount(invoice)
    if amount <= 0:
        raise ValidationError("Laskulla ei ole maksettavaa", "Nothing to pay on this invoice")
    payer = session.get(Person, invoice.payer_id)
    email = (payer.email if payer and payer.email
             else parseaddr(get_settings().mail_from)[1] or "noreply@membook.invalid")
    attempt = PaytrailAttempt(invoice_id=invoice.id, stamp=str(uuid.uuid4()),  # type: ignore[arg-type]
                              amount_cents=amount)
    session.add(attempt)
    session.commit()
    base = get_settings().base_url.rstrip("/")
    created = client.create_payment(CreatePayment(
        stamp=attempt.stamp,
        reference=invoice.reference,
        amount=amount,
        items=[Item(unit_price=amount, units=1, vat_percentage=0, product_code="jasenmaksu",
                    description=(invoice.description or f"Lasku {invoice.reference}")[:1000])],
        customer_email=email,
        redirect_urls=CallbackUrls(f"{base}/paytrail/return/success",
                                   f"{base}/paytrail/return/cancel"),
        callback_urls=CallbackUrls(f"{base}/paytrail/callback/success",
                                   f"{base}/paytrail/callback/cancel"),
        callback_delay=CALLBACK_DELAY_SECONDS,
        language=language.upper() if language.upper() in ("FI", "SV", "EN") else "FI",
    ))
    attempt.transaction_id = created.transaction_id
    attempt.href = created.href
    attempt.updated_at = utcnow()
    session.add(attempt)
    session.commit()
    return StartedPayment(attempt.id, created)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Outcome:
    attempt_id: int
    invoice_id: int
    status: str
    changed: bool
    payment_id: int | None


def _today() -> date:
    return datetime.now(HELSINKI).date()


def apply_result(session: Session, params: CallbackParams, *, source: str) -> Outcome:
    """Move the attempt forward to the reported status; book an "ok" exactly once.

    `params` must come from a verified query (`apply_signed_query`) or a
    verified API response (polling). Repeats and stale reports change nothing.
    """
    settings = get_settings()
    attempt = session.exec(select(PaytrailAttempt).where(
        PaytrailAttempt.stamp == params.stamp).with_for_update()).first()
    problem = None
    if params.account != settings.paytrail_account:
        problem = "account"
    elif attempt is None:
        problem = "stamp"
    elif attempt.amount_cents != params.amount:
        problem = "amount"
    elif params.transaction_id is None or (attempt.transaction_id not in (None,
                                                                            params.transaction_id)):
        problem = "transaction"
    elif params.status not in RANK:
        problem = "status"
    if problem is not None or attempt is None:
        log.warning("refused Paytrail %s: %s mismatch (stamp %s)", source, problem, params.stamp)
        raise ForgedResult("Maksun tiedot eivät täsmää", f"Payment data mismatch ({problem})")
    if attempt.status in FINAL or RANK[params.status] <= RANK[attempt.status]:
        return Outcome(attempt.id, attempt.invoice_id, attempt.status, False,  # type: ignore[arg-type]
                       attempt.payment_id)
    attempt.transaction_id = params.transaction_id
    attempt.status = params.status
    attempt.updated_at = utcnow()
    session.add(attempt)
    payment_id = None
    if params.status == "ok":
        payment_id = _book(session, attempt, params)
        if payment_id is None:  # another delivery booked it a moment ago
            session.rollback()
            attempt = session.exec(select(PaytrailAttempt).where(
                PaytrailAttempt.stamp == params.stamp)).one()
            return Outcome(attempt.id, attempt.invoice_id, attempt.status, False,  # type: ignore[arg-type]
                           attempt.payment_id)
        attempt.payment_id = payment_id
        session.add(attempt)
    audit.record(session, None, f"paytrail.{params.status}", "paytrailattempt", attempt.id,
                 after={"transaction_id": params.transaction_id, "source": source,
                        "amount_cents": params.amount, "provider": params.provider})
    session.commit()
    return Outcome(attempt.id, attempt.invoice_id, attempt.status, True,  # type: ignore[arg-type]
                   payment_id)


def _book(session: Session, attempt: PaytrailAttempt, params: CallbackParams) -> int | None:
    """One Payment per transaction id, allocated to the invoice (the excess to a credit)."""
    invoice = session.get(Invoice, attempt.invoice_id)
    assert invoice is not None
    payer = session.get(Person, invoice.payer_id)
    payment = Payment(
        source="paytrail", source_id=str(params.transaction_id), booking_date=_today(),
        value_date=_today(), amount_cents=params.amount, reference=invoice.reference,
        national_reference=invoice.reference,
        payer_name=f"{payer.first_name} {payer.last_name}" if payer else None,
        message=f"Paytrail {params.provider or ''}".strip(), status="matched",
        match_rule="paytrail",
    )
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        return None
    to_invoice = min(params.amount, open_amount(invoice))
    if to_invoice < params.amount:  # the same statuses as bank payments (matching.py)
        payment.status = "overpaid" if to_invoice > 0 else "credit"
        session.add(payment)
    if to_invoice > 0:
        session.add(Allocation(payment_id=payment.id, invoice_id=invoice.id,  # type: ignore[arg-type]
                               amount_cents=to_invoice, kind="invoice", rule="paytrail"))
    if params.amount > to_invoice:
        session.add(Allocation(payment_id=payment.id, person_id=invoice.payer_id,  # type: ignore[arg-type]
                               amount_cents=params.amount - to_invoice, kind="credit",
                               rule="paytrail-overpayment"))
    session.flush()
    refresh_invoices(session, [invoice.id])  # type: ignore[list-item]
    return payment.id


def apply_signed_query(session: Session, raw_query: str, *, source: str) -> Outcome:
    """Verify a redirect or callback query exactly as received, then apply it."""
    if not verify_callback_query(get_settings().paytrail_secret, raw_query):
        log.warning("refused Paytrail %s: bad signature: %s", source, raw_query[:300])
        audit.record(session, None, "paytrail.forged", "paytrailattempt", None,
                     after={"source": source, "query": raw_query[:500]})
        session.commit()
        raise ForgedResult("Maksun allekirjoitus ei kelpaa", "Invalid payment signature")
    try:
        params = parse_callback(raw_query)
    except ValueError as exc:
        raise ForgedResult("Maksun tiedot ovat puutteelliset", str(exc)) from exc
    return apply_result(session, params, source=source)


def poll_pending(session: Session, client: PaytrailClient, *,
                 older_than: timedelta = timedelta(minutes=2)) -> int:
    """Ask Paytrail about attempts still open, so a lost callback never strands a payment."""
    cutoff = utcnow() - older_than
    attempts = session.exec(select(PaytrailAttempt).where(
        col(PaytrailAttempt.status).in_(("new", "pending", "delayed")),
        col(PaytrailAttempt.transaction_id).is_not(None),
        PaytrailAttempt.updated_at < cutoff,
        PaytrailAttempt.created_at > utcnow() - timedelta(days=14),
    )).all()
    changed = 0
    for attempt in attempts:
        status = client.get_payment(str(attempt.transaction_id))  # signature verified by client
        if status.status == attempt.status:
            attempt.updated_at = utcnow()
            session.add(attempt)
            session.commit()
            continue
        outcome = apply_result(session, CallbackParams(
            account=get_settings().paytrail_account, algorithm="sha256", amount=status.amount,
            stamp=status.stamp, reference=status.reference, transaction_id=status.transaction_id,
            status=status.status, provider=status.provider,
            settlement_reference=status.settlement_reference,
        ), source="poll")
        changed += int(outcome.changed)
    return changed
