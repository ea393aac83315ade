"""Background jobs: evaluations that outlive the terminal and the app.

A job (engine.jobs.spec.JobSpec: models × tasks, as `smollm-tui eval` takes them) is queued
in the results store (engine.jobs.store); a detached runner (engine.jobs.runner, started by
engine.jobs.process) works through the queue one job at a time. Clients (the `jobs`
command, the app) only read and write rows: queue, watch, cancel, resume.
"""

from __future__ import annotations

from engine.jobs.spec import JobSpec, job_spec
from engine.jobs.store import Job, JobStore


def submit(spec: JobSpec) -> Job:
    """Queue a job and make sure a runner works on the queue; the queued job."""
    from engine.jobs.process import start_runner

    with JobStore() as store:
        job = store.queue(spec)
    start_runner()
    return job


def resume(job_id: int) -> Job:
    """Queue a failed or cancelled job again (it continues where it stopped)."""
    from engine.jobs.process import start_runner

    with JobStore() as store:
        job = store.resume(job_id)
    start_runner()
    return job


def ensure_runner(store: JobStore) -> bool:
    """Start a runner when jobs wait and none runs (it crashed between two jobs, or the
    machine restarted); True when one was started."""
    from engine.jobs.process import start_runner

    return store.has_queued() and start_runner()


__all__ = ["Job", "JobSpec", "JobStore", "ensure_runner", "job_spec", "resume", "submit"]
