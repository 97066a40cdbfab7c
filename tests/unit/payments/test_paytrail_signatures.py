"""Every case of the shared Paytrail signature vectors, plus the ways a query can be forged.

The vectors are the contract with Paytrail: if one of them fails, real requests would be
rejected (or forged callbacks accepted), whatever the sandbox tests say.
"""

import json
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest

from membook_app.payments.paytrail import (
    compute_signature,
    parse_callback,
    signature_payload,
    verify_callback_query,
    verify_signature,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
VECTORS = json.loads(
    (REPO_ROOT / ".." / "shared" / "domain" / "paytrail-vectors.json").read_text("utf-8")
)
CASES = VECTORS["cases"]
QUERY_CASES = [case for case in CASES if "raw_query" in case]


def _ids(cases: list[dict]) -> list[str]:
    return [case["id"] for case in cases]


def _signed_query(secret: str, params: dict[str, str]) -> str:
    return urlencode({**params, "signature": compute_signature(secret, params)})


def test_vector_file_covers_requests_responses_and_callbacks() -> None:
    kinds = {case["kind"] for case in CASES}
    assert {"request", "response", "redirect_or_callback"} <= kinds
    assert len(QUERY_CASES) >= 4


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_vector_signature_is_reproduced(case: dict) -> None:
    assert case["params"]["checkout-algorithm"] == case["algorithm_used_for_hmac"]
    assert signature_payload(case["params"], case["body"]) == case["hmac_payload"]
    assert (
        compute_signature(case["secret"], case["params"], case["body"])
        == (case["expected_signature"])
    )


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_vector_verification_outcome(case: dict) -> None:
    secret, params, body = case["secret"], case["params"], case["body"]
    signature = params.get("signature", case["expected_signature"])
    assert verify_signature(secret, params, body, signature) is case["expect_valid"]
    if case["expect_valid"]:
        assert not verify_signature(secret + "x", params, body, signature)
        assert not verify_signature(secret, params, body + " ", signature)
        tampered = {**params, "checkout-account": params["checkout-account"] + "1"}
        assert not verify_signature(secret, tampered, body, signature)


@pytest.mark.parametrize("case", QUERY_CASES, ids=_ids(QUERY_CASES))
def test_vector_callback_query(case: dict) -> None:
    secret, raw = case["secret"], case["raw_query"]
    assert dict(parse_qsl(raw)) == case["params"]
    assert verify_callback_query(secret, raw) is case["expect_valid"]
    parsed = parse_callback(raw)
    assert parsed.amount == int(case["params"]["checkout-amount"])
    assert parsed.stamp == case["params"]["checkout-stamp"]
    assert parsed.transaction_id == case["params"]["checkout-transaction-id"]
    assert parsed.status == case["params"]["checkout-status"]
    assert parsed.settlement_reference == case["params"].get("checkout-settlement-reference")


@pytest.mark.parametrize("case", QUERY_CASES, ids=_ids(QUERY_CASES))
def test_vector_callback_query_forgeries_are_rejected(case: dict) -> None:
    secret, raw = case["secret"], case["raw_query"]
    without_signature = "&".join(p for p in raw.split("&") if not p.startswith("signature="))
    forgeries = {
        "repeated status": raw + "&checkout-status=fail",
        "repeated identical signature": raw + "&signature=" + case["expected_signature"],
        "repeated name in other case": raw
        + "&Checkout-Status="
        + case["params"]["checkout-status"],
        "missing signature": without_signature,
        "empty signature": without_signature + "&signature=",
        "uppercase signature": without_signature
        + "&signature="
        + case["expected_signature"].upper(),
        "changed amount": raw.replace("checkout-amount=", "checkout-amount=1"),
        "added checkout parameter": raw + "&checkout-extra=1",
        "malformed": raw + "&&",
        "invalid utf-8": raw + "&checkout-x=%C3",
        "wrong secret": _signed_query(
            "not-the-secret", {k: v for k, v in case["params"].items() if k != "signature"}
        ),
    }
    for name, query in forgeries.items():
        assert verify_callback_query(secret, query) is False, name


def test_non_checkout_query_parameters_do_not_affect_the_signature() -> None:
    case = QUERY_CASES[0]
    assert verify_callback_query(case["secret"], case["raw_query"] + "&utm_source=mail")


@pytest.mark.parametrize("algorithm", ["md5", "sha1", "SHA256", "sha384", "", None])
def test_only_sha256_and_sha512_are_accepted(algorithm: str | None) -> None:
    params = {"checkout-account": "375917", "checkout-nonce": "1"}
    if algorithm is not None:
        params["checkout-algorithm"] = algorithm
    with pytest.raises(ValueError):
        compute_signature("SAIPPUAKAUPPIAS", params)
    assert verify_signature("SAIPPUAKAUPPIAS", params, "", "0" * 64) is False
    query = urlencode({**params, "signature": "0" * 64})
    assert verify_callback_query("SAIPPUAKAUPPIAS", query) is False


def test_algorithm_in_query_selects_the_hmac() -> None:
    params = {"checkout-account": "375917", "checkout-algorithm": "sha512", "checkout-amount": "1"}
    query = _signed_query("SAIPPUAKAUPPIAS", params)
    assert len(dict(parse_qsl(query))["signature"]) == 128
    assert verify_callback_query("SAIPPUAKAUPPIAS", query)
    downgraded = query.replace("sha512", "sha256")
    assert not verify_callback_query("SAIPPUAKAUPPIAS", downgraded)


def test_header_names_are_compared_lowercased_and_duplicates_rejected() -> None:
    case = CASES[0]
    shouting = {name.upper(): value for name, value in case["params"].items()}
    assert compute_signature(case["secret"], shouting, case["body"]) == case["expected_signature"]
    ambiguous = {**case["params"], "Checkout-Nonce": "other"}
    with pytest.raises(ValueError):
        compute_signature(case["secret"], ambiguous, case["body"])


def test_empty_body_still_ends_the_payload_with_a_newline() -> None:
    payload = signature_payload({"checkout-algorithm": "sha256", "platform-name": "x"})
    assert payload == "checkout-algorithm:sha256\n"


@pytest.mark.parametrize(
    "query",
    [
        "checkout-account=1&checkout-algorithm=sha256&checkout-stamp=s&checkout-reference=r"
        "&checkout-status=ok",
        "checkout-account=1&checkout-algorithm=sha256&checkout-amount=1.5&checkout-stamp=s"
        "&checkout-reference=r&checkout-status=ok",
        "checkout-account=1&checkout-algorithm=sha256&checkout-amount=-5&checkout-stamp=s"
        "&checkout-reference=r&checkout-status=ok",
        "checkout-account=1&checkout-account=2&checkout-algorithm=sha256&checkout-amount=5"
        "&checkout-stamp=s&checkout-reference=r&checkout-status=ok",
    ],
)
def test_parse_callback_rejects_malformed_queries(query: str) -> None:
    with pytest.raises(ValueError):
        parse_callback(query)


def test_parse_callback_without_transaction_id_or_provider() -> None:
    parsed = parse_callback(
        "checkout-account=375917&checkout-algorithm=sha256&checkout-amount=500"
        "&checkout-stamp=r1&checkout-reference=ref&checkout-status=fail"
    )
    assert (parsed.amount, parsed.transaction_id, parsed.provider) == (500, None, None)
