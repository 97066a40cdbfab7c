"""Long-running work with progress: a Job row the worker updates and the UI polls.

The Huey consumer has no socket to the browser, so progress goes through the
database (pretix does the same with its task state): the task calls
`report_progress`, a Reflex background event reads `job_status` every
half second. Each progress write is its own short transaction so the
reader sees it while the work's own transaction is still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from membook_app.accounts.permissions import Actor
from membook_app.db import session_scope
from membook_app.errors import NotFound
from models import Job, utcnow


@dataclass(frozen=True)
class JobStatus:
    id: int
    kind: str
    status: str
    progress: int
    message: str
    result: dict[str, Any] | None


def create_job(session: Session, actor: Actor | None, kind: str, *,
               organization_id: int | None = None,
               params: dict[str, Any] | None = None) -> Job:
    """Record a job before it is queued, so the page can show it at once."""
    job = Job(kind=kind, organization_id=organization_id,
              user_id=actor.user_id if actor else None, params=params or {})
    session.add(job)
    session.flush()
    return job


def report_progress(job_id: int, progress: int, message: str | None = None,
                    *, status: str = "running") -> None:
    """Write progress (0–100) in its own transaction; called from worker tasks."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.progress = max(0, min(100, progress))
        job.status = status
        if message is not None:
            job.message = message[:1000]
        session.add(job)


def finish_job(job_id: int, result: dict[str, Any] | None = None, *,
               file_path: str | None = None, failed: str | None = None) -> None:
    """Mark a job done (with its report) or failed (with the reason)."""
    with session_scope() as session:
        job = session.get(Job, job_id)
        if job is None:
            return
        job.status = "failed" if failed else "done"
        job.progress = 100 if not failed else job.progress
        job.message = (failed or job.message or "")[:1000]
        job.result = result
        job.file_path = file_path
        job.finished_at = utcnow()
        session.add(job)


def job_status(session: Session, actor: Actor, job_id: int) -> JobStatus:
    """A job's state for the one who started it (or an operator); others see nothing."""
    job = session.get(Job, job_id)
    if job is None or (job.user_id != actor.user_id and not actor.is_operator):
        raise NotFound("Työtä ei löydy", "Job not found")
    return JobStatus(job.id, job.kind, job.status, job.progress,  # type: ignore[arg-type]
                     job.message or "", job.result)
