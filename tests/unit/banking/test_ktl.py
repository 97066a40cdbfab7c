"""KTL reference-payment files: the shared sample, every kind of refusal, a large file."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from membook_app.banking.ktl import parse_ktl
from membook_app.banking.references import make_national, make_rf, normalise
from membook_app.banking.statement import (
    BankFileError,
    classify_reference,
    format_amount,
    parse_bank_file,
)

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "domain" / "samples"
SAMPLE = "ktl_reference_payments.txt"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text("utf-8"))[SAMPLE]


def sample_lines() -> list[bytes]:
    return (SAMPLES / SAMPLE).read_bytes().split(b"\r\n")


def join(lines: list[bytes]) -> bytes:
    return b"\r\n".join(lines)


def replace(lines: list[bytes], line: int, start: int, new: bytes) -> bytes:
    """Overwrite 1-based positions ``start…`` of 1-based ``line`` (record length kept)."""
    record = lines[line - 1]
    lines[line - 1] = record[: start - 1] + new + record[start - 1 + len(new) :]
    return join(lines)


def test_sample_matches_expected_json() -> None:
    parsed = parse_bank_file((SAMPLES / SAMPLE).read_bytes(), SAMPLE)
    assert parsed.format == "ktl"
    [batch] = parsed.ktl_batches
    [expected_batch] = EXPECTED["batches"]
    assert batch.created.isoformat(timespec="minutes") == expected_batch["created"]
    assert (batch.bank_id, batch.service_id) == ("12", "123456789")
    assert (expected_batch["bank_id"], expected_batch["service_id"]) == ("12", "123456789")
    assert len(parsed.payments) == EXPECTED["record_count"] == len(expected_batch["records"])
    for payment, exp in zip(parsed.payments, expected_batch["records"], strict=True):
        assert payment.bank_tx_prtry == exp["record_type"]
        assert payment.account_iban == "FI21" + exp["account"]
        assert payment.booking_date.isoformat() == exp["booking_date"]
        assert payment.value_date.isoformat() == exp["payment_date"]
        assert payment.archive_id == exp["archive_id"]
        assert payment.reference.rjust(20, "0") == exp["reference_raw"]
        assert payment.reference == exp["reference"]
        assert payment.reference_kind == exp["reference_kind"]
        assert payment.reference_valid is exp["reference_valid"]
        assert payment.national_reference == exp["national_reference"]
        assert payment.payer_name == exp["payer_name"]
        assert payment.currency == exp["currency"]
        assert abs(payment.amount_cents) == exp["amount_cents"]
        assert format_amount(abs(payment.amount_cents)) == exp["amount"]
        assert payment.reversal is exp["correction"]
        assert payment.credit_debit == ("DBIT" if exp["correction"] else "CRDT")
        assert payment.name_source == exp["name_source"]
        assert payment.channel == exp["channel"]
        assert format_amount(payment.amount_cents) == exp["signed_amount"]
    stated = expected_batch["totals_record"]
    assert (batch.count, format_amount(batch.amount_cents)) == (stated["count"], stated["amount"])
    assert (batch.correction_count, format_amount(batch.correction_cents)) == (
        stated["correction_count"],
        stated["correction_amount"],
    )
    computed = expected_batch["computed"]
    assert parsed.totals.count == computed["count"] + computed["correction_count"]
    assert format_amount(parsed.totals.credit_cents) == computed["amount"]
    assert format_amount(parsed.totals.debit_cents) == computed["correction_amount"]
    assert format_amount(parsed.totals.net_cents) == computed["net_amount"]
    invalid = [p for p in parsed.payments if p.reference_valid is False]
    assert len(invalid) == EXPECTED["invalid_reference_count"]
    assert EXPECTED["valid"] and expected_batch["totals_match"]


@pytest.mark.parametrize(
    ("mutate", "line", "field", "words"),
    [
        (lambda ls: join(ls[:3] + [ls[3][:-1]] + ls[4:]), 4, "record", "89 characters"),
        (lambda ls: replace(ls, 9, 8, b"00000124050"), 9, "amount", "1240.50"),
        (lambda ls: replace(ls, 9, 2, b"000007"), 9, "count", "says 7"),
        (lambda ls: replace(ls, 9, 19, b"000000"), 9, "correction_count", "says 0"),
        (lambda ls: replace(ls, 3, 16, b"261131"), 3, "booking_date", "261131"),
        (lambda ls: replace(ls, 3, 22, b"26112X"), 3, "payment_date", "26112X"),
        (lambda ls: replace(ls, 1, 2, b"261340"), 1, "creation_date", "261340"),
        (lambda ls: replace(ls, 4, 78, b"00000A5000"), 4, "amount", "not a number"),
        (lambda ls: replace(ls, 4, 44, b"0000000000002024001 "), 4, "reference", "not a number"),
        (lambda ls: replace(ls, 2, 76, b"2"), 2, "currency", "not 1"),
        (lambda ls: replace(ls, 1, 23, b"2"), 1, "currency", "not 1"),
        (lambda ls: replace(ls, 5, 88, b"2"), 5, "correction", "not 0 or 1"),
        (lambda ls: replace(ls, 5, 28, b" " * 16), 5, "archive_id", "blank"),
        (lambda ls: join(ls[1:]), 1, "record_type", "'0'"),
        (lambda ls: join(ls[:8]), 8, "record_type", "no totals record"),
        (lambda ls: join(ls[:1] + ls[:1] + ls[1:]), 2, "record_type", "'0' found"),
        (lambda ls: replace(ls, 6, 1, b"4"), 6, "record_type", "'4' found"),
    ],
    ids=[
        "short-record",
        "totals-amount",
        "totals-count",
        "correction-totals",
        "bad-date",
        "bad-payment-date",
        "bad-header-date",
        "non-digit-amount",
        "non-digit-reference",
        "payment-currency",
        "header-currency",
        "correction-code",
        "blank-archive-id",
        "no-header",
        "no-totals",
        "header-inside-batch",
        "unknown-record-type",
    ],
)
def test_bad_file_is_refused_naming_line_and_field(mutate, line, field, words) -> None:
    with pytest.raises(BankFileError) as caught:
        parse_ktl(mutate(sample_lines()))
    error = caught.value
    assert (error.line, error.field) == (line, field)
    message = str(error)
    assert message.startswith(f"KTL line {line}, field {field}: ")
    assert words in message


def test_detection_names_the_uploaded_file() -> None:
    with pytest.raises(BankFileError) as caught:
        parse_bank_file(replace(sample_lines(), 4, 78, b"00000A5000"), "viitteet.svm")
    assert caught.value.file == "viitteet.svm"
    assert str(caught.value).startswith("viitteet.svm: KTL line 4, field amount: ")
    with pytest.raises(BankFileError, match="unrecognised content"):
        parse_bank_file(join(sample_lines()[1:]), "x.txt")


def test_lf_line_ends_several_batches_and_7bit_names_are_accepted() -> None:
    header = b"0261127061512123456789" + b"1" + b" " * 67
    name = b"M[KINEN LIIS"  # SFS 4017: [ = Ä
    payment = (
        b"312345600000785261126261126261126593497A001"
        + b"20260011".rjust(20, b"0")
        + name
        + b"1A00000035000A "
    )
    totals = b"9000001" + b"00000003500" + b"0" * 34 + b" " * 38
    data = b"\n".join([header, payment, totals, header, payment, totals, b""])
    parsed = parse_ktl(data)
    assert len(parsed.ktl_batches) == 2
    assert [p.payer_name for p in parsed.payments] == ["MÄKINEN LIIS"] * 2
    assert parsed.totals.net_cents == 7000


def test_empty_file_is_refused() -> None:
    with pytest.raises(BankFileError, match="empty"):
        parse_ktl(b"\r\n")


def test_reference_classification_agrees_with_references_module() -> None:
    rng = random.Random(7)
    refs = [
        "12345",
        "0000012344",
        "1234",
        "123",
        "0000",
        "RF18539007547034",
        "RF73SETTLE2026W48",
        "RF00SETTLE",
        "rf18 5390 0754 7034",
        "ABC123",
        "RF1",
        "12344 ",
    ]
    for _ in range(300):
        base = str(rng.randrange(100, 10**19))
        national = make_national(base)
        refs += [national, national[:-1] + str((int(national[-1]) + 1) % 10), make_rf(national)]
        refs.append(make_rf(national)[:2] + "00" + national)
    for ref in refs:
        kind, valid, national = classify_reference(ref)
        norm = normalise(ref)
        assert valid is (norm.valid if norm.kind != "none" else None), ref
        assert national == norm.national, ref
        if norm.kind in ("national", "rf"):
            assert kind == norm.kind, ref


def make_ktl(count: int, seed: int = 1) -> tuple[bytes, int, int]:
    """A one-batch KTL file with ``count`` payments, every 50th a correction.

    Returns the file and the expected credit and correction sums in cents.
    """
    rng = random.Random(seed)
    lines = [b"0261127061512123456789" + b"1" + b" " * 67]
    credit = corrections = n_corr = 0
    for i in range(count):
        cents = rng.randrange(1, 10**6)
        correction = i % 50 == 49
        if correction:
            corrections += cents
            n_corr += 1
        else:
            credit += cents
        ref = make_national(str(1000 + i)).rjust(20, "0")
        record = (
            f"312345600000785261126261125{i:016d}{ref}{'MAKSAJA ' + str(i % 1000):<12}"
            f"1A{cents:010d}{int(correction)}A "
        )
        lines.append(record.encode("latin-1"))
    lines.append(
        f"9{count - n_corr:06d}{credit:011d}{n_corr:06d}{corrections:011d}{0:017d}{'':38}".encode()
    )
    return b"\r\n".join(lines) + b"\r\n", credit, corrections


def test_large_generated_file() -> None:
    data, credit, corrections = make_ktl(20_000)
    parsed = parse_bank_file(data)
    assert parsed.totals.count == 20_000
    assert parsed.totals.credit_cents == credit
    assert parsed.totals.debit_cents == corrections
    assert parsed.totals.net_cents == credit - corrections
    assert all(p.reference_valid for p in parsed.payments)
    assert len({p.archive_id for p in parsed.payments}) == 20_000


def test_inline_payment_path_matches_field_by_field_path() -> None:
    """parse_ktl reads valid records inline; the checked per-field path must agree."""
    from membook_app.banking import ktl
    from membook_app.banking.statement import build_payment

    data, _, _ = make_ktl(500)
    records = data.decode("latin-1").split("\r\n")
    dates, ibans = ktl._Dates(), {}
    parsed = parse_ktl(data)
    for payment in parsed.payments:
        record = records[payment.line - 1]
        expected = build_payment(ktl._payment(record, payment.line, dates, ibans, False))
        assert payment == expected
        assert payment.__dict__ == expected.__dict__
