"""The jobs table and its rules, on a real SQLite file, with real processes for liveness."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest
from jobs_fixtures import wait_for

from engine.errors import UsageError
from engine.jobs import JobSpec, JobStore
from engine.jobs.process import RunnerLock, is_alive, own_start_time, runner_running
from engine.jobs.progress import duration, eta_s, fraction, now_text
from engine.jobs.spec import DamagedSpec
from engine.results.store import SCHEMA_VERSION

SPEC = JobSpec(
    models=("tiny-llama", "tiny-t5"),
    tasks=("fx_yesno", "fx_choice2"),
    limit=3,
    precision="fp32",
    device="cpu",
)


def queued(store: JobStore, spec: JobSpec = SPEC):
    return store.queue(spec)


def test_a_queued_job_is_seen_by_a_second_reader_with_a_private_log():
    with JobStore() as one, JobStore() as two:
        job = queued(one)
        seen = two.get(job.id)
    assert (seen.state, seen.cells_total, seen.spec) == ("queued", 4, SPEC)
    assert os.stat(seen.log_path).st_mode & 0o777 == 0o600
    with JobStore() as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_claim_takes_the_oldest_queued_job_once():
    with JobStore() as store:
        first, second = queued(store), queued(store)
        me, started = os.getpid(), own_start_time()
        assert store.claim_next(me, started).id == first.id
        assert store.claim_next(me, started).id == second.id
        assert store.claim_next(me, started) is None
        assert [j.state for j in store.list()] == ["running", "running"]


def test_a_running_job_whose_runner_is_dead_is_marked_failed_by_the_first_reader():
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(done.stdout)
    with JobStore() as one, JobStore() as two:
        job = queued(one)
        one.claim_next(dead_pid, time.time())
        failed = two.get(job.id)  # the second reader looks first
        again = one.get(job.id)
    assert failed.state == "failed" and again.state == "failed"
    assert f"the runner (pid {dead_pid}) stopped" in failed.error
    assert f"jobs resume {job.id}" in failed.error


def test_a_reused_pid_is_not_the_runner():
    with JobStore() as store:
        job = queued(store)
        # this very process, but "started" an hour earlier: another process had the pid
        store.claim_next(os.getpid(), own_start_time() - 3600)
        assert store.get(job.id).state == "failed"


def test_a_zombie_is_not_a_runner():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = own_start_time_of(child.pid)
    wait_for(lambda: _is_zombie(child.pid), "the child to exit")
    try:
        assert not is_alive(child.pid, started)
    finally:
        child.wait()


def own_start_time_of(pid: int) -> float:
    import psutil

    return psutil.Process(pid).create_time()


def _is_zombie(pid: int) -> bool:
    import psutil

    return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_a_live_runner_keeps_its_job_and_hears_a_cancel():
    with JobStore() as store:
        job = queued(store)
        store.claim_next(os.getpid(), own_start_time())
        assert store.beat(job.id, os.getpid(), {"cells_done": 1}) == "ok"
        assert store.get(job.id).state == "running"
        assert store.cancel(job.id).cancel_requested
        assert store.beat(job.id, os.getpid(), {"cells_done": 1}) == "cancel"
        assert store.beat(job.id, os.getpid() + 1, {}) == "lost"  # not that runner's job


def test_a_silent_runner_is_declared_dead_and_then_loses_its_job(monkeypatch):
    monkeypatch.setattr("engine.jobs.store.STALE_MIN_S", 0.0)
    monkeypatch.setenv("SMOLLM_TUI_JOB_HEARTBEAT_S", "0.05")
    with JobStore() as store:
        job = queued(store)
        store.claim_next(os.getpid(), own_start_time())
        store.db.execute("UPDATE jobs SET heartbeat=? WHERE id=?", (time.time() - 5, job.id))
        store.db.commit()
        marked = store.get(job.id)
        assert marked.state == "failed" and "stopped answering" in marked.error
        assert store.beat(job.id, os.getpid(), {}) == "lost"
        assert not store.finish(job.id, os.getpid(), "done")  # its end is not written


def test_cancel_and_resume_rules_each_say_one_line():
    with JobStore() as store:
        job = queued(store)
        assert store.cancel(job.id).state == "cancelled"  # not started: at once
        with pytest.raises(UsageError, match=f"job {job.id} is already cancelled"):
            store.cancel(job.id)
        assert store.resume(job.id).state == "queued"
        with pytest.raises(UsageError, match="it is waiting for its turn"):
            store.resume(job.id)
        store.claim_next(os.getpid(), own_start_time())
        with pytest.raises(UsageError, match="it is running"):
            store.resume(job.id)
        store.finish(job.id, os.getpid(), "done")
        with pytest.raises(UsageError, match="it finished"):
            store.resume(job.id)
        with pytest.raises(UsageError, match="there is no job 999"):
            store.get(999)


def test_a_damaged_spec_or_state_is_reported_not_raised():
    with JobStore() as store:
        job = queued(store)
        store.db.execute(
            "UPDATE jobs SET spec='{\"models\": 3}', runs='not json' WHERE id=?", (job.id,)
        )
        other = queued(store)
        store.db.execute("UPDATE jobs SET state='exploded' WHERE id=?", (other.id,))
        store.db.commit()
        broken = store.get(job.id)
        with pytest.raises(DamagedSpec, match="no valid models"):
            broken.spec  # noqa: B018
        assert broken.runs == []
        assert store.get(other.id).state == "failed"
        store.db.execute("UPDATE jobs SET state='failed' WHERE id=?", (job.id,))
        store.db.commit()
        with pytest.raises(UsageError, match="cannot be resumed: the job's spec has no valid"):
            store.resume(job.id)


@pytest.mark.parametrize(
    "bad",
    [{"limit": 0}, {"precision": "fp8"}, {"force": "yes"}, {"tasks": []}, {"batch_size": True}],
)
def test_spec_from_json_refuses_wrong_values(bad):
    data = json.loads(SPEC.to_json())
    data.update(bad)
    with pytest.raises(DamagedSpec):
        JobSpec.from_json(json.dumps(data))


def test_spec_round_trips():
    assert JobSpec.from_json(SPEC.to_json()) == SPEC


def test_progress_fraction_eta_and_now():
    with JobStore() as store:
        job = queued(store)
        store.claim_next(os.getpid(), own_start_time())
        store.db.execute(
            "UPDATE jobs SET started=?, cells_done=1, current_model='tiny-llama', "
            "current_task='fx_choice2', requests_done=25, requests_total=100, "
            "task_eta_s=30 WHERE id=?",
            (1000.0, job.id),
        )
        store.db.commit()
        running = store.get(job.id)
    assert fraction(running) == pytest.approx((1 + 0.25) / 4)
    # one cell took 100 s: the running task's 30 s, then two more cells at 100 s each
    assert eta_s(running, now=1100.0) == pytest.approx(30 + 2 * 100)
    assert now_text(running) == "tiny-llama · fx_choice2 25/100"
    assert (duration(42), duration(600), duration(4 * 3600 + 300)) == (
        "42 s",
        "10 min",
        "4 h 05 min",
    )


def test_one_runner_per_data_dir(cli_env):
    """A runner started while another holds the lock leaves at once and runs nothing."""
    with JobStore() as store:
        job = queued(store)
    lock = RunnerLock()
    assert lock.acquire()
    try:
        assert runner_running()
        second = subprocess.run(
            [sys.executable, "-m", "engine.jobs.runner"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 0, second.stderr
        with JobStore() as store:
            assert store.get(job.id).state == "queued"
    finally:
        lock.release()
    assert not runner_running()


def test_disk_full_while_storing_fails_the_job_with_one_message_and_keeps_the_store(
    tiny_catalog, monkeypatch
):
    """The disk cannot be filled here: the store's write raises ENOSPC as a full disk would
    (after the job's first row), in an in-process attempt of the job."""
    from fixtures.tasks.helpers import TASKS_DIR

    from engine.evaluation.in_process import InProcessSession
    from engine.jobs.runner import JobRun
    from engine.results.store import ResultsStore

    spec = JobSpec(
        models=("tiny-llama",),
        tasks=("fx_yesno", "fx_choice2"),
        limit=2,
        precision="fp32",
        device="cpu",
        include_path=str(TASKS_DIR),
        catalog_path=str(tiny_catalog),
    )
    with JobStore() as store:
        job = store.queue(spec)
        job = store.claim_next(os.getpid(), own_start_time())
    real_add = ResultsStore.add_eval
    calls = []

    def add_eval(self, run):
        calls.append(run.task)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_add(self, run)

    monkeypatch.setattr(ResultsStore, "add_eval", add_eval)
    state = JobRun(job, os.getpid(), session_factory=InProcessSession).run()
    assert state == "failed"
    with JobStore() as store:
        failed = store.get(job.id)
        rows = ResultsStore(store.path).eval_runs()
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert failed.state == "failed"
    assert "No space left on device" in failed.error and "Is the disk full?" in failed.error
    assert [r.task for r in rows] == ["fx_yesno"]  # the first row is kept, whole
    assert [r["task"] for r in failed.runs] == ["fx_yesno"]


def test_a_sqlite_full_error_reads_as_a_full_disk():
    from pathlib import Path

    from engine.jobs.runner import write_failure

    text = write_failure(sqlite3.OperationalError("database or disk is full"), Path("x.db"))
    assert "database or disk is full" in text and "Is the disk full?" in text


def test_sigterm_stops_the_job_as_failed_so_that_it_can_resume(tiny_catalog, monkeypatch):
    from fixtures.tasks.helpers import TASKS_DIR

    from engine.evaluation.in_process import InProcessSession
    from engine.jobs.runner import JobRun, _Signals

    monkeypatch.setenv("SMOLLM_TUI_JOB_HEARTBEAT_S", "0.05")
    spec = JobSpec(
        models=("tiny-llama",),
        tasks=("fx_yesno",),
        limit=2,
        precision="fp32",
        device="cpu",
        include_path=str(TASKS_DIR),
        catalog_path=str(tiny_catalog),
    )
    with JobStore() as store:
        store.queue(spec)
        job = store.claim_next(os.getpid(), own_start_time())
    signals = _Signals()
    signals.on_term(15, None)  # as the signal handler would
    assert JobRun(job, os.getpid(), signals, session_factory=InProcessSession).run() == "failed"
    with JobStore() as store:
        stopped = store.get(job.id)
        assert stopped.state == "failed" and "SIGTERM" in stopped.error
        assert store.resume(job.id).state == "queued"


def test_a_job_whose_cells_are_all_measured_skips_them_and_counts_them_done(tiny_catalog, capsys):
    """The same job twice: the second finds its cell in the store, runs nothing, and is
    done at 1/1 cells (its log says what it skipped)."""
    from fixtures.tasks.helpers import TASKS_DIR

    from engine.evaluation.in_process import InProcessSession
    from engine.jobs.runner import JobRun
    from engine.results.store import ResultsStore

    spec = JobSpec(
        models=("tiny-llama",),
        tasks=("fx_yesno",),
        limit=2,
        precision="fp32",
        device="cpu",
        include_path=str(TASKS_DIR),
        catalog_path=str(tiny_catalog),
    )
    for _ in range(2):
        with JobStore() as store:
            store.queue(spec)
            job = store.claim_next(os.getpid(), own_start_time())
        assert JobRun(job, os.getpid(), session_factory=InProcessSession).run() == "done"
    with JobStore() as store:
        second = store.get(job.id)
        rows = ResultsStore(store.path).eval_runs()
    assert len(rows) == 1  # measured once
    assert (second.cells_done, second.cells_total) == (1, 1)
    assert "tiny-llama: already measured, skipped: fx_yesno" in capsys.readouterr().out
