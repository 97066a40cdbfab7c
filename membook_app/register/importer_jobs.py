"""Uploaded import files and import jobs (the worker's side of a big import).

Uploads are kept under `settings.var_dir / "uploads"`, never in Reflex's upload
folder (that one is served publicly at /_upload). A stored upload is named by a
random id; the job's params hold that id, never a client-chosen path, so a
forged job cannot make the worker read another file.

Small files are checked and written right in the request (`INLINE_ROWS`);
bigger ones go to the Huey worker as a Job whose progress the page polls.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session

from membook_app.accounts.permissions import Actor, load_actor
from membook_app.db import session_scope
from membook_app.errors import DomainError, NotFound, ValidationError
from membook_app.jobs import create_job, finish_job, report_progress
from membook_app.register import importer
from membook_app.register.importer_read import Table, read_path
from membook_app.register.organizations import get_organization
from membook_app.settings import get_settings
from models import Job, User

INLINE_ROWS = 2000
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
KEEP_UPLOADS_HOURS = 24
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}\.(xlsx|csv)$")


def uploads_dir() -> Path:
    path = get_settings().var_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def save_upload(data: bytes, filename: str) -> str:
    """Store an uploaded file privately; returns its id (random name with the extension)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix == ".txt":
        suffix = ".csv"
    if suffix not in (".xlsx", ".csv"):
        raise ValidationError("Tiedoston on oltava .xlsx tai .csv",
                              "The file must be .xlsx or .csv", field="file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationError("Tiedosto on liian suuri (enintään 20 Mt)",
                              "The file is too big (max 20 MB)", field="file")
    upload_id = secrets.token_urlsafe(24) + suffix
    path = uploads_dir() / upload_id
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return upload_id


def upload_path(upload_id: str) -> Path:
    """The stored file for an upload id; anything that is not such an id is refused."""
    if not _UPLOAD_ID.match(upload_id or ""):
        raise NotFound("Tiedostoa ei löydy", "File not found", field="file")
    path = uploads_dir() / upload_id
    if not path.is_file():
        raise NotFound("Tiedosto on vanhentunut; lataa se uudelleen",
                       "The file has expired; upload it again", field="file")
    return path


def read_upload(upload_id: str) -> Table:
    return read_path(upload_path(upload_id))


def remove_upload(upload_id: str) -> None:
    try:
        upload_path(upload_id).unlink()
    except (NotFound, OSError):
        pass


def remove_old_uploads(hours: int = KEEP_UPLOADS_HOURS) -> int:
    """Delete stored uploads older than `hours` (a periodic task calls this)."""
    limit = time.time() - hours * 3600
    removed = 0
    for path in uploads_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def start_import_job(session: Session, actor: Actor, organization_id: int, upload_id: str,
                     filename: str, mapping: Sequence[str], *, write: bool) -> Job:
    """Record an import (or dry-run) job; the caller queues the task after commit."""
    org = get_organization(session, organization_id)
    actor.require("register.write", org)
    upload_path(upload_id)
    return create_job(session, actor, "import" if write else "import_check",
                      organization_id=org.id, params={
                          "upload_id": upload_id, "filename": filename[:200],
                          "mapping": list(mapping), "write": write})


def _job_actor(session: Session, job: Job) -> Actor:
    user = session.get(User, job.user_id) if job.user_id else None
    if user is None or not user.active:
        raise NotFound("Käyttäjää ei löydy", "User not found")
    return load_actor(session, user)


def run_import_job(job_id: int) -> dict[str, Any] | None:
    """The worker's part: dry run or import with progress, the report into the job."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None or job.status not in ("queued", "running"):
            return None
        params = dict(job.params or {})
        actor = _job_actor(session, job)
        organization_id = job.organization_id
    report_progress(job_id, 1, "Luetaan tiedostoa / reading the file")
    last = [0]

    def progress(done: int, total: int) -> None:
        pct = 2 + (done * 96 // total if total else 96)
        if pct - last[0] >= 2:
            last[0] = pct
            report_progress(job_id, pct)

    try:
        table = read_upload(params["upload_id"])
        with session_scope() as session:
            if params.get("write"):
                report = importer.run_import(session, actor, organization_id,  # type: ignore[arg-type]
                                             table, params["mapping"],
                                             filename=params.get("filename", ""),
                                             progress=progress)
            else:
                report = importer.dry_run(session, actor, organization_id,  # type: ignore[arg-type]
                                          table, params["mapping"], progress=progress)
    except DomainError as exc:
        finish_job(job_id, None, failed=str(exc))
        return None
    except Exception as exc:  # the job must end visibly whatever happened
        finish_job(job_id, None, failed=f"Tuonti epäonnistui / import failed: {type(exc).__name__}")
        raise
    result = report.to_dict()
    finish_job(job_id, result)
    if report.written:
        remove_upload(params["upload_id"])
    return result
