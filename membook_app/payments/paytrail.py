"""Client for the Paytrail Payment API (https://services.paytrail.com).

There is no official Python SDK, and the official SDKs of other languages carry signing
quirks (sha256 regardless of the header, double JSON encoding, unsorted headers), so the
HMAC scheme is implemented here from the spec in ``shared/domain/paytrail.md`` §1:
every ``checkout-*`` header (or query parameter), lowercased and sorted, as ``name:value``,
then the body, joined by ``\\n``, HMAC-SHA256/512 with the merchant secret, lowercase hex.

The client never retries on its own: a timed-out create has an unknown outcome, and only
the caller knows whether to check the status first or to start over with a new stamp.
All amounts are integer cents.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Self
from urllib.parse import parse_qsl, quote

import httpx

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://services.paytrail.com"
ALGORITHMS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
CURRENCY = "EUR"
LANGUAGES = frozenset({"FI", "SV", "EN"})
MAX_AMOUNT = 99_999_998
MAX_CALLBACK_DELAY = 900
SIGNED_PREFIX = "checkout-"
_DIGITS = re.compile(r"[0-9]+")


# --------------------------------------------------------------------------- signatures


def _checkout_entries(params: Mapping[str, str]) -> dict[str, str]:
    entries: dict[str, str] = {}
    for name, value in params.items():
        key = name.lower()
        if not key.startswith(SIGNED_PREFIX):
            continue
        if key in entries:
            raise ValueError(f"{key!r} occurs more than once; the signed input is ambiguous")
        entries[key] = value
    return entries


def signature_payload(params: Mapping[str, str], body: str = "") -> str:
    """Return the exact text that gets HMAC'd, so a signature mismatch can be debugged.

    Names are lowercased and filtered by prefix rather than taken from a fixed list,
    because Paytrail adds parameters (e.g. ``checkout-settlement-reference``) over time.
    """
    entries = _checkout_entries(params)
    return "\n".join([*(f"{key}:{entries[key]}" for key in sorted(entries)), body])


def compute_signature(secret: str, params: Mapping[str, str], body: str = "") -> str:
    """Sign ``params`` + ``body`` the way Paytrail does, with the algorithm they name.

    The algorithm comes from ``params["checkout-algorithm"]`` (not a default) because
    responses and callbacks must be checked with whatever the payment was created with;
    anything outside the sha256/sha512 allow-list raises ValueError instead of silently
    falling back to a weaker or different hash.
    """
    algorithm = _checkout_entries(params).get("checkout-algorithm")
    digest = ALGORITHMS.get(algorithm) if isinstance(algorithm, str) else None
    if digest is None:
        raise ValueError(f"unsupported or missing checkout-algorithm: {algorithm!r}")
    payload = signature_payload(params, body).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), payload, digest).hexdigest()


def verify_signature(secret: str, params: Mapping[str, str], body: str, signature: str) -> bool:
    """Tell whether ``signature`` is valid; never raises, so callers can't forget a branch.

    Uses a constant-time comparison so the expected value can't be probed byte by byte.
    """
    if not isinstance(signature, str):
        return False
    try:
        expected = compute_signature(secret, params, body)
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8"))


def _parse_query(raw_query: str) -> dict[str, str]:
    """Decode a query string strictly; a repeated name is an error, not "last one wins".

    With repeats allowed, a forged second ``checkout-status`` could be read by the app
    while the signature was checked against the first one.
    """
    params: dict[str, str] = {}
    pairs = parse_qsl(raw_query, keep_blank_values=True, strict_parsing=True, errors="strict")
    for name, value in pairs:
        if name in params:
            raise ValueError(f"query parameter {name!r} is repeated")
        params[name] = value
    return params


def verify_callback_query(secret: str, raw_query: str) -> bool:
    """Check a redirect or callback query string exactly as it reached our server.

    Takes the raw string (not a framework's already-parsed dict) because parsed mappings
    silently drop repeated parameters, which is how a tampered query would slip through.
    """
    try:
        params = _parse_query(raw_query)
    except ValueError:
        return False
    signature = params.get("signature")
    return signature is not None and verify_signature(secret, params, "", signature)


# --------------------------------------------------------------------------- errors


class PaytrailError(Exception):
    """Base class: anything that went wrong talking to Paytrail."""


class PaytrailTimeout(PaytrailError):
    """No answer in time: the outcome is unknown, check the status before retrying."""


class PaytrailSignatureError(PaytrailError):
    """A response failed HMAC verification: treat it as forged and alert, never act on it."""


class PaytrailHTTPError(PaytrailError):
    """Paytrail answered with a non-2xx status (error bodies are usually unsigned)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        meta: Sequence[str] = (),
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.message = message
        self.meta = tuple(meta)
        self.request_id = request_id
        details = f" ({'; '.join(self.meta)})" if self.meta else ""
        super().__init__(f"HTTP {status}: {message}{details}")

    @property
    def retryable(self) -> bool:
        """Only server-side failures are worth retrying; 4xx would fail the same way again."""
        return self.status >= 500


# --------------------------------------------------------------------------- request types


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _vat_number(vat: float | int | Decimal) -> int | float:
    """Paytrail takes VAT with at most one decimal (25.5); reject anything finer."""
    value = Decimal(str(vat))
    if value != value.quantize(Decimal("0.1")) or not Decimal(0) <= value <= Decimal(100):
        raise ValueError(f"vatPercentage must be 0-100 with one decimal at most: {vat}")
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass(frozen=True)
class CallbackUrls:
    """A success/cancel URL pair; used for both ``redirectUrls`` and ``callbackUrls``."""

    success: str
    cancel: str

    def to_json(self) -> dict[str, str]:
        """Both keys always: Paytrail rejects a pair with only one URL."""
        return {"success": self.success, "cancel": self.cancel}


@dataclass(frozen=True)
class Item:
    """One invoice line. ``merchant``/``stamp``/``reference`` matter for Shop-in-Shop."""

    unit_price: int
    units: int
    vat_percentage: float | int | Decimal
    product_code: str
    description: str | None = None
    stamp: str | None = None
    reference: str | None = None
    merchant: str | None = None

    @property
    def total(self) -> int:
        """Line total in cents; the payment amount must equal the sum of these."""
        return self.unit_price * self.units

    def validate(self) -> None:
        """Reject floats and fractional VAT early, before they become a 400 from Paytrail."""
        if not (_is_int(self.unit_price) and _is_int(self.units) and self.units >= 0):
            raise ValueError("item unitPrice and units must be integers (cents), units >= 0")
        if not self.product_code:
            raise ValueError("item productCode is required")
        _vat_number(self.vat_percentage)

    def to_json(self) -> dict[str, Any]:
        """API field names; optional fields are left out rather than sent as null."""
        data: dict[str, Any] = {
            "unitPrice": self.unit_price,
            "units": self.units,
            "vatPercentage": _vat_number(self.vat_percentage),
            "productCode": self.product_code,
        }
        optional = {
            "description": self.description,
            "stamp": self.stamp,
            "reference": self.reference,
            "merchant": self.merchant,
        }
        data.update({key: value for key, value in optional.items() if value is not None})
        return data


@dataclass(frozen=True)
class CreatePayment:
    """Body of ``POST /payments``; use a fresh UUID ``stamp`` for every attempt."""

    stamp: str
    reference: str
    amount: int
    items: Sequence[Item]
    customer_email: str
    redirect_urls: CallbackUrls
    callback_urls: CallbackUrls | None = None
    callback_delay: int | None = None
    language: str = "FI"
    currency: str = CURRENCY

    def validate(self) -> None:
        """Fail locally on what Paytrail would reject, so a bad invoice never leaves us.

        Above all ``amount == Σ unitPrice × units``: Paytrail rejects a mismatch, and a
        silent mismatch would mean charging a member something other than the invoice.
        """
        if not _is_int(self.amount) or not 0 < self.amount <= MAX_AMOUNT:
            raise ValueError(f"amount must be integer cents in 1..{MAX_AMOUNT}: {self.amount!r}")
        if not self.items:
            raise ValueError("items are required (Shop-in-Shop, item refunds and VAT need them)")
        for item in self.items:
            item.validate()
        total = sum(item.total for item in self.items)
        if total != self.amount:
            raise ValueError(f"amount {self.amount} != sum of items {total}")
        if self.currency != CURRENCY:
            raise ValueError(f"Paytrail only supports EUR, not {self.currency!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {sorted(LANGUAGES)}: {self.language!r}")
        if not self.stamp or not self.reference or not self.customer_email:
            raise ValueError("stamp, reference and customer email are required")
        if self.callback_delay is not None and not (
            _is_int(self.callback_delay) and 0 <= self.callback_delay <= MAX_CALLBACK_DELAY
        ):
            raise ValueError(f"callbackDelay must be 0..{MAX_CALLBACK_DELAY} seconds")

    def to_json(self) -> dict[str, Any]:
        """Keys in the order of Paytrail's examples, so bodies are easy to compare by eye."""
        data: dict[str, Any] = {
            "stamp": self.stamp,
            "reference": self.reference,
            "amount": self.amount,
            "currency": self.currency,
            "language": self.language,
            "items": [item.to_json() for item in self.items],
            "customer": {"email": self.customer_email},
            "redirectUrls": self.redirect_urls.to_json(),
        }
        if self.callback_urls is not None:
            data["callbackUrls"] = self.callback_urls.to_json()
        if self.callback_delay is not None:
            data["callbackDelay"] = self.callback_delay
        return data


# --------------------------------------------------------------------------- response types


@dataclass(frozen=True)
class FormField:
    """A hidden input of a provider's payment form."""

    name: str
    value: str


@dataclass(frozen=True)
class Provider:
    """A payment method; ``url``/``parameters`` are only set when created for a payment."""

    id: str
    name: str
    group: str
    icon: str = ""
    svg: str = ""
    url: str = ""
    parameters: tuple[FormField, ...] = ()


@dataclass(frozen=True)
class ProviderGroup:
    id: str
    name: str
    icon: str = ""
    svg: str = ""


@dataclass(frozen=True)
class CreatedPayment:
    """Store ``transaction_id`` before sending the browser to ``href`` or a provider form."""

    transaction_id: str
    href: str
    reference: str
    terms: str
    groups: tuple[ProviderGroup, ...]
    providers: tuple[Provider, ...]


@dataclass(frozen=True)
class PaymentStatus:
    transaction_id: str
    status: str
    amount: int
    currency: str
    stamp: str
    reference: str
    created_at: str | None = None
    href: str | None = None
    provider: str | None = None
    filing_code: str | None = None
    paid_at: str | None = None
    settlement_reference: str | None = None


@dataclass(frozen=True)
class RefundResult:
    """``transaction_id`` is the refund's own id; ``status`` is ok, pending or fail."""

    transaction_id: str
    provider: str | None
    status: str


@dataclass(frozen=True)
class CallbackParams:
    """The checkout-* values of a redirect/callback, to be matched to the stored attempt."""

    account: str
    algorithm: str
    amount: int
    stamp: str
    reference: str
    transaction_id: str | None
    status: str
    provider: str | None
    settlement_reference: str | None


def parse_callback(raw_query: str) -> CallbackParams:
    """Extract typed values from a redirect/callback query; ValueError if malformed.

    This does not check the signature: call ``verify_callback_query`` first, then compare
    account, stamp and amount with the stored payment attempt before changing any state.
    ``transaction_id`` may be absent (refund that failed validation).
    """
    params = _parse_query(raw_query)
    required = ("account", "algorithm", "amount", "stamp", "reference", "status")
    missing = [name for name in required if f"checkout-{name}" not in params]
    if missing:
        raise ValueError(f"callback is missing checkout-{', checkout-'.join(missing)}")
    amount = params["checkout-amount"]
    if not _DIGITS.fullmatch(amount):
        raise ValueError(f"checkout-amount is not integer cents: {amount!r}")
    return CallbackParams(
        account=params["checkout-account"],
        algorithm=params["checkout-algorithm"],
        amount=int(amount),
        stamp=params["checkout-stamp"],
        reference=params["checkout-reference"],
        transaction_id=params.get("checkout-transaction-id"),
        status=params["checkout-status"],
        provider=params.get("checkout-provider"),
        settlement_reference=params.get("checkout-settlement-reference"),
    )


def _get(data: Any, key: str, kind: type, *, optional: bool = False) -> Any:
    value = data.get(key) if isinstance(data, dict) else None
    if value is None and optional:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PaytrailError(f"malformed Paytrail response: {key!r} missing or not {kind.__name__}")
    return value


def _provider(data: Any) -> Provider:
    parameters = _get(data, "parameters", list, optional=True) or []
    return Provider(
        id=_get(data, "id", str),
        name=_get(data, "name", str),
        group=_get(data, "group", str),
        icon=_get(data, "icon", str, optional=True) or "",
        svg=_get(data, "svg", str, optional=True) or "",
        url=_get(data, "url", str, optional=True) or "",
        parameters=tuple(
            FormField(_get(p, "name", str), _get(p, "value", str)) for p in parameters
        ),
    )


def _created_payment(data: Any) -> CreatedPayment:
    groups = _get(data, "groups", list, optional=True) or []
    return CreatedPayment(
        transaction_id=_get(data, "transactionId", str),
        href=_get(data, "href", str),
        reference=_get(data, "reference", str),
        terms=_get(data, "terms", str, optional=True) or "",
        groups=tuple(
            ProviderGroup(
                id=_get(g, "id", str),
                name=_get(g, "name", str),
                icon=_get(g, "icon", str, optional=True) or "",
                svg=_get(g, "svg", str, optional=True) or "",
            )
            for g in groups
        ),
        providers=tuple(_provider(p) for p in _get(data, "providers", list)),
    )


def _payment_status(data: Any) -> PaymentStatus:
    return PaymentStatus(
        transaction_id=_get(data, "transactionId", str),
        status=_get(data, "status", str),
        amount=_get(data, "amount", int),
        currency=_get(data, "currency", str),
        stamp=_get(data, "stamp", str),
        reference=_get(data, "reference", str),
        created_at=_get(data, "createdAt", str, optional=True),
        href=_get(data, "href", str, optional=True),
        provider=_get(data, "provider", str, optional=True),
        filing_code=_get(data, "filingCode", str, optional=True),
        paid_at=_get(data, "paidAt", str, optional=True),
        settlement_reference=_get(data, "settlementReference", str, optional=True),
    )


# --------------------------------------------------------------------------- client


def _timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _http_error(response: httpx.Response, request_id: str | None) -> PaytrailHTTPError:
    """Report an error body without trusting it: it is usually unsigned."""
    message = response.reason_phrase or "error"
    meta: list[str] = []
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        if isinstance(data.get("message"), str):
            message = data["message"]
        if isinstance(data.get("meta"), list):
            meta = [str(entry) for entry in data["meta"]]
    return PaytrailHTTPError(response.status_code, message, meta=meta, request_id=request_id)


class PaytrailClient:
    """Synchronous Paytrail client; the same code talks to production and the sandbox.

    Pass ``http_client`` (not closed by us) or ``transport`` to redirect traffic in tests.
    """

    def __init__(
        self,
        *,
        account: str,
        secret: str,
        base_url: str = DEFAULT_BASE_URL,
        algorithm: str = "sha256",
        timeout: float = 10.0,
        platform_name: str = "membook",
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {sorted(ALGORITHMS)}: {algorithm!r}")
        self.account = account
        self.base_url = base_url.rstrip("/")
        self.algorithm = algorithm
        self.timeout = timeout
        self.platform_name = platform_name
        self._secret = secret
        self._owns_http = http_client is None
        self._http = (
            httpx.Client(transport=transport, timeout=timeout)
            if http_client is None
            else http_client
        )

    def close(self) -> None:
        """Close the connection pool, unless it was injected (then its owner closes it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def create_payment(self, request: CreatePayment) -> CreatedPayment:
        """Create a payment; on PaytrailTimeout check status or retry with a new stamp."""
        request.validate()
        return _created_payment(self._call("POST", "/payments", body=request.to_json()))

    def get_payment(self, transaction_id: str) -> PaymentStatus:
        """Poll the status, for when a callback is missing or the status is pending."""
        data = self._call(
            "GET", f"/payments/{quote(transaction_id, safe='')}", transaction_id=transaction_id
        )
        return _payment_status(data)

    def list_providers(self, amount: int, groups: Sequence[str] | None = None) -> list[Provider]:
        """List payment methods for an amount without creating a payment."""
        if not _is_int(amount) or amount <= 0:
            raise ValueError(f"amount must be positive integer cents: {amount!r}")
        query = {"amount": str(amount)}
        if groups:
            query["groups"] = ",".join(groups)
        data = self._call("GET", "/merchants/payment-providers", query=query)
        if not isinstance(data, list):
            raise PaytrailError("malformed Paytrail response: provider list expected")
        return [_provider(entry) for entry in data]

    def refund(
        self,
        transaction_id: str,
        amount: int,
        refund_stamp: str,
        refund_reference: str,
        callback_urls: CallbackUrls,
        email: str | None = None,
    ) -> RefundResult:
        """Refund (part of) a paid payment; ``email`` enables Paytrail's email fallback.

        A 400 can be the provider's fault and a 422 means it can't refund at all; both
        arrive as PaytrailHTTPError. The final outcome is reported to ``callback_urls``.
        """
        if not _is_int(amount) or amount <= 0:
            raise ValueError(f"refund amount must be positive integer cents: {amount!r}")
        body: dict[str, Any] = {
            "amount": amount,
            "refundStamp": refund_stamp,
            "refundReference": refund_reference,
        }
        if email is not None:
            body["email"] = email
        body["callbackUrls"] = callback_urls.to_json()
        path = f"/payments/{quote(transaction_id, safe='')}/refund"
        data = self._call("POST", path, body=body, transaction_id=transaction_id)
        return RefundResult(
            transaction_id=_get(data, "transactionId", str),
            provider=_get(data, "provider", str, optional=True),
            status=_get(data, "status", str),
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        transaction_id: str | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        """Sign, send and verify one request; return the decoded JSON of a 2xx response.

        The body is serialized exactly once and those bytes are both signed and sent.
        """
        body_text = (
            "" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        )
        headers = {
            "checkout-account": self.account,
            "checkout-algorithm": self.algorithm,
            "checkout-method": method,
            "checkout-nonce": str(uuid.uuid4()),
            "checkout-timestamp": _timestamp(),
        }
        if transaction_id is not None:
            headers["checkout-transaction-id"] = transaction_id
        headers["signature"] = compute_signature(self._secret, headers, body_text)
        headers["platform-name"] = self.platform_name
        if body is not None:
            headers["content-type"] = "application/json; charset=utf-8"
        try:
            response = self._http.request(
                method,
                self.base_url + path,
                params=query,
                content=body_text.encode("utf-8") if body is not None else None,
                headers=headers,
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise PaytrailTimeout(f"{method} {path} timed out; outcome unknown") from exc
        except httpx.HTTPError as exc:
            raise PaytrailError(f"{method} {path} failed: {exc}") from exc
        request_id = response.headers.get("request-id")
        log.info(
            "paytrail %s %s -> %s request-id=%s", method, path, response.status_code, request_id
        )
        if not response.is_success:
            raise _http_error(response, request_id)
        return self._verified_json(response, request_id)

    def _verified_json(self, response: httpx.Response, request_id: str | None) -> Any:
        try:
            text = response.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PaytrailError("malformed Paytrail response: body is not UTF-8") from exc
        signed = {k: v for k, v in response.headers.items() if k.lower().startswith(SIGNED_PREFIX)}
        signature = response.headers.get("signature")
        if signature is None or not verify_signature(self._secret, signed, text, signature):
            log.error("paytrail response signature mismatch, request-id=%s", request_id)
            raise PaytrailSignatureError(f"response signature invalid (request-id {request_id})")
        try:
            return json.loads(text)
        except ValueError as exc:
            raise PaytrailError(f"malformed Paytrail response (request-id {request_id})") from exc
