"""Fixed jobs for the Jobs screen's Pilot and snapshot tests, in this test's real store.

The running job's runner is this test process (its pid and start time), so every reader
sees a live runner; its heartbeat is set ahead so that a slow machine never finds it
silent. No real runner is started: the tests hold the runner lock (held_runner_lock), as a
running runner would, so neither queueing nor the app's watch starts one.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

from engine.jobs import JobSpec, JobStore
from engine.jobs.process import RunnerLock, own_start_time

FIXED_TIME = 1_763_900_000.0  # 2025-11-23 12:13:20 UTC


@contextlib.contextmanager
def held_runner_lock() -> Iterator[None]:
    lock = RunnerLock()
    assert lock.acquire(), "a runner of this test's data dir is running"
    try:
        yield
    finally:
        lock.release()


def fill_jobs() -> dict[str, int]:
    """Five jobs, one in each state; their ids by state."""
    specs = {
        "done": JobSpec(models=("pythia-160m", "opt-125m"), tasks=("arc_easy", "piqa")),
        "failed": JobSpec(models=("tinyllama-1.1b",), tasks=("hellaswag",), limit=None),
        "cancelled": JobSpec(models=("opt-125m",), tasks=("boolq",)),
        "running": JobSpec(
            models=("qwen2.5-0.5b", "pythia-160m"),
            tasks=("arc_easy", "piqa"),
            limit=None,
            precision="fp16",
            device="cuda",
        ),
        "queued": JobSpec(models=("smollm2-135m-instruct",), tasks=("winogrande",)),
    }
    ids: dict[str, int] = {}
    with JobStore() as store:
        for n, (state, spec) in enumerate(specs.items()):
            job = store.queue(spec)
            ids[state] = job.id
            created = FIXED_TIME + n * 600
            store.db.execute("UPDATE jobs SET created=? WHERE id=?", (created, job.id))
            store.db.commit()
            if state == "queued":
                continue
            store.claim_next(os.getpid(), own_start_time())
            store.db.execute("UPDATE jobs SET started=? WHERE id=?", (created + 5, job.id))
            store.db.commit()
        db = store.db
        runs = (
            '[{"model": "pythia-160m", "task": "arc_easy", "status": "ok", "run_id": 1}, '
            '{"model": "pythia-160m", "task": "piqa", "status": "ok", "run_id": 2}, '
            '{"model": "opt-125m", "task": "arc_easy", "status": "ok", "run_id": 3}, '
            '{"model": "opt-125m", "task": "piqa", "status": "oom", "run_id": 4}]'
        )
        db.execute(
            "UPDATE jobs SET state='done', cells_done=4, runs=?, ended=? WHERE id=?",
            (runs, FIXED_TIME + 900, ids["done"]),
        )
        db.execute(
            "UPDATE jobs SET state='failed', ended=?, error=? WHERE id=?",
            (
                FIXED_TIME + 1500,
                "the runner (pid 4242) stopped without finishing the "
                "job: killed, crashed or the machine restarted; `smollm-tui jobs resume "
                f"{ids['failed']}` continues it",
                ids["failed"],
            ),
        )
        db.execute(
            "UPDATE jobs SET state='cancelled', ended=?, runs=? WHERE id=?",
            (
                FIXED_TIME + 1900,
                '[{"model": "opt-125m", "task": "boolq", "status": "cancelled", "run_id": 5}]',
                ids["cancelled"],
            ),
        )
        # the first of four cells: 412 of 2376 requests in, 300 s to go for this task
        db.execute(
            "UPDATE jobs SET cells_done=0, cells_at_start=0, "
            "current_model='qwen2.5-0.5b', current_task='arc_easy', "
            "requests_done=412, requests_total=2376, task_eta_s=300, heartbeat=? "
            "WHERE id=?",
            (time.time() + 3600, ids["running"]),
        )
        db.commit()
    return ids
