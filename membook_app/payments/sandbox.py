"""Offline stand-in for the Paytrail Payment API, faithful to ``paytrail.md`` §6.

The unchanged ``PaytrailClient`` talks to it; only base URL and credentials differ.
Start it as a process::

    python -m membook_app.payments.sandbox --port 8765 --base-url http://127.0.0.1:8765

Merchants (default): 375917 / SAIPPUAKAUPPIAS (normal) and 695861 / MONISAIPPUAKAUPPIAS
(Shop-in-Shop aggregate; every item needs ``merchant`` = sub-merchant 695874).

Signed API (HMAC checked exactly; 401 error JSON for a bad or missing signature, unknown
algorithm or account, ``checkout-method`` not equal to the verb, a reused nonce, or a
missing/mismatching ``checkout-transaction-id``)::

    POST /payments                       201, 400 on validation errors
    GET  /payments/{id}                  status: new -> pending/delayed -> ok|fail (final)
    POST /payments/{id}/refund           201 ok/pending, 400, 422 + refund callback
    GET  /merchants/payment-providers    flat provider list (?amount=&groups=bank,creditcard)
    GET  /settlements                    always an empty list

Deliberate differences from the real service:

* redirect/callback URLs may be ``http://`` for loopback hosts (localhost, 127.0.0.1,
  ::1), because the local product runs on plain http; other hosts need https as in
  production;
* test refund behaviour is modelled on the docs: nordea and aktia answer 400, spankki and
  alandsbanken 422 unless ``email`` is given (then 201 pending, callback ok);
* item refunds and reports are not implemented.

Browser pages: ``href`` (``/pay/{id}``) and each provider's form URL
(``/pay/{id}/provider/{provider}``, GET or the POSTed form) show the amount with the
buttons "Maksa / Pay", "Peruuta / Cancel" and, for tests, pending/delayed. A choice
answers 303 to ``redirectUrls.success`` (ok, pending, delayed) or ``.cancel`` (fail) with
signed ``checkout-*`` query parameters, and sends the signed callback GET after
``callbackDelay`` seconds, then once more as a duplicate. A payment already ok or fail
keeps its status; choosing again only redirects.

Test controls (unsigned; never expose the sandbox beyond localhost)::

    POST /_sandbox/payments/{id}/complete?status=ok|fail|pending|delayed
         &callback=none|normal|duplicate|before-redirect&delay=<seconds>&provider=<id>
        Drive a payment without a browser. Answers 200 {transactionId, status,
        redirectUrl, callbackUrl}; redirectUrl is where the browser would be sent.
        ``none`` drops the callback, ``duplicate`` sends it twice, ``before-redirect``
        delivers it before this call returns. ``delay`` defaults to callbackDelay.
        To reorder, complete pending with delay=5, then ok with delay=0: the ok
        callback arrives first and the stale pending one after it.
        409 if the state machine forbids it (ok and fail are final; repeating the same
        status is allowed and sends the callback again).
    GET  /_sandbox/payments/{id}      internal record incl. the callback delivery log
    POST /_sandbox/faults             JSON {"mode": "error"|"slow"|"unsigned"|
        "wrong-signature"|"malformed", "count": 1, "status": 500, "seconds": 5,
        "path": "/payments", "method": "GET"}: the next ``count`` authenticated API
        responses (optionally only those whose path starts with ``path``) fail that way.
        ``error`` answers ``status`` before doing anything; ``slow`` waits ``seconds``
        and then does the work; the others do the work and spoil the response.
    DELETE /_sandbox/faults           drop queued faults
    POST /_sandbox/reset              forget payments, nonces and faults
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import re
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from membook_app.payments.paytrail import (
    ALGORITHMS,
    CURRENCY,
    LANGUAGES,
    MAX_AMOUNT,
    MAX_CALLBACK_DELAY,
    SIGNED_PREFIX,
    compute_signature,
    verify_signature,
)

log = logging.getLogger(__name__)

DEFAULT_MERCHANTS = {"375917": "SAIPPUAKAUPPIAS", "695861": "MONISAIPPUAKAUPPIAS"}
SHOP_IN_SHOP = {"695861": frozenset({"695874"})}
PROVIDERS = {
    "osuuspankki": ("OP", "bank"),
    "nordea": ("Nordea", "bank"),
    "danske": ("Danske Bank", "bank"),
    "spankki": ("S-Pankki", "bank"),
    "aktia": ("Aktia", "bank"),
    "pop": ("POP Pankki", "bank"),
    "saastopankki": ("Säästöpankki", "bank"),
    "omasp": ("Oma Säästöpankki", "bank"),
    "alandsbanken": ("Ålandsbanken", "bank"),
    "handelsbanken": ("Handelsbanken", "bank"),
    "creditcard": ("Visa / Mastercard", "creditcard"),
}
DEFAULT_PROVIDER = "osuuspankki"
GROUP_NAMES = {
    "bank": {"FI": "Pankkimaksut", "SV": "Bankbetalningar", "EN": "Bank payments"},
    "creditcard": {"FI": "Korttimaksut", "SV": "Kortbetalningar", "EN": "Card payments"},
}
KNOWN_GROUPS = frozenset({"mobile", "bank", "creditcard", "credit"})
TERMS = {
    "FI": "Valitsemalla maksutavan hyväksyt maksupalveluehdot (hiekkalaatikko).",
    "SV": "Genom att välja betalningssätt godkänner du villkoren (sandlåda).",
    "EN": "By selecting a payment method you accept the payment terms (sandbox).",
}
STATUSES = frozenset({"ok", "fail", "pending", "delayed"})
FINAL_STATUSES = frozenset({"ok", "fail"})
CALLBACK_MODES = frozenset({"none", "normal", "duplicate", "before-redirect"})
FAULT_MODES = frozenset({"error", "slow", "unsigned", "wrong-signature", "malformed"})
REFUND_FAILS = frozenset({"nordea", "aktia"})
EMAIL_REFUND_ONLY = frozenset({"spankki", "alandsbanken"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _compact(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    headers = {"request-id": str(uuid.uuid4()), **(headers or {})}
    return Response(
        _compact(payload).encode("utf-8"),
        status_code=status,
        headers=headers,
        media_type="application/json; charset=utf-8",
    )


def _error(status: int, message: str, meta: list[str] | None = None) -> Response:
    """Paytrail's error JSON; unsigned, as the real service's error bodies may be."""
    payload: dict[str, Any] = {"status": "error", "message": message}
    if meta:
        payload["meta"] = meta
    return _json(status, payload)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _url_problem(url: object, limit: int) -> str | None:
    if not isinstance(url, str) or not url:
        return "is required"
    if len(url) > limit:
        return f"is longer than {limit} characters"
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return None
    return "must be an https URL (http only for localhost in the sandbox)"


def _signed_url(url: str, params: dict[str, str], secret: str) -> str:
    """Append signed checkout-* parameters the way Paytrail redirects and calls back."""
    query = urlencode({**params, "signature": compute_signature(secret, params)})
    return f"{url}{'&' if urlsplit(url).query else '?'}{query}"


# --------------------------------------------------------------------------- state


@dataclass
class _Payment:
    transaction_id: str
    account: str
    algorithm: str
    stamp: str
    reference: str
    amount: int
    currency: str
    language: str
    redirect_urls: dict[str, str]
    callback_urls: dict[str, str] | None
    callback_delay: int
    groups: list[str]
    status: str = "new"
    provider: str | None = None
    created_at: str = field(default_factory=_now)
    paid_at: str | None = None
    refunded: int = 0
    refunds: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def status_params(self) -> dict[str, str]:
        return {
            "checkout-account": self.account,
            "checkout-algorithm": self.algorithm,
            "checkout-amount": str(self.amount),
            "checkout-stamp": self.stamp,
            "checkout-reference": self.reference,
            "checkout-transaction-id": self.transaction_id,
            "checkout-status": self.status,
            "checkout-provider": self.provider or "",
        }

    def target(self, urls: dict[str, str]) -> str:
        return urls["cancel" if self.status == "fail" else "success"]


@dataclass
class _Fault:
    mode: str
    remaining: int
    status: int
    seconds: float
    path: str | None
    method: str | None


class _TransitionRefused(Exception):
    """A final payment (ok/fail) was asked to change; carries its unchanged state."""

    def __init__(self, payment: _Payment) -> None:
        super().__init__(f"payment is already {payment.status}")
        self.payment = payment


class _State:
    """All sandbox data behind one lock.

    Handlers run on uvicorn's event loop, but tests and tools read the same state from
    other threads (``app.state.sandbox``), so every access goes through the lock.
    """

    def __init__(self, merchants: Mapping[str, str]) -> None:
        self.lock = threading.Lock()
        self.merchants = dict(merchants)
        self.payments: dict[str, _Payment] = {}
        self.nonces: set[tuple[str, str]] = set()
        self.faults: list[_Fault] = []

    def reset(self) -> None:
        with self.lock:
            self.payments.clear()
            self.nonces.clear()
            self.faults.clear()

    def use_nonce(self, account: str, nonce: str) -> bool:
        with self.lock:
            if (account, nonce) in self.nonces:
                return False
            self.nonces.add((account, nonce))
            return True

    def add_payment(self, payment: _Payment) -> bool:
        with self.lock:
            if any(
                p.account == payment.account and p.stamp == payment.stamp
                for p in self.payments.values()
            ):
                return False
            self.payments[payment.transaction_id] = payment
            return True

    def snapshot(self, transaction_id: str, account: str | None = None) -> _Payment | None:
        with self.lock:
            payment = self.payments.get(transaction_id)
            if payment is None or account not in (None, payment.account):
                return None
            return _Payment(**asdict(payment))

    def transition(self, transaction_id: str, status: str, provider: str) -> _Payment | None:
        """Move forward only: ok/fail are final, repeating the current status is a no-op."""
        with self.lock:
            payment = self.payments.get(transaction_id)
            if payment is None:
                return None
            if payment.status != status:
                if payment.status in FINAL_STATUSES:
                    raise _TransitionRefused(_Payment(**asdict(payment)))
                payment.status = status
                payment.provider = provider
                if status == "ok":
                    payment.paid_at = _now()
            return _Payment(**asdict(payment))

    def add_refund(self, transaction_id: str, refund: dict[str, Any]) -> str | None:
        """Book a refund atomically; return why it is refused, or None."""
        with self.lock:
            payment = self.payments[transaction_id]
            if payment.status != "ok":
                return f"payment status is {payment.status}, only paid payments can be refunded"
            if refund["amount"] > payment.amount - payment.refunded:
                return "refund amount exceeds the refundable amount"
            if any(r["refundStamp"] == refund["refundStamp"] for r in payment.refunds):
                return "refundStamp has already been used"
            payment.refunded += refund["amount"]
            payment.refunds.append(refund)
            return None

    def record_delivery(self, transaction_id: str, url: str, outcome: int | str) -> None:
        with self.lock:
            payment = self.payments.get(transaction_id)
            if payment is not None:
                payment.deliveries.append({"url": url, "outcome": outcome, "at": _now()})

    def add_fault(self, fault: _Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def clear_faults(self) -> int:
        with self.lock:
            count = len(self.faults)
            self.faults.clear()
            return count

    def take_fault(self, method: str, path: str) -> _Fault | None:
        with self.lock:
            for fault in self.faults:
                if (fault.path is None or path.startswith(fault.path)) and (
                    fault.method is None or fault.method == method
                ):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self.faults.remove(fault)
                    return fault
            return None


# --------------------------------------------------------------------------- validation


def _text_problem(value: object, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        return "is required"
    return f"is longer than {limit} characters" if len(value) > limit else None


def _item_problems(index: int, item: Any, submerchants: frozenset[str] | None) -> list[str]:
    if not isinstance(item, dict):
        return [f"items[{index}] must be an object"]
    checks = {
        "unitPrice": None if _is_int(item.get("unitPrice")) else "must be integer cents",
        "units": None
        if _is_int(item.get("units")) and item["units"] >= 0
        else "must be an integer >= 0",
        "vatPercentage": None
        if isinstance(item.get("vatPercentage"), int | float)
        and not isinstance(item.get("vatPercentage"), bool)
        and 0 <= item["vatPercentage"] <= 100
        else "must be a number 0-100",
        "productCode": _text_problem(item.get("productCode"), 100),
        "description": _text_problem(item.get("description"), 1000, required=False),
        "stamp": _text_problem(item.get("stamp"), 200, required=submerchants is not None),
    }
    if submerchants is None:
        checks["merchant"] = None if "merchant" not in item else "is only for Shop-in-Shop"
    else:
        checks["merchant"] = (
            None if item.get("merchant") in submerchants else "must be a valid sub-merchant"
        )
        if _is_int(item.get("unitPrice")) and item["unitPrice"] < 0:
            checks["unitPrice"] = "must not be negative in Shop-in-Shop"
    return [f"items[{index}].{key} {problem}" for key, problem in checks.items() if problem]


def _create_problems(data: dict[str, Any], account: str) -> list[str]:
    """Collect every validation error at once, as Paytrail lists them in ``meta``."""
    problems = [
        f"{key} {problem}"
        for key, problem in {
            "stamp": _text_problem(data.get("stamp"), 200),
            "reference": _text_problem(data.get("reference"), 200),
        }.items()
        if problem
    ]
    amount = data.get("amount")
    if not _is_int(amount) or not 0 < amount <= MAX_AMOUNT:
        problems.append(f"amount must be integer cents 1..{MAX_AMOUNT}")
    if data.get("currency") != CURRENCY:
        problems.append("currency must be EUR")
    if data.get("language") not in LANGUAGES:
        problems.append("language must be FI, SV or EN")
    items = data.get("items")
    if not isinstance(items, list) or not items:
        problems.append("items must be a non-empty list")
    else:
        item_problems = [
            problem
            for index, item in enumerate(items)
            for problem in _item_problems(index, item, SHOP_IN_SHOP.get(account))
        ]
        problems.extend(item_problems)
        if not item_problems and sum(i["unitPrice"] * i["units"] for i in items) != amount:
            problems.append("amount does not match the sum of the items")
    customer = data.get("customer")
    email = customer.get("email") if isinstance(customer, dict) else None
    if _text_problem(email, 200):
        problems.append("customer.email is required")
    problems.extend(_urls_problems(data, "redirectUrls", 300, required=True))
    problems.extend(_urls_problems(data, "callbackUrls", 3000, required=False))
    delay = data.get("callbackDelay", 0)
    if not _is_int(delay) or not 0 <= delay <= MAX_CALLBACK_DELAY:
        problems.append(f"callbackDelay must be 0..{MAX_CALLBACK_DELAY}")
    groups = data.get("groups", [])
    if not isinstance(groups, list) or not set(groups) <= KNOWN_GROUPS:
        problems.append(f"groups must be a subset of {sorted(KNOWN_GROUPS)}")
    return problems


def _urls_problems(data: dict[str, Any], key: str, limit: int, *, required: bool) -> list[str]:
    urls = data.get(key)
    if urls is None and not required:
        return []
    if not isinstance(urls, dict):
        return [f"{key} must be an object with success and cancel"]
    return [
        f"{key}.{name} {problem}"
        for name in ("success", "cancel")
        if (problem := _url_problem(urls.get(name), limit))
    ]


# --------------------------------------------------------------------------- the app


@dataclass(frozen=True)
class _Auth:
    account: str
    secret: str
    algorithm: str
    method: str
    body: str


_Handler = Callable[[Request, _Auth], Awaitable[Response | tuple[int, Any, str | None]]]


class _Sandbox:
    def __init__(self, state: _State, base_url: str) -> None:
        self.state = state
        self.base_url = base_url.rstrip("/")
        self._tasks: set[asyncio.Task[None]] = set()

    # ----------------------------------------------------------------- signed API plumbing

    async def _authenticate(self, request: Request, transaction_id: str | None) -> _Auth | Response:
        try:
            body = (await request.body()).decode("utf-8")
        except UnicodeDecodeError:
            return _error(401, "Invalid signature: body is not UTF-8")
        headers: dict[str, str] = {}
        for name, value in request.headers.items():
            if name.startswith(SIGNED_PREFIX):
                if name in headers:
                    return _error(401, f"Duplicate header {name}")
                headers[name] = value
        account = headers.get("checkout-account", "")
        secret = self.state.merchants.get(account)
        algorithm = headers.get("checkout-algorithm", "")
        if secret is None:
            return _error(401, "Merchant account not found or not active")
        if algorithm not in ALGORITHMS:
            return _error(401, "Unsupported checkout-algorithm")
        if headers.get("checkout-method") != request.method:
            return _error(401, "checkout-method does not match the HTTP method")
        if not headers.get("checkout-nonce") or not headers.get("checkout-timestamp"):
            return _error(401, "checkout-nonce and checkout-timestamp are required")
        if not verify_signature(secret, headers, body, request.headers.get("signature", "")):
            return _error(401, "Invalid signature (HMAC)")
        if transaction_id is not None and headers.get("checkout-transaction-id") != transaction_id:
            return _error(401, "checkout-transaction-id header missing or value mismatch")
        if not self.state.use_nonce(account, headers["checkout-nonce"]):
            return _error(401, "Duplicate checkout-nonce")
        return _Auth(account, secret, algorithm, request.method, body)

    def _api(self, handler: _Handler, *, about_transaction: bool = False) -> Callable:
        """Wrap a handler with request authentication, fault injection and response signing."""

        async def endpoint(request: Request) -> Response:
            transaction_id = (
                request.path_params.get("transaction_id") if about_transaction else None
            )
            auth = await self._authenticate(request, transaction_id)
            if isinstance(auth, Response):
                return auth
            fault = self.state.take_fault(request.method, request.url.path)
            if fault is not None and fault.mode == "error":
                return _error(fault.status, "Injected server error")
            if fault is not None and fault.mode == "slow":
                await asyncio.sleep(fault.seconds)
            result = await handler(request, auth)
            if isinstance(result, Response):
                return result
            status, payload, header_transaction_id = result
            return self._signed(auth, status, payload, header_transaction_id, fault)

        return endpoint

    def _signed(
        self,
        auth: _Auth,
        status: int,
        payload: Any,
        transaction_id: str | None,
        fault: _Fault | None,
    ) -> Response:
        mode = fault.mode if fault is not None else None
        body = "<html>Bad gateway</html>" if mode == "malformed" else _compact(payload)
        headers = {
            "checkout-account": auth.account,
            "checkout-algorithm": auth.algorithm,
            "checkout-method": auth.method,
        }
        if transaction_id is not None:
            headers["checkout-transaction-id"] = transaction_id
        if mode != "unsigned":
            secret = auth.secret + ("-wrong" if mode == "wrong-signature" else "")
            headers["signature"] = compute_signature(secret, headers, body)
        return Response(
            body.encode("utf-8"),
            status_code=status,
            headers={**headers, "request-id": str(uuid.uuid4())},
            media_type="application/json; charset=utf-8",
        )

    def _provider_json(self, provider_id: str) -> dict[str, Any]:
        name, group = PROVIDERS[provider_id]
        icon = f"{self.base_url}/icons/{provider_id}.svg"
        return {"id": provider_id, "name": name, "group": group, "icon": icon, "svg": icon}

    def _provider_form(self, payment: _Payment, provider_id: str, secret: str) -> dict[str, Any]:
        params = {
            "checkout-account": payment.account,
            "checkout-algorithm": payment.algorithm,
            "checkout-transaction-id": payment.transaction_id,
            "checkout-provider": provider_id,
        }
        params["signature"] = compute_signature(secret, params)
        return {
            **self._provider_json(provider_id),
            "url": f"{self.base_url}/pay/{payment.transaction_id}/provider/{provider_id}",
            "parameters": [{"name": k, "value": v} for k, v in params.items()],
        }

    # ----------------------------------------------------------------- API endpoints

    async def create_payment(self, request: Request, auth: _Auth) -> Response | tuple:
        try:
            data = json.loads(auth.body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error(400, "Request body must be a JSON object")
        problems = _create_problems(data, auth.account)
        if problems:
            return _error(400, "Validation failed", problems)
        payment = _Payment(
            transaction_id=str(uuid.uuid4()),
            account=auth.account,
            algorithm=auth.algorithm,
            stamp=data["stamp"],
            reference=data["reference"],
            amount=data["amount"],
            currency=data["currency"],
            language=data["language"],
            redirect_urls=data["redirectUrls"],
            callback_urls=data.get("callbackUrls"),
            callback_delay=data.get("callbackDelay", 0),
            groups=data.get("groups") or sorted(KNOWN_GROUPS),
        )
        if not self.state.add_payment(payment):
            return _error(400, "Duplicate stamp: a payment with this stamp already exists")
        providers = [p for p, (_, group) in PROVIDERS.items() if group in payment.groups]
        groups = sorted({PROVIDERS[p][1] for p in providers})
        payload = {
            "transactionId": payment.transaction_id,
            "href": f"{self.base_url}/pay/{payment.transaction_id}",
            "reference": payment.reference,
            "terms": TERMS[payment.language],
            "groups": [
                {
                    "id": group,
                    "name": GROUP_NAMES[group][payment.language],
                    "icon": f"{self.base_url}/icons/{group}.svg",
                    "svg": f"{self.base_url}/icons/{group}.svg",
                }
                for group in groups
            ],
            "providers": [self._provider_form(payment, p, auth.secret) for p in providers],
        }
        return 201, payload, payment.transaction_id

    async def get_payment(self, request: Request, auth: _Auth) -> Response | tuple:
        payment = self.state.snapshot(request.path_params["transaction_id"], auth.account)
        if payment is None:
            return _error(404, "Payment not found")
        payload: dict[str, Any] = {
            "transactionId": payment.transaction_id,
            "status": payment.status,
            "amount": payment.amount,
            "currency": payment.currency,
            "stamp": payment.stamp,
            "reference": payment.reference,
            "createdAt": payment.created_at,
        }
        if payment.status == "new":
            payload["href"] = f"{self.base_url}/pay/{payment.transaction_id}"
        if payment.provider:
            payload["provider"] = payment.provider
        if payment.paid_at:
            payload["paidAt"] = payment.paid_at
        return 200, payload, payment.transaction_id

    async def refund(self, request: Request, auth: _Auth) -> Response | tuple:
        payment = self.state.snapshot(request.path_params["transaction_id"], auth.account)
        if payment is None:
            return _error(404, "Payment not found")
        try:
            data = json.loads(auth.body)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error(400, "Request body must be a JSON object")
        amount = data.get("amount")
        problems = _urls_problems(data, "callbackUrls", 3000, required=True)
        if not _is_int(amount) or amount <= 0:
            problems.append("amount must be positive integer cents")
        if "items" in data:
            problems.append("item refunds are not supported by the sandbox")
        for key in ("refundStamp", "refundReference"):
            if problem := _text_problem(data.get(key), 200, required=False):
                problems.append(f"{key} {problem}")
        if problems:
            return _error(400, "Validation failed", problems)
        if payment.provider in REFUND_FAILS:
            return _error(400, f"Refund failed at provider {payment.provider} (test refunds)")
        email_refund = payment.provider in EMAIL_REFUND_ONLY
        if email_refund and not data.get("email"):
            return _error(422, f"Provider {payment.provider} only supports email refunds")
        refund = {
            "transactionId": str(uuid.uuid4()),
            "amount": amount,
            "refundStamp": data.get("refundStamp") or str(uuid.uuid4()),
            "refundReference": data.get("refundReference") or "",
            "status": "pending" if email_refund else "ok",
        }
        if refused := self.state.add_refund(payment.transaction_id, refund):
            return _error(400, refused)
        callback = {
            "checkout-account": payment.account,
            "checkout-algorithm": payment.algorithm,
            "checkout-amount": str(amount),
            "checkout-stamp": refund["refundStamp"],
            "checkout-reference": refund["refundReference"],
            "checkout-transaction-id": refund["transactionId"],
            "checkout-status": "ok",
            "checkout-provider": payment.provider or "",
        }
        url = _signed_url(data["callbackUrls"]["success"], callback, auth.secret)
        self._schedule(payment.transaction_id, url, delay=0, repeat=1)
        result = {
            "transactionId": refund["transactionId"],
            "provider": payment.provider,
            "status": refund["status"],
        }
        return 201, result, payment.transaction_id

    async def list_providers(self, request: Request, auth: _Auth) -> Response | tuple:
        amount = request.query_params.get("amount")
        if amount is not None and not (amount.isascii() and amount.isdigit() and int(amount) > 0):
            return _error(400, "amount must be positive integer cents")
        groups = request.query_params.get("groups")
        wanted = set(groups.split(",")) if groups else KNOWN_GROUPS
        return 200, [self._provider_json(p) for p, (_, g) in PROVIDERS.items() if g in wanted], None

    async def settlements(self, request: Request, auth: _Auth) -> Response | tuple:
        for key in ("startDate", "endDate"):
            value = request.query_params.get(key)
            if value is not None and not _DATE.fullmatch(value):
                return _error(400, f"{key} must be YYYY-MM-DD")
        return 200, [], None

    # ----------------------------------------------------------------- callbacks

    def _schedule(self, transaction_id: str, url: str, *, delay: float, repeat: int) -> None:
        task = asyncio.get_running_loop().create_task(
            self._deliver(transaction_id, url, delay=delay, repeat=repeat)
        )
        self._tasks.add(task)  # keep a reference until done, or the task may be collected
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, transaction_id: str, url: str, *, delay: float, repeat: int) -> None:
        """GET the merchant's URL; a failing merchant must never take the sandbox down."""
        await asyncio.sleep(delay)
        for _ in range(repeat):
            outcome: int | str
            try:
                async with httpx.AsyncClient(timeout=10) as client:
                    outcome = (await client.get(url)).status_code
            except Exception as exc:  # whatever the merchant does, only log it
                outcome = f"{type(exc).__name__}: {exc}"
            if outcome != 200:
                log.warning("callback to %s -> %s", url.split("?")[0], outcome)
            self.state.record_delivery(transaction_id, url, outcome)

    def _complete(
        self, transaction_id: str, status: str, provider: str, *, callback: str, delay: float | None
    ) -> tuple[_Payment, str, str | None] | None:
        """Apply a choice and return (payment, redirect URL, callback URL or None).

        Raises _TransitionRefused for a final payment being moved to another status.
        """
        payment = self.state.transition(transaction_id, status, provider)
        if payment is None:
            return None
        secret = self.state.merchants[payment.account]
        params = payment.status_params()
        redirect = _signed_url(payment.target(payment.redirect_urls), params, secret)
        callback_url = None
        if payment.callback_urls is not None:
            callback_url = _signed_url(payment.target(payment.callback_urls), params, secret)
            if callback in ("normal", "duplicate"):
                wait = payment.callback_delay if delay is None else delay
                repeat = 2 if callback == "duplicate" else 1
                self._schedule(transaction_id, callback_url, delay=wait, repeat=repeat)
        return payment, redirect, callback_url

    # ----------------------------------------------------------------- browser pages

    async def page(self, request: Request) -> Response:
        transaction_id = request.path_params["transaction_id"]
        provider = request.path_params.get("provider_id")
        payment = self.state.snapshot(transaction_id)
        if payment is None or (provider is not None and provider not in PROVIDERS):
            return HTMLResponse(_page("Maksua ei löydy / Payment not found", ""), 404)
        if request.method == "POST":
            form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
            secret = self.state.merchants[payment.account]
            signature = form.get("signature", "")
            fields = {k: v for k, v in form.items() if k != "signature"}
            if (
                not verify_signature(secret, fields, "", signature)
                or form.get("checkout-transaction-id") != transaction_id
                or form.get("checkout-provider") != provider
            ):
                return HTMLResponse(_page("Virheellinen lomake / Invalid form", ""), 400)
        return HTMLResponse(self._payment_page(payment, provider))

    def _payment_page(self, payment: _Payment, provider: str | None) -> str:
        euros = f"{payment.amount // 100},{payment.amount % 100:02d}\u00a0€"
        action = f"{self.base_url}/pay/{payment.transaction_id}/decision"
        if provider is not None:
            method = f'<input type="hidden" name="provider" value="{html.escape(provider)}">'
            method += f"<p>Maksutapa / Method: {html.escape(PROVIDERS[provider][0])}</p>"
        else:
            options = "".join(
                f'<option value="{p}"{" selected" if p == DEFAULT_PROVIDER else ""}>'
                f"{html.escape(name)}</option>"
                for p, (name, group) in PROVIDERS.items()
                if group in payment.groups
            )
            method = f'<label>Maksutapa / Method <select name="provider">{options}</select></label>'
        done = (
            f"<p>Maksu on jo käsitelty / Payment already processed: {payment.status}</p>"
            if payment.status in FINAL_STATUSES
            else ""
        )
        body = f"""
<p class="amount">{euros}</p>
<p>Viite / Reference: {html.escape(payment.reference)}</p>
{done}
<form method="post" action="{html.escape(action)}">
{method}
<button name="status" value="ok" class="pay">Maksa / Pay</button>
<button name="status" value="fail">Peruuta / Cancel</button>
<details><summary>Testaus / Testing</summary>
<button name="status" value="pending">pending</button>
<button name="status" value="delayed">delayed</button>
</details>
</form>"""
        return _page("Maksu / Payment", body)

    async def decision(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        status = form.get("status", "")
        provider = form.get("provider", DEFAULT_PROVIDER)
        if status not in STATUSES or provider not in PROVIDERS:
            return HTMLResponse(_page("Virheellinen valinta / Invalid choice", ""), 400)
        transaction_id = request.path_params["transaction_id"]
        try:
            completed = self._complete(
                transaction_id, status, provider, callback="duplicate", delay=None
            )
        except _TransitionRefused as refused:
            # Already final: like the real page, only send the browser back.
            payment = refused.payment
            secret = self.state.merchants[payment.account]
            url = payment.target(payment.redirect_urls)
            return RedirectResponse(_signed_url(url, payment.status_params(), secret), 303)
        if completed is None:
            return HTMLResponse(_page("Maksua ei löydy / Payment not found", ""), 404)
        return RedirectResponse(completed[1], 303)

    async def icon(self, request: Request) -> Response:
        name = request.path_params["name"]
        label = html.escape(PROVIDERS.get(name, (name, ""))[0][:18])
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="60" viewBox="0 0 160 60">'
            '<rect width="160" height="60" rx="8" fill="#eef"/>'
            f'<text x="80" y="36" font-size="14" text-anchor="middle">{label}</text></svg>'
        )
        return Response(svg, media_type="image/svg+xml")

    # ----------------------------------------------------------------- test controls

    async def control_complete(self, request: Request) -> Response:
        query = request.query_params
        status = query.get("status", "ok")
        callback = query.get("callback", "normal")
        provider = query.get("provider")
        try:
            delay = float(query["delay"]) if "delay" in query else None
        except ValueError:
            return _error(400, "delay must be a number of seconds")
        if (
            status not in STATUSES
            or callback not in CALLBACK_MODES
            or (provider is not None and provider not in PROVIDERS)
            or (delay is not None and not 0 <= delay <= MAX_CALLBACK_DELAY)
        ):
            return _error(400, "Bad status, callback, provider or delay")
        transaction_id = request.path_params["transaction_id"]
        current = self.state.snapshot(transaction_id)
        try:
            completed = self._complete(
                transaction_id,
                status,
                provider or (current and current.provider) or DEFAULT_PROVIDER,
                callback=callback,
                delay=delay,
            )
        except _TransitionRefused as exc:
            return _error(409, str(exc))
        if completed is None:
            return _error(404, "Payment not found")
        payment, redirect, callback_url = completed
        if callback == "before-redirect" and callback_url is not None:
            await self._deliver(transaction_id, callback_url, delay=0, repeat=1)
        return _json(
            200,
            {
                "transactionId": transaction_id,
                "status": payment.status,
                "redirectUrl": redirect,
                "callbackUrl": callback_url,
            },
        )

    async def control_payment(self, request: Request) -> Response:
        payment = self.state.snapshot(request.path_params["transaction_id"])
        if payment is None:
            return _error(404, "Payment not found")
        return _json(200, asdict(payment))

    async def control_faults(self, request: Request) -> Response:
        if request.method == "DELETE":
            return _json(200, {"cleared": self.state.clear_faults()})
        try:
            data = json.loads(await request.body())
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _error(400, "JSON object expected")
        fault = _Fault(
            mode=data.get("mode", ""),
            remaining=data.get("count", 1),
            status=data.get("status", 500),
            seconds=data.get("seconds", 5),
            path=data.get("path"),
            method=data.get("method"),
        )
        if (
            fault.mode not in FAULT_MODES
            or not _is_int(fault.remaining)
            or fault.remaining < 1
            or not _is_int(fault.status)
            or not 400 <= fault.status <= 599
            or not isinstance(fault.seconds, int | float)
            or not 0 <= fault.seconds <= 600
        ):
            return _error(400, f"mode must be one of {sorted(FAULT_MODES)}; check count/status")
        self.state.add_fault(fault)
        return _json(201, asdict(fault))

    async def control_reset(self, request: Request) -> Response:
        self.state.reset()
        return _json(200, {"status": "ok"})

    def routes(self) -> list[Route]:
        return [
            Route("/payments", self._api(self.create_payment), methods=["POST"]),
            Route(
                "/payments/{transaction_id}",
                self._api(self.get_payment, about_transaction=True),
                methods=["GET"],
            ),
            Route(
                "/payments/{transaction_id}/refund",
                self._api(self.refund, about_transaction=True),
                methods=["POST"],
            ),
            Route("/merchants/payment-providers", self._api(self.list_providers), methods=["GET"]),
            Route("/settlements", self._api(self.settlements), methods=["GET"]),
            Route("/pay/{transaction_id}", self.page, methods=["GET"]),
            Route("/pay/{transaction_id}/decision", self.decision, methods=["POST"]),
            Route(
                "/pay/{transaction_id}/provider/{provider_id}",
                self.page,
                methods=["GET", "POST"],
            ),
            Route("/icons/{name}.svg", self.icon, methods=["GET"]),
            Route(
                "/_sandbox/payments/{transaction_id}/complete",
                self.control_complete,
                methods=["POST"],
            ),
            Route("/_sandbox/payments/{transaction_id}", self.control_payment, methods=["GET"]),
            Route("/_sandbox/faults", self.control_faults, methods=["POST", "DELETE"]),
            Route("/_sandbox/reset", self.control_reset, methods=["POST"]),
        ]


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="fi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} – Paytrail sandbox</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;padding:1rem;background:#f4f4f8}}
main{{max-width:28rem;margin:auto;background:#fff;padding:1.25rem;border-radius:.75rem}}
.amount{{font-size:2rem;font-weight:bold}}
button,select{{display:block;width:100%;font-size:1.1rem;padding:.8rem;margin:.5rem 0}}
.pay{{background:#1a7f37;color:#fff;border:0;border-radius:.5rem}}
.note{{color:#666;font-size:.9rem}}
</style></head>
<body><main><h1>{title}</h1>
<p class="note">Paytrail-testiympäristö, rahaa ei siirry. / Paytrail sandbox, no money moves.</p>
{body}
</main></body></html>"""


def create_sandbox_app(merchants: dict[str, str] | None = None, *, base_url: str) -> Starlette:
    """Build the sandbox; ``base_url`` is where clients and browsers reach it.

    It must be known up front because ``href``, provider URLs and icons are absolute,
    exactly as in Paytrail's responses.
    """
    sandbox = _Sandbox(_State(DEFAULT_MERCHANTS if merchants is None else merchants), base_url)
    app = Starlette(routes=sandbox.routes())
    app.state.sandbox = sandbox
    return app


def run_sandbox(host: str = "127.0.0.1", port: int = 8765, base_url: str | None = None) -> None:
    """Serve the sandbox with uvicorn until interrupted."""
    app = create_sandbox_app(base_url=base_url or f"http://{host}:{port}")
    uvicorn.run(app, host=host, port=port, log_level="info")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry: ``python -m membook_app.payments.sandbox --port 8765``."""
    parser = argparse.ArgumentParser(description="Local Paytrail Payment API sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--base-url", help="public URL of this sandbox (default http://host:port)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    run_sandbox(args.host, args.port, args.base_url)


if __name__ == "__main__":
    main()
