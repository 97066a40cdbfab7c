"""Damaged bank files: every sample, truncated and mutated many ways, either parses or is
refused with `BankFileError` — never another exception.

A crash would reach the upload page as a generic error, the inbox as a "failed" file and
`membook bank parse` as a traceback with exit 1, instead of the message that tells the
treasurer what to ask the bank. The mutations are seeded, so a failure repeats.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from membook_app.banking.statement import BankFileError, ParsedFile, parse_bank_file

SAMPLES = Path(__file__).resolve().parents[3] / ".." / "shared" / "domain" / "samples"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
XML_FILES = [
    FIXTURES / "camt053_001_08_statement.xml",
    SAMPLES / "camt054_001_02_reference_payments.xml",
    SAMPLES / "camt054_001_08_reference_payments.xml",
    SAMPLES / "camt053_001_02_statement.xml",
]
ALL_FILES = [*XML_FILES, SAMPLES / "ktl_reference_payments.txt"]
MUTATIONS_PER_FILE = 1500
# Bytes a damaged file plausibly holds: digits, spaces, letters, signs, XML syntax, Latin-1.
NOISE = b"0123456789 AZaz-+.,:<>/\"'&;\r\n\xe4\xc3\x00"


def outcome(data: bytes) -> ParsedFile | BankFileError:
    """The parse, or its refusal; any other exception fails the test with its traceback."""
    try:
        return parse_bank_file(data, "damaged")
    except BankFileError as exc:
        assert str(exc).startswith("damaged: ")
        return exc


def byte_mutations(data: bytes, rng: random.Random) -> Iterator[bytes]:
    """Overwrite, delete or duplicate a few byte runs at random places."""
    for _ in range(MUTATIONS_PER_FILE):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(damaged))
            roll = rng.random()
            if roll < 0.4:
                damaged[at] = rng.choice(NOISE)
            elif roll < 0.7:
                del damaged[at:at + rng.randint(1, 40)]
            else:
                start = rng.randrange(len(damaged))
                damaged[at:at] = damaged[start:start + rng.randint(1, 60)]
        yield bytes(damaged)


def element_mutations(data: bytes) -> Iterator[bytes]:
    """Each element in turn removed, emptied, given nonsense text or stripped of children:
    what a bank's broken export or a hand-edited file does to the structure."""
    root = etree.fromstring(data)
    count = sum(1 for _ in root.iter())
    for index in range(1, count):
        for damage in ("remove", "no_text", "nonsense", "no_children"):
            tree = copy.deepcopy(root)
            el = next(e for i, e in enumerate(tree.iter()) if i == index)
            if damage == "remove":
                el.getparent().remove(el)
            elif damage == "no_text":
                el.text = None
            elif damage == "nonsense":
                el.text = "x-1"
            else:
                for child in list(el):
                    el.remove(child)
            yield etree.tostring(tree, xml_declaration=True, encoding="UTF-8")


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_truncations_parse_or_are_refused(path: Path) -> None:
    data = path.read_bytes()
    refused = 0
    for end in range(0, len(data), 3):
        refused += isinstance(outcome(data[:end]), BankFileError)
    assert refused > len(data) // 6  # most cuts lose the totals or the closing tags


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_byte_mutations_parse_or_are_refused(path: Path) -> None:
    data = path.read_bytes()
    results = [outcome(v) for v in byte_mutations(data, random.Random(path.name))]
    assert any(isinstance(r, BankFileError) for r in results)


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: p.name)
def test_element_mutations_parse_or_are_refused(path: Path) -> None:
    results = [outcome(v) for v in element_mutations(path.read_bytes())]
    refusals = [r for r in results if isinstance(r, BankFileError)]
    assert refusals and all(r.line is not None for r in refusals)
