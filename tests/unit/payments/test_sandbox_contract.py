"""The sandbox run for real (uvicorn, TCP) and driven by the unchanged PaytrailClient.

A small receiver app plays the merchant: it records every redirect/callback query string
exactly as received, so the tests can check signatures the way the product will.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from membook_app.payments.paytrail import (
    CallbackUrls,
    CreatedPayment,
    CreatePayment,
    Item,
    PaytrailClient,
    PaytrailError,
    PaytrailHTTPError,
    PaytrailSignatureError,
    PaytrailTimeout,
    compute_signature,
    parse_callback,
    verify_callback_query,
    verify_signature,
)
from membook_app.payments.sandbox import create_sandbox_app
from tests.servers import serve_asgi

ACCOUNT, SECRET = "375917", "SAIPPUAKAUPPIAS"
SIS_ACCOUNT, SIS_SECRET = "695861", "MONISAIPPUAKAUPPIAS"
BANKS = {
    "osuuspankki",
    "nordea",
    "danske",
    "spankki",
    "aktia",
    "pop",
    "saastopankki",
    "omasp",
    "alandsbanken",
    "handelsbanken",
}


class Receiver:
    """The merchant side: records (path, raw query) of every GET it receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.changed = threading.Condition()
        self.base_url = ""

    def app(self, base_url: str) -> Starlette:
        self.base_url = base_url

        async def record(request: Request) -> PlainTextResponse:
            with self.changed:
                self.calls.append((request.url.path, request.url.query))
                self.changed.notify_all()
            return PlainTextResponse("ok")

        return Starlette(routes=[Route("/{path:path}", record)])

    def queries(self, path: str) -> list[str]:
        with self.changed:
            return [query for called, query in self.calls if called == path]

    def wait(self, path: str, count: int, timeout: float = 10) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.queries(path)) >= count, timeout)
        return self.queries(path)

    def urls(self, prefix: str) -> CallbackUrls:
        return CallbackUrls(f"{self.base_url}{prefix}/success", f"{self.base_url}{prefix}/cancel")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    merchant = Receiver()
    with serve_asgi(merchant.app):
        yield merchant


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with serve_asgi(lambda base_url: create_sandbox_app(base_url=base_url)) as base_url:
        yield base_url


@pytest.fixture(autouse=True)
def _no_leftover_faults(sandbox_url: str) -> Iterator[None]:
    yield
    httpx.delete(f"{sandbox_url}/_sandbox/faults")


@pytest.fixture
def client(sandbox_url: str) -> Iterator[PaytrailClient]:
    with PaytrailClient(account=ACCOUNT, secret=SECRET, base_url=sandbox_url, timeout=5) as c:
        yield c


def _request(
    receiver: Receiver, amount: int = 1525, *, delay: int = 0, **changes: object
) -> tuple[CreatePayment, str]:
    """A payment request whose redirect/callback URLs are unique to this call."""
    prefix = f"/{uuid.uuid4()}"
    fields = {
        "stamp": str(uuid.uuid4()),
        "reference": "1232",
        "amount": amount,
        "items": [Item(unit_price=amount, units=1, vat_percentage=0, product_code="fee")],
        "customer_email": "maija@example.org",
        "redirect_urls": receiver.urls(prefix + "/redirect"),
        "callback_urls": receiver.urls(prefix + "/callback"),
        "callback_delay": delay,
    }
    return CreatePayment(**{**fields, **changes}), prefix


def _create(client: PaytrailClient, receiver: Receiver, **kwargs: object) -> tuple:
    request, prefix = _request(receiver, **kwargs)
    return request, client.create_payment(request), prefix


def _complete(sandbox_url: str, transaction_id: str, **query: object) -> httpx.Response:
    return httpx.post(f"{sandbox_url}/_sandbox/payments/{transaction_id}/complete", params=query)


def _paid(client: PaytrailClient, receiver: Receiver, sandbox_url: str, **query: object) -> tuple:
    request, created, prefix = _create(client, receiver)
    response = _complete(sandbox_url, created.transaction_id, status="ok", callback="none", **query)
    assert response.status_code == 200
    return request, created, prefix


def _fault(sandbox_url: str, **fault: object) -> None:
    assert httpx.post(f"{sandbox_url}/_sandbox/faults", json=fault).status_code == 201


def _signed_headers(
    method: str,
    body: str = "",
    *,
    secret: str = SECRET,
    transaction_id: str | None = None,
    **overrides: str,
) -> dict[str, str]:
    headers = {
        "checkout-account": ACCOUNT,
        "checkout-algorithm": "sha256",
        "checkout-method": method,
        "checkout-nonce": str(uuid.uuid4()),
        "checkout-timestamp": "2024-03-01T12:00:00.000Z",
    }
    if transaction_id is not None:
        headers["checkout-transaction-id"] = transaction_id
    headers.update(overrides)
    headers["signature"] = compute_signature(secret, headers, body)
    return headers


# --------------------------------------------------------------------------- payments


def test_create_payment_offers_hosted_page_and_signed_provider_forms(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    request, created, _ = _create(client, receiver)
    assert uuid.UUID(created.transaction_id)
    assert created.href == f"{sandbox_url}/pay/{created.transaction_id}"
    assert created.reference == request.reference and created.terms
    assert {p.id for p in created.providers} == BANKS | {"creditcard"}
    assert {g.id for g in created.groups} == {"bank", "creditcard"}
    for provider in created.providers:
        assert provider.url.startswith(sandbox_url) and provider.name
        form = {field.name: field.value for field in provider.parameters}
        assert form["checkout-transaction-id"] == created.transaction_id
        assert form["checkout-provider"] == provider.id
    icon = httpx.get(created.providers[0].svg)
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    page = httpx.get(created.href)
    assert page.status_code == 200 and 'name="viewport"' in page.text
    assert "Maksa / Pay" in page.text and "Peruuta / Cancel" in page.text
    assert "15,25\u00a0€" in page.text


def test_provider_form_post_shows_bank_page_and_rejects_tampering(
    client: PaytrailClient, receiver: Receiver
) -> None:
    _, created, _ = _create(client, receiver)
    provider = next(p for p in created.providers if p.id == "nordea")
    form = {field.name: field.value for field in provider.parameters}
    page = httpx.post(provider.url, data=form)
    assert page.status_code == 200 and "Nordea" in page.text and "Maksa / Pay" in page.text
    assert httpx.get(provider.url).status_code == 200
    tampered = httpx.post(provider.url, data={**form, "checkout-provider": "aktia"})
    assert tampered.status_code == 400


def test_list_providers_filters_by_group(client: PaytrailClient) -> None:
    banks = client.list_providers(1000, groups=["bank"])
    assert {p.id for p in banks} == BANKS and {p.group for p in banks} == {"bank"}
    everything = client.list_providers(1000)
    assert {p.id for p in everything} == BANKS | {"creditcard"}


def test_new_payment_status(client: PaytrailClient, receiver: Receiver) -> None:
    request, created, _ = _create(client, receiver)
    status = client.get_payment(created.transaction_id)
    assert (status.status, status.amount, status.currency) == ("new", 1525, "EUR")
    assert (status.stamp, status.reference) == (request.stamp, request.reference)
    assert status.href == created.href and status.paid_at is None


def test_completed_payment_calls_back_once_with_verified_parameters(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    request, created, prefix = _create(client, receiver)
    control = _complete(sandbox_url, created.transaction_id, status="ok", callback="normal")
    assert control.status_code == 200
    redirect = control.json()["redirectUrl"]
    assert redirect.startswith(request.redirect_urls.success + "?")
    assert verify_callback_query(SECRET, urlsplit(redirect).query)
    (query,) = receiver.wait(f"{prefix}/callback/success", 1)
    assert verify_callback_query(SECRET, query)
    callback = parse_callback(query)
    assert (callback.account, callback.amount, callback.stamp) == (ACCOUNT, 1525, request.stamp)
    assert (callback.transaction_id, callback.status) == (created.transaction_id, "ok")
    assert callback.provider == "osuuspankki"
    status = client.get_payment(created.transaction_id)
    assert status.status == "ok" and status.paid_at and status.href is None
    time.sleep(0.3)
    assert len(receiver.queries(f"{prefix}/callback/success")) == 1


def test_duplicate_callback_arrives_twice(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    _, created, prefix = _create(client, receiver)
    _complete(sandbox_url, created.transaction_id, status="ok", callback="duplicate")
    first, second = receiver.wait(f"{prefix}/callback/success", 2)
    assert first == second and verify_callback_query(SECRET, first)


def test_callback_before_redirect_and_dropped_callback(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    _, early, early_prefix = _create(client, receiver)
    _complete(sandbox_url, early.transaction_id, status="ok", callback="before-redirect")
    assert len(receiver.queries(f"{early_prefix}/callback/success")) == 1
    _, dropped, dropped_prefix = _create(client, receiver)
    _complete(sandbox_url, dropped.transaction_id, status="ok", callback="none")
    time.sleep(0.3)
    assert receiver.queries(f"{dropped_prefix}/callback/success") == []
    assert client.get_payment(dropped.transaction_id).status == "ok"


def test_delayed_callback_waits(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    _, created, prefix = _create(client, receiver, delay=2)
    started = time.monotonic()
    _complete(sandbox_url, created.transaction_id, status="ok")
    assert receiver.queries(f"{prefix}/callback/success") == []
    assert receiver.wait(f"{prefix}/callback/success", 1)
    assert time.monotonic() - started >= 1.9


def test_pending_then_ok_and_ok_is_final(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    _, created, prefix = _create(client, receiver)
    pending = _complete(sandbox_url, created.transaction_id, status="pending")
    assert pending.json()["status"] == "pending"
    assert client.get_payment(created.transaction_id).status == "pending"
    _complete(sandbox_url, created.transaction_id, status="ok", provider="nordea")
    queries = receiver.wait(f"{prefix}/callback/success", 2)
    assert sorted(parse_callback(q).status for q in queries) == ["ok", "pending"]
    refused = _complete(sandbox_url, created.transaction_id, status="fail")
    assert refused.status_code == 409 and refused.json()["status"] == "error"
    status = client.get_payment(created.transaction_id)
    assert (status.status, status.provider) == ("ok", "nordea")
    browser = httpx.post(f"{created.href}/decision", data={"status": "fail"})
    assert browser.status_code == 303
    assert parse_callback(urlsplit(browser.headers["location"]).query).status == "ok"


def test_browser_flow_redirects_and_calls_back_twice(
    client: PaytrailClient, receiver: Receiver
) -> None:
    request, created, prefix = _create(client, receiver)
    choice = httpx.post(f"{created.href}/decision", data={"status": "ok", "provider": "aktia"})
    assert choice.status_code == 303
    location = choice.headers["location"]
    assert location.startswith(request.redirect_urls.success + "?")
    assert verify_callback_query(SECRET, urlsplit(location).query)
    assert parse_callback(urlsplit(location).query).provider == "aktia"
    first, second = receiver.wait(f"{prefix}/callback/success", 2)
    assert first == second and parse_callback(first).status == "ok"


def test_browser_cancel_goes_to_cancel_urls(client: PaytrailClient, receiver: Receiver) -> None:
    request, created, prefix = _create(client, receiver)
    choice = httpx.post(f"{created.href}/decision", data={"status": "fail"})
    assert choice.headers["location"].startswith(request.redirect_urls.cancel + "?")
    (query, _) = receiver.wait(f"{prefix}/callback/cancel", 2)
    assert verify_callback_query(SECRET, query) and parse_callback(query).status == "fail"
    assert client.get_payment(created.transaction_id).status == "fail"


def test_sha512_payment_is_answered_and_called_back_with_sha512(
    sandbox_url: str, receiver: Receiver
) -> None:
    with PaytrailClient(
        account=ACCOUNT, secret=SECRET, base_url=sandbox_url, algorithm="sha512"
    ) as client:
        _, created, prefix = _create(client, receiver)
        _complete(sandbox_url, created.transaction_id, callback="before-redirect")
    (query,) = receiver.queries(f"{prefix}/callback/success")
    assert parse_callback(query).algorithm == "sha512"
    assert len(dict(parse_qsl(query))["signature"]) == 128
    assert verify_callback_query(SECRET, query)


def test_shop_in_shop_needs_sub_merchant_items(sandbox_url: str, receiver: Receiver) -> None:
    with PaytrailClient(account=SIS_ACCOUNT, secret=SIS_SECRET, base_url=sandbox_url) as client:
        item = Item(1000, 1, 25.5, "fee", stamp="i1", reference="r", merchant="695874")
        _, created, _ = _create(client, receiver, amount=1000, items=[item])
        assert client.get_payment(created.transaction_id).status == "new"
        aggregate = Item(1000, 1, 25.5, "fee", stamp="i1", reference="r", merchant=SIS_ACCOUNT)
        with pytest.raises(PaytrailHTTPError) as caught:
            _create(client, receiver, amount=1000, items=[aggregate])
    assert caught.value.status == 400 and any("merchant" in m for m in caught.value.meta)


def test_callback_to_unreachable_merchant_is_survived(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    urls = CallbackUrls(f"{dead}/ok", f"{dead}/cancel")
    _, created, _ = _create(client, receiver, callback_urls=urls)
    control = _complete(sandbox_url, created.transaction_id, callback="before-redirect")
    assert control.status_code == 200
    record = httpx.get(f"{sandbox_url}/_sandbox/payments/{created.transaction_id}").json()
    assert "ConnectError" in record["deliveries"][0]["outcome"]
    assert client.get_payment(created.transaction_id).status == "ok"


# --------------------------------------------------------------------------- refunds


def test_refund_is_accepted_and_called_back(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    _, created, prefix = _paid(client, receiver, sandbox_url)
    urls = receiver.urls(prefix + "/refund")
    result = client.refund(created.transaction_id, 525, "refund-1", "ref-1", urls)
    assert result.status == "ok" and result.provider == "osuuspankki"
    assert result.transaction_id != created.transaction_id
    (query,) = receiver.wait(f"{prefix}/refund/success", 1)
    assert verify_callback_query(SECRET, query)
    callback = parse_callback(query)
    assert (callback.stamp, callback.amount, callback.transaction_id) == (
        "refund-1",
        525,
        result.transaction_id,
    )
    with pytest.raises(PaytrailHTTPError) as too_much:
        client.refund(created.transaction_id, 1001, "refund-2", "ref", urls)
    assert too_much.value.status == 400 and "exceeds" in too_much.value.message
    with pytest.raises(PaytrailHTTPError) as reused:
        client.refund(created.transaction_id, 100, "refund-1", "ref", urls)
    assert reused.value.status == 400


def test_refund_provider_rules(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    urls = receiver.urls("/refund-rules")
    _, unpaid, _ = _create(client, receiver)
    _, nordea, _ = _paid(client, receiver, sandbox_url, provider="nordea")
    _, spankki, _ = _paid(client, receiver, sandbox_url, provider="spankki")
    expected = {unpaid.transaction_id: 400, nordea.transaction_id: 400, spankki.transaction_id: 422}
    for transaction_id, status in expected.items():
        with pytest.raises(PaytrailHTTPError) as caught:
            client.refund(transaction_id, 100, str(uuid.uuid4()), "ref", urls)
        assert caught.value.status == status
    by_email = client.refund(spankki.transaction_id, 100, "r", "ref", urls, email="m@example.org")
    assert by_email.status == "pending"


# --------------------------------------------------------------------------- authentication


def _forged_get(sandbox_url: str, transaction_id: str, variant: str) -> httpx.Response:
    path = f"/payments/{transaction_id}"
    valid = _signed_headers("GET", transaction_id=transaction_id)
    forged = {
        "no signature": {k: v for k, v in valid.items() if k != "signature"},
        "wrong secret": _signed_headers("GET", secret="guess", transaction_id=transaction_id),
        "tampered header": {**valid, "checkout-timestamp": "2024-03-01T12:00:01.000Z"},
        "unknown account": _signed_headers(
            "GET", transaction_id=transaction_id, **{"checkout-account": "123"}
        ),
        "md5": {**valid, "checkout-algorithm": "md5"},
        "method mismatch": _signed_headers(
            "GET", transaction_id=transaction_id, **{"checkout-method": "POST"}
        ),
        "no transaction id": _signed_headers("GET"),
        "other transaction id": _signed_headers("GET", transaction_id=str(uuid.uuid4())),
        "no nonce": _signed_headers("GET", transaction_id=transaction_id, **{"checkout-nonce": ""}),
    }[variant]
    return httpx.get(sandbox_url + path, headers=forged)


@pytest.mark.parametrize(
    "variant",
    [
        "no signature",
        "wrong secret",
        "tampered header",
        "unknown account",
        "md5",
        "method mismatch",
        "no transaction id",
        "other transaction id",
        "no nonce",
    ],
)
def test_forged_requests_are_rejected_with_401(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str, variant: str
) -> None:
    _, created, _ = _create(client, receiver)
    response = _forged_get(sandbox_url, created.transaction_id, variant)
    assert response.status_code == 401
    assert response.json()["status"] == "error" and response.json()["message"]


def test_tampered_body_and_reused_nonce_are_rejected(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    request, _ = _request(receiver)
    body = json.dumps(request.to_json(), separators=(",", ":"))
    headers = _signed_headers("POST", body)
    tampered = body.replace('"amount":1525', '"amount":1526')
    assert (
        httpx.post(f"{sandbox_url}/payments", headers=headers, content=tampered).status_code == 401
    )
    first = httpx.post(f"{sandbox_url}/payments", headers=headers, content=body)
    assert first.status_code == 201
    signed = {k: v for k, v in first.headers.items() if k.startswith("checkout-")}
    assert verify_signature(SECRET, signed, first.text, first.headers["signature"])
    assert first.headers["checkout-transaction-id"] == first.json()["transactionId"]
    assert first.headers["request-id"]
    replay = httpx.post(f"{sandbox_url}/payments", headers=headers, content=body)
    assert replay.status_code == 401 and "nonce" in replay.json()["message"]


def test_settlements_are_an_empty_signed_list(sandbox_url: str) -> None:
    response = httpx.get(f"{sandbox_url}/settlements", headers=_signed_headers("GET"))
    assert response.status_code == 200 and response.json() == []
    signed = {k: v for k, v in response.headers.items() if k.startswith("checkout-")}
    assert verify_signature(SECRET, signed, response.text, response.headers["signature"])


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.update(amount=1526), "sum of the items"),
        (lambda b: b.update(currency="USD"), "currency"),
        (lambda b: b.update(language="DE"), "language"),
        (lambda b: b.update(items=[]), "items"),
        (lambda b: b.update(customer={}), "email"),
        (lambda b: b.update(callbackDelay=901), "callbackDelay"),
        (lambda b: b["redirectUrls"].update(success="http://shop.example.com/ok"), "https"),
        (lambda b: b["redirectUrls"].update(cancel="https://x.fi/" + "a" * 300), "300"),
        (lambda b: b["items"][0].update(unitPrice="15.25"), "unitPrice"),
        (lambda b: b.pop("stamp"), "stamp"),
    ],
)
def test_invalid_create_payment_is_rejected_with_400(
    receiver: Receiver, sandbox_url: str, change: Callable, problem: str
) -> None:
    request, _ = _request(receiver)
    body = request.to_json()
    change(body)
    text = json.dumps(body)
    response = httpx.post(
        f"{sandbox_url}/payments", headers=_signed_headers("POST", text), content=text
    )
    assert response.status_code == 400
    error = response.json()
    assert error["status"] == "error" and any(problem in m for m in error["meta"])


def test_localhost_http_urls_are_accepted(client: PaytrailClient, receiver: Receiver) -> None:
    local = CallbackUrls("http://localhost:3000/ok", "http://localhost:3000/cancel")
    _, created, _ = _create(client, receiver, redirect_urls=local)
    assert isinstance(created, CreatedPayment)


def test_duplicate_stamp_and_unknown_payment_are_error_json(
    client: PaytrailClient, receiver: Receiver
) -> None:
    request, _, _ = _create(client, receiver)
    with pytest.raises(PaytrailHTTPError) as duplicate:
        client.create_payment(request)
    assert duplicate.value.status == 400 and "stamp" in duplicate.value.message
    with pytest.raises(PaytrailHTTPError) as unknown:
        client.get_payment(str(uuid.uuid4()))
    assert unknown.value.status == 404 and unknown.value.message == "Payment not found"


# --------------------------------------------------------------------------- faults


def test_wrong_and_missing_response_signatures_are_refused(
    client: PaytrailClient, sandbox_url: str
) -> None:
    _fault(sandbox_url, mode="wrong-signature")
    with pytest.raises(PaytrailSignatureError):
        client.list_providers(1000)
    _fault(sandbox_url, mode="unsigned")
    with pytest.raises(PaytrailSignatureError):
        client.list_providers(1000)
    assert client.list_providers(1000)


def test_server_error_and_malformed_response(client: PaytrailClient, sandbox_url: str) -> None:
    _fault(sandbox_url, mode="error", status=500)
    with pytest.raises(PaytrailHTTPError) as caught:
        client.list_providers(1000)
    assert caught.value.status == 500 and caught.value.retryable
    _fault(sandbox_url, mode="malformed")
    with pytest.raises(PaytrailError) as malformed:
        client.list_providers(1000)
    assert not isinstance(malformed.value, PaytrailSignatureError | PaytrailHTTPError)


def test_slow_response_raises_timeout(client: PaytrailClient, sandbox_url: str) -> None:
    _fault(sandbox_url, mode="slow", seconds=3)
    with PaytrailClient(account=ACCOUNT, secret=SECRET, base_url=sandbox_url, timeout=0.5) as c:
        with pytest.raises(PaytrailTimeout):
            c.list_providers(1000)
    assert client.list_providers(1000)


def test_fault_can_target_one_path(
    client: PaytrailClient, receiver: Receiver, sandbox_url: str
) -> None:
    _fault(sandbox_url, mode="error", status=503, path="/payments")
    assert client.list_providers(1000)
    with pytest.raises(PaytrailHTTPError) as caught:
        _create(client, receiver)
    assert caught.value.status == 503


# --------------------------------------------------------------------------- as a process


def test_sandbox_runs_as_a_process() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "membook_app.payments.sandbox", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--base-url", base_url],
        cwd=Path(__file__).resolve().parents[3],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with PaytrailClient(account=ACCOUNT, secret=SECRET, base_url=base_url) as client:
            deadline = time.monotonic() + 20
            while True:
                try:
                    providers = client.list_providers(1000)
                    break
                except PaytrailError:
                    assert process.poll() is None and time.monotonic() < deadline
                    time.sleep(0.1)
        assert {p.id for p in providers} >= BANKS
    finally:
        process.terminate()
        process.wait(timeout=10)
