"""BackgroundParse hands out exactly the payments parse_bank_file returns, in file order."""

from __future__ import annotations

import gc

import pytest

from membook_app.banking.background import BackgroundParse
from membook_app.banking.statement import BankFileError, parse_bank_file
from tests.conftest import SHARED

SAMPLES = SHARED / "domain" / "samples"
FILES = ("ktl_reference_payments.txt", "camt054_001_02_reference_payments.xml",
         "camt053_001_02_statement.xml")


@pytest.mark.parametrize("name", FILES)
@pytest.mark.parametrize("chunk", [1, 2, 10_000])
def test_chunks_are_the_parsed_payments_in_order(name: str, chunk: int) -> None:
    data = (SAMPLES / name).read_bytes()
    whole = parse_bank_file(data, name)
    parse = BackgroundParse(data, name, least=chunk, most=chunk)
    chunks = list(parse.chunks())
    assert [p for c in chunks for p in c] == list(whole.payments)
    assert all(len(c) == chunk for c in chunks[:-1]) and 0 < len(chunks[-1]) <= chunk
    assert parse.parsed.totals == whole.totals
    assert parse.parsed.balances == whole.balances


def test_bad_file_raises_with_its_name_and_restores_the_collector() -> None:
    data = (SAMPLES / "ktl_reference_payments.txt").read_bytes().split(b"\r\n")
    data[-2] = data[-2][:10] + b"9" + data[-2][11:]
    assert gc.isenabled()
    parse = BackgroundParse(b"\r\n".join(data), "bad.txt", least=1, most=1)
    with pytest.raises(BankFileError) as caught:
        for _ in parse.chunks():
            pass
    assert str(caught.value).startswith("bad.txt: KTL line 9")
    assert gc.isenabled()
    with pytest.raises(BankFileError):
        parse.parsed  # noqa: B018 — no result for a refused file


def test_result_is_not_available_before_the_file_is_read() -> None:
    parse = BackgroundParse((SAMPLES / FILES[0]).read_bytes(), FILES[0])
    with pytest.raises(BankFileError, match="not been parsed"):
        parse.parsed  # noqa: B018


def test_a_chunk_takes_all_that_is_ready_up_to_most() -> None:
    """Once the parser is done, a consumer that waited gets big chunks, never over `most`."""
    data = (SAMPLES / FILES[0]).read_bytes()
    whole = list(parse_bank_file(data, FILES[0]).payments)
    parse = BackgroundParse(data, FILES[0], least=1, most=3)
    chunks = parse.chunks()
    first = next(chunks)
    parse._done.wait()  # noqa: SLF001 — let the parser finish before asking for more
    rest = list(chunks)
    assert first + [p for c in rest for p in c] == whole
    left = 7 - len(first)
    assert [len(c) for c in rest] == [min(3, left - k) for k in range(0, left, 3)]
