"""Invoice run task: a thin wrapper around the billing run's job runner."""

from __future__ import annotations

from membook_app.billing.runs import run_job
from tasks import huey


@huey.task()
def commit_invoice_run(job_id: int) -> dict[str, object] | None:
    """Write a big invoice run (one transaction) with progress in the Job row."""
    return run_job(job_id)
