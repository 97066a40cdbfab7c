"""The daily bank inbox: files the bank connection (or a person) drops into a folder.

Folder: the setting `BANK_INBOX_DIR` (default `<VAR_DIR>/bank-inbox/`). Layout:

    bank-inbox/            drop KTL / camt.053 / camt.054 files here
    bank-inbox/.work/      a file being imported (claimed by an atomic rename)
    bank-inbox/processed/  imported, or already imported before (same file hash)
    bank-inbox/failed/     refused (bad format, totals that do not add up) or crashed

Each file is imported in its own transaction; its outcome is recorded: a `BankImport`
row for an import, an `AuditEvent` (`bank_import.refused`, `bank_import.duplicate`)
otherwise, and a `<file>.result.json` beside the moved file. An unexpected error while
importing is recorded as a refusal too (`run_import`), so the import log shows every file.
Claiming by rename makes two workers running the task at once import each file once;
moving after the commit means a crash in between leaves the file in `.work/`, and the
next run imports nothing for it (same hash) and moves it on.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from membook_app.banking.statement import BankFileError
from membook_app.db import session_scope
from membook_app.formatting import HELSINKI
from membook_app.payments.bank_import import record_refusal, run_import
from membook_app.settings import get_settings

log = logging.getLogger(__name__)
SOURCE = "inbox"
_SKIP_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".json")


@dataclass(frozen=True)
class InboxResult:
    filename: str
    outcome: str  # imported | duplicate | refused | failed
    message: str
    import_id: int | None
    moved_to: str


def inbox_dir() -> Path:
    """The configured inbox (`BANK_INBOX_DIR`); the settings fill in the default."""
    folder = get_settings().bank_inbox_dir
    assert folder is not None
    return folder


def ensure_folders(root: Path | None = None) -> Path:
    root = root or inbox_dir()
    for sub in ("", ".work", "processed", "failed"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def _pending(root: Path) -> list[Path]:
    claimed = sorted(p for p in (root / ".work").iterdir() if p.is_file())
    fresh = sorted(p for p in root.iterdir()
                   if p.is_file() and not p.name.startswith(".")
                   and not p.name.lower().endswith(_SKIP_SUFFIXES))
    return claimed + fresh


def _claim(root: Path, path: Path) -> Path | None:
    if path.parent == root / ".work":
        return path
    target = root / ".work" / path.name
    try:
        os.rename(path, target)  # atomic: exactly one worker wins
    except FileNotFoundError:
        return None
    return target


def _move(path: Path, folder: Path, result: dict[str, object]) -> Path:
    stamp = datetime.now(HELSINKI).strftime("%Y%m%dT%H%M%S")
    target = folder / f"{stamp}-{path.name}"
    counter = 1
    while target.exists():
        target = folder / f"{stamp}-{counter}-{path.name}"
        counter += 1
    os.replace(path, target)
    target.with_name(target.name + ".result.json").write_text(
        json.dumps(result, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    return target


def process_inbox(root: Path | None = None, today: date | None = None) -> list[InboxResult]:
    """Import every file waiting in the inbox; returns one result per file."""
    root = ensure_folders(root)
    results: list[InboxResult] = []
    for path in _pending(root):
        work = _claim(root, path)
        if work is None:
            continue
        name = path.name
        data = work.read_bytes()
        import_id: int | None = None
        try:
            result = run_import(None, data, name, source=SOURCE, today=today)
            import_id = result.import_id
            outcome = "duplicate" if result.duplicate_file else "imported"
            message = result.summary()
            folder = root / "processed"
            details: dict[str, object] = {"outcome": outcome, **result.as_dict()}
        except BankFileError as exc:
            outcome, message, folder = "refused", str(exc), root / "failed"
            details = {"outcome": outcome, "filename": name, "message": message}
        except Exception as exc:  # noqa: BLE001 — one bad file must not stop the others
            log.exception("bank inbox: importing %s failed", name)
            outcome, message, folder = "failed", f"{type(exc).__name__}: {exc}", root / "failed"
            details = {"outcome": outcome, "filename": name, "message": message}
            try:  # run_import records its own failures; this is anything before or after
                with session_scope() as session:
                    record_refusal(session, None, name, SOURCE, message)
            except Exception:  # noqa: BLE001 — the database may be what failed
                log.exception("bank inbox: recording the failure of %s failed too", name)
        moved = _move(work, folder, details)
        log.info("bank inbox: %s %s → %s", name, outcome, moved)
        results.append(InboxResult(name, outcome, message[:1000], import_id, str(moved)))
    return results
