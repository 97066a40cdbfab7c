"""The text of a PDF that fpdf2 wrote, read back through each font's ToUnicode map.

pypdf is not a dependency; fpdf2's PDFs are simple enough to read here: objects are
plain, content streams deflated, embedded (TrueType) fonts write two-byte glyph codes
that only the font's ToUnicode CMap turns back into letters, core fonts write bytes.
So a test that finds "Łukasz Nguyễn" in this text proves that the glyphs were
embedded and mapped, not just that the bytes were written.
"""

from __future__ import annotations

import re
import zlib

_OBJECT = re.compile(rb"(\d+) 0 obj(.*?)endobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.S)
_TEXT = re.compile(rb"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _stream(body: bytes) -> bytes:
    match = _STREAM.search(body)
    if match is None:
        return b""
    try:
        return zlib.decompress(match.group(1))
    except zlib.error:
        return match.group(1)


def _unescape(literal: bytes) -> bytes:
    """A PDF literal string's bytes (backslash escapes, octal included)."""
    return re.sub(rb"\\([0-7]{1,3}|.)", lambda m: (
        bytes([int(m.group(1), 8)]) if m.group(1)[:1].isdigit()
        else _ESCAPES.get(m.group(1), m.group(1))), literal, flags=re.S)


def _cmap(data: bytes) -> dict[int, str]:
    return {int(code, 16): chr(int(uni, 16)) for code, uni in
            re.findall(rb"<([0-9A-Fa-f]{4})> <([0-9A-Fa-f]{4,8})>", data)}


def drawn_rectangles(data: bytes) -> int:
    """How many rectangles (`re` operators) the pages draw: the bars and QR modules."""
    return sum(_stream(body).count(b" re") for _, body in _OBJECT.findall(data))


def pdf_text(data: bytes) -> str:
    """Every shown string of every page, one per line, decoded with its font."""
    objects = {int(n): body for n, body in _OBJECT.findall(data)}
    fonts: dict[bytes, dict[int, str] | None] = {}
    for name, ref in re.findall(rb"/(F\d+) (\d+) 0 R", data):
        to_unicode = re.search(rb"/ToUnicode (\d+) 0 R", objects.get(int(ref), b""))
        fonts[name] = _cmap(_stream(objects[int(to_unicode.group(1))])) if to_unicode else None
    lines: list[str] = []
    for body in objects.values():
        font: dict[int, str] | None = None
        for name, literal in _TEXT.findall(_stream(body)):
            if name:
                font = fonts.get(name)
                continue
            raw = _unescape(literal)
            if font is None:
                lines.append(raw.decode("cp1252", errors="replace"))
            else:
                lines.append("".join(font.get(int.from_bytes(raw[i:i + 2], "big"), "?")
                                     for i in range(0, len(raw) - 1, 2)))
    return "\n".join(lines)
