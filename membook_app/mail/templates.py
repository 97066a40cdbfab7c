"""Mail templates as files: `<name>.<lang>.txt` (first line `Subject: ...`) and `.html`.

string.Template keeps the templates logic-free; values are HTML-escaped for
the HTML part, so member-supplied text can never inject markup into mail.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

TEMPLATE_DIR = Path(__file__).parent / "templates"


def _pick(name: str, lang: str, suffix: str) -> Path | None:
    for candidate in (lang, "fi"):
        path = TEMPLATE_DIR / f"{name}.{candidate}.{suffix}"
        if path.exists():
            return path
    return None


def render(name: str, lang: str, **values: object) -> tuple[str, str, str | None]:
    """Subject, plain text and HTML of a template in the recipient's language (fi fallback)."""
    text_path = _pick(name, lang, "txt")
    if text_path is None:
        raise FileNotFoundError(f"mail template {name!r} is missing")
    first, _, body = text_path.read_text(encoding="utf-8").partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"{text_path.name}: the first line must be 'Subject: ...'")
    plain = {k: str(v) for k, v in values.items()}
    subject = Template(first.removeprefix("Subject: ")).substitute(plain)
    text = Template(body.lstrip("\n")).substitute(plain)
    html_path = _pick(name, lang, "html")
    html_body = None
    if html_path is not None:
        escaped = {k: html.escape(v, quote=True) for k, v in plain.items()}
        html_body = Template(html_path.read_text(encoding="utf-8")).substitute(escaped)
    return subject, text, html_body
