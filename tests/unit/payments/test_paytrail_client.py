"""PaytrailClient against an in-process mock transport: what goes on the wire, and errors."""

import hashlib
import hmac
import json
import re
import uuid
from collections.abc import Callable

import httpx
import pytest

from membook_app.payments.paytrail import (
    CallbackUrls,
    CreatePayment,
    Item,
    PaytrailClient,
    PaytrailError,
    PaytrailHTTPError,
    PaytrailSignatureError,
    PaytrailTimeout,
    compute_signature,
    verify_signature,
)

ACCOUNT, SECRET = "375917", "SAIPPUAKAUPPIAS"
BASE = "https://paytrail.test"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
CREATED = {
    "transactionId": "154dc4de-4033-11ee-9f46-dbccb2a11f6e",
    "href": "https://pay.paytrail.com/pay/154dc4de",
    "reference": "1232",
    "terms": "terms",
    "groups": [{"id": "bank", "name": "Pankkimaksut", "icon": "i", "svg": "s"}],
    "providers": [
        {
            "id": "nordea",
            "name": "Nordea",
            "group": "bank",
            "icon": "i",
            "svg": "s",
            "url": "https://bank.test/pay",
            "parameters": [{"name": "NONCE", "value": "1"}],
        }
    ],
}


def _signed(
    status: int, payload: object, *, algorithm: str = "sha256", secret: str = SECRET
) -> httpx.Response:
    body = json.dumps(payload)
    headers = {
        "checkout-account": ACCOUNT,
        "checkout-algorithm": algorithm,
        "checkout-method": "POST",
        "request-id": "r-1",
    }
    headers["signature"] = compute_signature(secret, headers, body)
    return httpx.Response(status, headers=headers, content=body.encode())


def _md5_signed(status: int, payload: object) -> httpx.Response:
    """A correctly computed HMAC, but with an algorithm outside the allow-list."""
    headers = {"checkout-account": ACCOUNT, "checkout-algorithm": "md5"}
    message = f"checkout-account:{ACCOUNT}\ncheckout-algorithm:md5\n{json.dumps(payload)}"
    headers["signature"] = hmac.new(SECRET.encode(), message.encode(), hashlib.md5).hexdigest()
    return httpx.Response(status, headers=headers, content=json.dumps(payload).encode())


class Recorder:
    """Mock Paytrail that records requests and answers with a canned response."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def client(self, **kwargs: object) -> PaytrailClient:
        transport = httpx.MockTransport(self)
        return PaytrailClient(
            account=ACCOUNT, secret=SECRET, base_url=BASE, transport=transport, **kwargs
        )


def _payment(amount: int = 2500, **changes: object) -> CreatePayment:
    fields = {
        "stamp": str(uuid.uuid4()),
        "reference": "1232",
        "amount": amount,
        "items": [
            Item(unit_price=1000, units=2, vat_percentage=25.5, product_code="jäsenmaksu"),
            Item(unit_price=500, units=1, vat_percentage=0, product_code="lehti"),
        ],
        "customer_email": "maija@example.org",
        "redirect_urls": CallbackUrls("https://app.test/ok", "https://app.test/cancel"),
        "callback_urls": CallbackUrls("https://app.test/cb/ok", "https://app.test/cb/cancel"),
        "callback_delay": 3,
    }
    return CreatePayment(**{**fields, **changes})


def _assert_signed_request(request: httpx.Request, method: str) -> None:
    headers = dict(request.headers)
    assert headers["checkout-method"] == method == request.method
    assert headers["checkout-account"] == ACCOUNT
    assert headers["checkout-algorithm"] == "sha256"
    assert uuid.UUID(headers["checkout-nonce"])
    assert TIMESTAMP.fullmatch(headers["checkout-timestamp"])
    assert headers["platform-name"] == "membook"
    assert verify_signature(SECRET, headers, request.content.decode(), headers["signature"])


def test_create_payment_signs_exactly_the_bytes_it_sends() -> None:
    mock = Recorder(lambda request: _signed(201, CREATED))
    created = mock.client().create_payment(_payment())
    (request,) = mock.requests
    _assert_signed_request(request, "POST")
    assert request.url == f"{BASE}/payments"
    assert "checkout-transaction-id" not in request.headers
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    text = request.content.decode("utf-8")
    assert "jäsenmaksu" in text and "\\u" not in text
    body = json.loads(text)
    assert text == json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    assert body["amount"] == 2500 and body["currency"] == "EUR" and body["language"] == "FI"
    assert body["items"][0] == {
        "unitPrice": 1000,
        "units": 2,
        "vatPercentage": 25.5,
        "productCode": "jäsenmaksu",
    }
    assert body["items"][1]["vatPercentage"] == 0
    assert body["customer"] == {"email": "maija@example.org"}
    assert body["callbackUrls"]["success"] == "https://app.test/cb/ok"
    assert body["callbackDelay"] == 3
    assert created.transaction_id == CREATED["transactionId"]
    assert created.providers[0].parameters[0].name == "NONCE"
    assert created.groups[0].name == "Pankkimaksut"


def test_every_request_gets_a_fresh_nonce() -> None:
    mock = Recorder(lambda request: _signed(200, []))
    client = mock.client()
    client.list_providers(1000)
    client.list_providers(1000)
    nonces = {request.headers["checkout-nonce"] for request in mock.requests}
    assert len(nonces) == 2


def test_get_payment_names_the_transaction_in_a_signed_header() -> None:
    status = {
        "transactionId": "tx-1",
        "status": "ok",
        "amount": 2500,
        "currency": "EUR",
        "stamp": "s",
        "reference": "1232",
        "provider": "osuuspankki",
    }
    mock = Recorder(lambda request: _signed(200, status))
    result = mock.client().get_payment("tx-1")
    (request,) = mock.requests
    _assert_signed_request(request, "GET")
    assert request.headers["checkout-transaction-id"] == "tx-1"
    assert request.url.path == "/payments/tx-1" and request.content == b""
    assert (result.status, result.amount, result.provider, result.href) == (
        "ok",
        2500,
        "osuuspankki",
        None,
    )


def test_list_providers_sends_amount_and_groups_as_query() -> None:
    providers = [{"id": "nordea", "name": "Nordea", "group": "bank", "icon": "i", "svg": "s"}]
    mock = Recorder(lambda request: _signed(200, providers))
    result = mock.client().list_providers(1000, groups=["bank", "creditcard"])
    (request,) = mock.requests
    _assert_signed_request(request, "GET")
    assert dict(request.url.params) == {"amount": "1000", "groups": "bank,creditcard"}
    assert [p.id for p in result] == ["nordea"] and result[0].parameters == ()


def test_refund_body_and_headers() -> None:
    answer = {"transactionId": "refund-1", "provider": "osuuspankki", "status": "ok"}
    mock = Recorder(lambda request: _signed(201, answer))
    urls = CallbackUrls("https://app.test/r/ok", "https://app.test/r/cancel")
    result = mock.client().refund("tx-1", 1590, "rs-1", "ref", urls, email="m@example.org")
    (request,) = mock.requests
    _assert_signed_request(request, "POST")
    assert request.url.path == "/payments/tx-1/refund"
    assert request.headers["checkout-transaction-id"] == "tx-1"
    assert json.loads(request.content) == {
        "amount": 1590,
        "refundStamp": "rs-1",
        "refundReference": "ref",
        "email": "m@example.org",
        "callbackUrls": {"success": "https://app.test/r/ok", "cancel": "https://app.test/r/cancel"},
    }
    assert (result.transaction_id, result.status) == ("refund-1", "ok")


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": 2501},
        {"amount": 0, "items": [Item(0, 1, 0, "x")]},
        {"items": []},
        {"currency": "USD"},
        {"language": "DE"},
        {"callback_delay": 901},
        {"items": [Item(2500, 1, 25.55, "x")]},
        {"items": [Item(2500, 1, 0, "")]},
        {"amount": 25.0},
    ],
)
def test_invalid_payment_is_refused_before_anything_is_sent(changes: dict) -> None:
    mock = Recorder(lambda request: _signed(201, CREATED))
    with pytest.raises(ValueError):
        mock.client().create_payment(_payment(**changes))
    assert mock.requests == []


def test_unsupported_algorithm_is_refused_at_construction() -> None:
    with pytest.raises(ValueError):
        PaytrailClient(account=ACCOUNT, secret=SECRET, algorithm="md5")


def test_sha512_client_signs_with_sha512_and_accepts_sha512_responses() -> None:
    mock = Recorder(lambda request: _signed(200, [], algorithm="sha512"))
    assert mock.client(algorithm="sha512").list_providers(100) == []
    assert len(mock.requests[0].headers["signature"]) == 128


def test_error_json_becomes_http_error_with_message_and_meta() -> None:
    error = {"status": "error", "message": "Validation failed", "meta": ["amount is bad"]}
    mock = Recorder(lambda request: httpx.Response(400, json=error, headers={"request-id": "r9"}))
    with pytest.raises(PaytrailHTTPError) as caught:
        mock.client().list_providers(100)
    assert (caught.value.status, caught.value.message) == (400, "Validation failed")
    assert caught.value.meta == ("amount is bad",) and caught.value.request_id == "r9"
    assert caught.value.retryable is False


def test_non_json_5xx_is_a_retryable_http_error() -> None:
    mock = Recorder(lambda request: httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(PaytrailHTTPError) as caught:
        mock.client().list_providers(100)
    assert caught.value.status == 502 and caught.value.retryable
    assert caught.value.message == "Bad Gateway"


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(lambda: httpx.Response(200, json=[]), id="unsigned"),
        pytest.param(lambda: _signed(200, [], secret="other"), id="wrong-secret"),
        pytest.param(lambda: _md5_signed(200, []), id="md5-algorithm"),
    ],
)
def test_unverifiable_success_response_is_refused(response: Callable) -> None:
    mock = Recorder(lambda request: response())
    with pytest.raises(PaytrailSignatureError):
        mock.client().list_providers(100)


def test_tampered_body_with_original_signature_is_refused() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        genuine = _signed(200, [])
        return httpx.Response(200, headers=genuine.headers, content=b"[ ]")

    with pytest.raises(PaytrailSignatureError):
        Recorder(answer).client().list_providers(100)


def test_signed_but_malformed_body_is_a_plain_paytrail_error() -> None:
    headers = {"checkout-account": ACCOUNT, "checkout-algorithm": "sha256"}
    headers["signature"] = compute_signature(SECRET, headers, "<html>")
    mock = Recorder(lambda request: httpx.Response(200, headers=headers, text="<html>"))
    with pytest.raises(PaytrailError) as caught:
        mock.client().list_providers(100)
    assert not isinstance(caught.value, PaytrailSignatureError | PaytrailHTTPError)


def test_transport_timeout_and_connection_failure() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(PaytrailTimeout):
        Recorder(timeout).client().create_payment(_payment())
    with pytest.raises(PaytrailError) as caught:
        Recorder(refused).client().list_providers(100)
    assert not isinstance(caught.value, PaytrailTimeout)


def test_injected_http_client_is_used_and_left_open() -> None:
    mock = Recorder(lambda request: _signed(200, []))
    http = httpx.Client(transport=httpx.MockTransport(mock))
    with PaytrailClient(account=ACCOUNT, secret=SECRET, base_url=BASE, http_client=http) as client:
        client.list_providers(100)
    assert len(mock.requests) == 1 and not http.is_closed
    http.close()
