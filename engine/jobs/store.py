"""The jobs table of the results store: queue, claim, progress, cancel, resume.

A small class over the same SQLite file as engine.results.store (opened through
ResultsStore, so the schema is migrated the same way). Every client (the `jobs` command,
each app instance) and the runner read and write the same rows; writes that depend on a
job's state say so in their WHERE clause, so two readers marking the same dead runner, or
a cancel racing the job's end, cannot step on each other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engine.errors import UsageError
from engine.jobs import process
from engine.jobs.spec import DamagedSpec, JobSpec
from engine.results.store import ResultsStore, inserted_id

State = Literal["queued", "running", "done", "failed", "cancelled"]
STATES: tuple[State, ...] = ("queued", "running", "done", "failed", "cancelled")
FINAL_STATES: tuple[State, ...] = ("done", "failed", "cancelled")
# A runner that lives but has not beaten for this long is taken for hung (never less than a
# few heartbeats, so that a slow disk or a suspended machine is not mistaken for a crash).
STALE_MIN_S = 30.0


class UnknownJob(UsageError):
    pass


@dataclass(frozen=True)
class Job:
    """One row of the jobs table. ``runs``: what it stored, one dict per cell outcome
    (model, task, status, run_id, requests, cached)."""

    id: int
    spec_text: str
    state: State
    created: float
    cancel_requested: bool = False
    cells_done: int = 0
    cells_total: int = 0
    cells_at_start: int = 0
    current_model: str | None = None
    current_task: str | None = None
    requests_done: int | None = None
    requests_total: int | None = None
    task_eta_s: float | None = None
    heartbeat: float | None = None
    pid: int | None = None
    pid_started: float | None = None
    log_path: str | None = None
    runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    started: float | None = None
    ended: float | None = None

    @property
    def spec(self) -> JobSpec:
        return JobSpec.from_json(self.spec_text)

    @property
    def run_ids(self) -> list[int]:
        return [r["run_id"] for r in self.runs if isinstance(r.get("run_id"), int)]

    def count(self, status: str) -> int:
        """Cell outcomes of the last attempt at each cell with this status."""
        last: dict[tuple[str, str], str] = {}
        for run in self.runs:
            last[(str(run.get("model")), str(run.get("task")))] = str(run.get("status"))
        return sum(1 for s in last.values() if s == status)


def _job(row: Any) -> Job:
    data = {k: row[k] for k in row.keys()}
    data["spec_text"] = data.pop("spec")
    data["cancel_requested"] = bool(data["cancel_requested"])
    try:
        runs = json.loads(data["runs"] or "[]")
    except ValueError:
        runs = []
    data["runs"] = [r for r in runs if isinstance(r, dict)] if isinstance(runs, list) else []
    if data["state"] not in STATES:
        data["state"] = "failed"
        data["error"] = data["error"] or "the job's state in the store is damaged"
    return Job(**data)


class JobStore:
    """Open the results store (creating or migrating it) for its jobs table."""

    def __init__(self, path: Path | str | None = None):
        self._results = ResultsStore(path)
        self.path = self._results.path
        self.db = self._results.db

    def close(self) -> None:
        self._results.close()

    def __enter__(self) -> JobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading --------------------------------------------------------------------

    def get(self, job_id: int, *, check: bool = True) -> Job:
        """The job, after marking it failed if its runner is gone (``check``)."""
        row = self.db.execute("SELECT * FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise UnknownJob(f"there is no job {job_id}: `smollm-tui jobs` lists them")
        job = _job(row)
        if check and self.check_runner(job):
            return self.get(job_id, check=False)
        return job

    def list(self, *, check: bool = True) -> list[Job]:
        """Every job, oldest first, after marking those whose runner is gone (``check``)."""
        jobs = [_job(r) for r in self.db.execute("SELECT * FROM jobs ORDER BY id")]
        if check and any([self.check_runner(j) for j in jobs]):
            return self.list(check=False)
        return jobs

    def has_queued(self) -> bool:
        return (
            self.db.execute("SELECT 1 FROM jobs WHERE state='queued' LIMIT 1").fetchone()
            is not None
        )

    def check_runner(self, job: Job) -> bool:
        """Mark a running job failed when its runner is dead (its pid gone, a zombie, or
        another process now) or silent for too long; True when it was marked."""
        if job.state != "running":
            return False
        if not process.is_alive(job.pid, job.pid_started):
            why = (
                f"the runner (pid {job.pid}) stopped without finishing the job: killed, "
                "crashed or the machine restarted"
            )
        elif job.heartbeat is not None and time.time() - job.heartbeat > max(
            3 * process.heartbeat_s(), STALE_MIN_S
        ):
            why = f"the runner (pid {job.pid}) stopped answering"
        else:
            return False
        why += f"; `smollm-tui jobs resume {job.id}` continues it"
        with self.db:
            cursor = self.db.execute(
                "UPDATE jobs SET state='failed', error=?, ended=? WHERE id=? AND "
                "state='running' AND pid IS ? AND pid_started IS ?",
                (why, time.time(), job.id, job.pid, job.pid_started),
            )
        return cursor.rowcount > 0

    # ---- clients ----------------------------------------------------------------------

    def queue(self, spec: JobSpec) -> Job:
        """Add a job at the end of the queue (its log file is created, private)."""
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO jobs (spec, state, cells_total, created) VALUES (?, 'queued', ?, ?)",
                (spec.to_json(), spec.cells, time.time()),
            )
            job_id = inserted_id(cursor)
            log = process.private_file(process.job_log_path(job_id))
            self.db.execute("UPDATE jobs SET log_path=? WHERE id=?", (str(log), job_id))
        return self.get(job_id)

    def cancel(self, job_id: int) -> Job:
        """Cancel a queued job at once, or ask the runner to stop a running one (it stops
        within seconds, between two chunks of requests)."""
        job = self.get(job_id)
        if job.state in FINAL_STATES:
            raise UsageError(f"job {job_id} is already {job.state}: nothing to cancel")
        with self.db:
            self.db.execute(
                "UPDATE jobs SET state='cancelled', ended=? WHERE id=? AND state='queued'",
                (time.time(), job_id),
            )
            self.db.execute(
                "UPDATE jobs SET cancel_requested=1 WHERE id=? AND state='running'", (job_id,)
            )
        return self.get(job_id)

    def resume(self, job_id: int) -> Job:
        """Put a failed or cancelled job back in the queue: it continues where it stopped."""
        job = self.get(job_id)
        if job.state not in ("failed", "cancelled"):
            hint = {
                "done": "it finished",
                "queued": "it is waiting for its turn",
                "running": "it is running",
            }[job.state]
            raise UsageError(
                f"job {job_id} cannot be resumed: {hint} (only failed or cancelled jobs resume)"
            )
        try:
            job.spec  # noqa: B018 - a damaged spec cannot run again
        except DamagedSpec as exc:
            raise UsageError(f"job {job_id} cannot be resumed: {exc}") from None
        with self.db:
            self.db.execute(
                "UPDATE jobs SET state='queued', cancel_requested=0, error=NULL, ended=NULL, "
                "pid=NULL, pid_started=NULL, heartbeat=NULL WHERE id=? AND state=?",
                (job_id, job.state),
            )
        return self.get(job_id)

    # ---- the runner ---------------------------------------------------------------------

    def fail_queued(self, error: str) -> tuple[int, ...]:
        """End every queued job as failed with ``error`` (a runner that cannot start: no
        job would ever run, and `jobs wait` would wait for ever); their ids."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            ids = tuple(r[0] for r in self.db.execute("SELECT id FROM jobs WHERE state='queued'"))
            self.db.execute(
                "UPDATE jobs SET state='failed', error=?, ended=? WHERE state='queued'",
                (error, time.time()),
            )
        return ids

    def claim_next(self, pid: int, pid_started: float) -> Job | None:
        """Take the oldest queued job for this runner (state running), or None."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            row = self.db.execute(
                "SELECT * FROM jobs WHERE state='queued' ORDER BY id LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            job = _job(row)
            now = time.time()
            self.db.execute(
                "UPDATE jobs SET state='running', pid=?, pid_started=?, heartbeat=?, "
                "started=?, cells_at_start=cells_done, current_model=NULL, "
                "current_task=NULL, requests_done=NULL, requests_total=NULL, "
                "task_eta_s=NULL WHERE id=?",
                (pid, pid_started, now, now, job.id),
            )
        return self.get(job.id, check=False)

    def beat(self, job_id: int, pid: int, progress: dict[str, Any]) -> str:
        """Write the heartbeat and progress; "ok", "cancel" (asked to stop) or "lost" (the
        job is no longer this runner's: a reader declared it dead)."""
        columns = (
            "cells_done",
            "current_model",
            "current_task",
            "requests_done",
            "requests_total",
            "task_eta_s",
        )
        values = [progress.get(c) for c in columns]
        with self.db:
            cursor = self.db.execute(
                f"UPDATE jobs SET heartbeat=?, {', '.join(f'{c}=?' for c in columns)} "
                "WHERE id=? AND state='running' AND pid=?",
                (time.time(), *values, job_id, pid),
            )
            if cursor.rowcount == 0:
                return "lost"
            row = self.db.execute(
                "SELECT cancel_requested FROM jobs WHERE id=?", (job_id,)
            ).fetchone()
        return "cancel" if row and row[0] else "ok"

    def set_runs(self, job_id: int, runs: Iterable[dict[str, Any]]) -> None:
        with self.db:
            self.db.execute(
                "UPDATE jobs SET runs=? WHERE id=?",
                (json.dumps(list(runs), sort_keys=True), job_id),
            )

    def finish(
        self,
        job_id: int,
        pid: int,
        state: State,
        error: str | None = None,
        cells_done: int | None = None,
    ) -> bool:
        """End this runner's job; False when it was no longer this runner's."""
        with self.db:
            cursor = self.db.execute(
                "UPDATE jobs SET state=?, error=?, ended=?, heartbeat=?, "
                "cells_done=COALESCE(?, cells_done), current_task=NULL, task_eta_s=NULL "
                "WHERE id=? AND state='running' AND pid=?",
                (state, error, time.time(), time.time(), cells_done, job_id, pid),
            )
        return cursor.rowcount > 0
