"""Import tasks: thin wrappers around the register importer's job runner."""

from __future__ import annotations

from typing import Any

from huey import crontab

from membook_app.register.importer_jobs import remove_old_uploads, run_import_job
from tasks import huey


@huey.task()
def import_members(job_id: int) -> dict[str, Any] | None:
    """Dry run or import of a stored upload, with progress in the Job row."""
    return run_import_job(job_id)


@huey.periodic_task(crontab(minute="23"))
def remove_old_import_uploads() -> int:
    """Uploaded member files are personal data: none is kept longer than a day."""
    return remove_old_uploads()
