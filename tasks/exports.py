"""Export tasks: thin wrappers around the register exporter's job runner."""

from __future__ import annotations

import time
from typing import Any

from huey import crontab

from membook_app.register.exporter import exports_dir, run_export_job
from tasks import huey

KEEP_EXPORTS_HOURS = 24


@huey.task()
def export_members(job_id: int) -> dict[str, Any] | None:
    """Write the job's register export under var/exports, with progress in the Job row."""
    return run_export_job(job_id)


@huey.periodic_task(crontab(minute="53"))
def remove_old_exports() -> int:
    """Export files hold personal data: they are removed a day after they were made."""
    limit = time.time() - KEEP_EXPORTS_HOURS * 3600
    removed = 0
    for path in exports_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
