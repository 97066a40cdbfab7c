"""Online payment end to end against the real sandbox and our real HTTP routes.

Both run on loopback: the sandbox sends its signed redirects and callbacks
to our Starlette app exactly as Paytrail would; nothing of ours is mocked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from sqlmodel import select

from membook_app.billing.invoices import LineInput, create_manual_invoice
from membook_app.billing.public_link import issue_token
from membook_app.db import session_scope
from membook_app.payments.online import make_client, poll_pending, start_payment
from membook_app.payments.paytrail import compute_signature
from membook_app.payments.sandbox import create_sandbox_app
from membook_app.settings import get_settings
from models import Allocation, AuditEvent, Invoice, Payment, PaytrailAttempt
from tests.factories import make_member, make_tree
from tests.servers import serve_asgi


@pytest.fixture
def flow(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Sandbox + our app on loopback, settings pointing at each other, one open invoice."""
    from starlette.applications import Starlette

    from membook_app.api import collect_routes

    with serve_asgi(lambda base: create_sandbox_app(base_url=base)) as sandbox, \
            serve_asgi(lambda _base: Starlette(routes=collect_routes())) as app:
        monkeypatch.setenv("PAYTRAIL_BASE_URL", sandbox)
        monkeypatch.setenv("BASE_URL", app)
        get_settings.cache_clear()
        tree = make_tree(db_url)
        person = make_member(db_url, tree.club_a, tree.type_a, "Olli", "Maksaja",
                             "olli@example.fi")
        with session_scope() as s:
            invoice = create_manual_invoice(
                s, None, organization_id=tree.club_a, person_id=person,
                lines=[LineInput(organization_id=tree.club_a, description="Jäsenmaksu 2027",
                                 amount_cents=3500)],
                issue_date=date.today(), due_date=date.today() + timedelta(days=14))
            invoice_id, reference = invoice.id, invoice.reference
        yield {"sandbox": sandbox, "app": app, "invoice_id": invoice_id,
               "token": issue_token(invoice_id, reference)}
        get_settings.cache_clear()


def _start(flow: dict[str, Any]) -> PaytrailAttempt:
    with session_scope() as s, make_client() as client:
        started = start_payment(s, s.get(Invoice, flow["invoice_id"]), client)
        return s.get(PaytrailAttempt, started.attempt_id)


def _complete(flow: dict[str, Any], attempt: PaytrailAttempt, **query: object) -> dict[str, Any]:
    response = httpx.post(
        f"{flow['sandbox']}/_sandbox/payments/{attempt.transaction_id}/complete", params=query)
    assert response.status_code == 200, response.text
    return response.json()


def _wait_for(predicate, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _state(flow: dict[str, Any]) -> tuple[str, int, int, str]:
    with session_scope() as s:
        invoice = s.get(Invoice, flow["invoice_id"])
        payments = s.exec(select(Payment).where(Payment.source == "paytrail")).all()
        attempt = s.exec(select(PaytrailAttempt)).first()
        return invoice.status, invoice.paid_cents, len(payments), attempt.status


def test_paid_once_despite_redirect_and_duplicate_callbacks(flow: dict[str, Any]) -> None:
    attempt = _start(flow)
    assert attempt.status == "new" and attempt.amount_cents == 3500
    done = _complete(flow, attempt, status="ok", callback="duplicate", delay=0)
    page = httpx.get(done["redirectUrl"])  # the browser coming back
    assert page.status_code == 200 and "Maksu onnistui" in page.text
    time.sleep(2)  # let both callbacks land
    httpx.get(done["redirectUrl"])  # the member reloads the return page
    assert _state(flow) == ("paid", 3500, 1, "ok")
    with session_scope() as s:
        payment = s.exec(select(Payment).where(Payment.source == "paytrail")).one()
        assert payment.source_id == attempt.transaction_id
        allocations = s.exec(select(Allocation).where(Allocation.payment_id == payment.id)).all()
        assert [(a.invoice_id, a.amount_cents) for a in allocations] == [
            (flow["invoice_id"], 3500)]


def test_cancel_then_nothing_booked_and_new_attempt_gets_new_stamp(flow: dict[str, Any]) -> None:
    first = _start(flow)
    done = _complete(flow, first, status="fail", callback="normal", delay=0)
    page = httpx.get(done["redirectUrl"])
    assert "Maksu peruttiin" in page.text
    assert _state(flow)[:3] == ("open", 0, 0)
    second = _start(flow)
    assert second.stamp != first.stamp and second.transaction_id != first.transaction_id


def _signed_query(flow: dict[str, Any], attempt: PaytrailAttempt, **overrides: str) -> str:
    params = {
        "checkout-account": get_settings().paytrail_account, "checkout-algorithm": "sha256",
        "checkout-amount": str(attempt.amount_cents), "checkout-stamp": attempt.stamp,
        "checkout-reference": "x", "checkout-transaction-id": str(attempt.transaction_id),
        "checkout-status": "ok", "checkout-provider": "nordea",
    }
    params.update(overrides)
    params["signature"] = compute_signature(get_settings().paytrail_secret, params)
    return urlencode(params)


def test_forged_and_tampered_callbacks_are_refused_and_logged(flow: dict[str, Any]) -> None:
    attempt = _start(flow)
    app = flow["app"]
    good = _signed_query(flow, attempt)
    tampered = dict(parse_qsl(good))
    tampered["checkout-amount"] = "1"  # signature no longer matches
    forged_secret = dict(parse_qsl(good))
    forged_secret["signature"] = compute_signature("WRONG-SECRET", {
        k: v for k, v in forged_secret.items() if k != "signature"})
    wrong_amount = _signed_query(flow, attempt, **{"checkout-amount": "1"})  # signed, wrong sum
    wrong_account = _signed_query(flow, attempt, **{"checkout-account": "695861"})
    unknown_stamp = _signed_query(flow, attempt, **{"checkout-stamp": "not-ours"})
    repeated = good + "&checkout-status=ok"
    for query in (urlencode(tampered), urlencode(forged_secret), wrong_amount, wrong_account,
                  unknown_stamp, repeated, ""):
        response = httpx.get(f"{app}/paytrail/callback/success?{query}")
        assert response.status_code == 400, query
    assert _state(flow) == ("open", 0, 0, "new")
    with session_scope() as s:
        assert s.exec(select(AuditEvent).where(AuditEvent.action == "paytrail.forged")).all()
    # the genuine one still works afterwards, and only once
    assert httpx.get(f"{app}/paytrail/callback/success?{good}").status_code == 200
    assert httpx.get(f"{app}/paytrail/callback/success?{good}").status_code == 200
    assert _state(flow) == ("paid", 3500, 1, "ok")


def test_late_pending_and_fail_never_undo_a_paid_attempt(flow: dict[str, Any]) -> None:
    attempt = _start(flow)
    app = flow["app"]
    assert httpx.get(f"{app}/paytrail/callback/success?"
                     f"{_signed_query(flow, attempt)}").status_code == 200
    for status in ("pending", "fail", "new"):
        stale = _signed_query(flow, attempt, **{"checkout-status": status})
        assert httpx.get(f"{app}/paytrail/callback/cancel?{stale}").status_code == 200
    assert _state(flow) == ("paid", 3500, 1, "ok")


def test_lost_callback_is_found_by_polling(flow: dict[str, Any]) -> None:
    attempt = _start(flow)
    _complete(flow, attempt, status="pending", callback="none")
    _complete(flow, attempt, status="ok", callback="none")
    assert _state(flow)[3] == "new"
    with session_scope() as s, make_client() as client:
        changed = poll_pending(s, client, older_than=timedelta(0))
    assert changed == 1
    assert _state(flow) == ("paid", 3500, 1, "ok")


def test_pay_page_offers_providers_and_refuses_unknown_links(flow: dict[str, Any]) -> None:
    app = flow["app"]
    page = httpx.get(f"{app}/pay/{flow['token']}")
    assert page.status_code == 200 and "35,00" in page.text
    chosen = httpx.post(f"{app}/pay/{flow['token']}")
    assert chosen.status_code == 200 and 'data-provider="nordea"' in chosen.text
    assert httpx.get(f"{app}/pay/not-a-token").status_code == 404
    with session_scope() as s:
        assert len(s.exec(select(PaytrailAttempt)).all()) == 1
