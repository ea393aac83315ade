"""`python -m engine.jobs.runner`: works through this data dir's job queue, one job at a time.

Started detached by engine.jobs.process.start_runner (``--detach`` forks once more, so the
runner is nobody's child). It holds the runner lock, takes the oldest queued job, runs it
through the same batch code as `smollm-tui eval` (engine.evaluation.batch.run_batch: a fresh
worker process per model, every task stored as it finishes; then, for a job that asks for
it, the decode test of `smollm-tui bench` in a fresh worker), writes a heartbeat and the
progress every few seconds, and exits when the queue is empty. SIGHUP and SIGINT are
ignored (it has no terminal); SIGTERM stops the job in progress (failed: it can resume).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import threading
import time
import traceback
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from engine.jobs import process
from engine.jobs.spec import BENCH
from engine.jobs.store import Job, JobStore, State
from engine.records import precision_label


class _Signals:
    """SIGTERM received: the runner finishes what it must write and leaves the queue."""

    def __init__(self) -> None:
        self.terminated = False

    def on_term(self, signum: int, frame: Any) -> None:
        self.terminated = True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--detach" in args and os.fork() > 0:
        os._exit(0)  # the launcher waits for this one; the runner goes on in the child
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signals = _Signals()
    signal.signal(signal.SIGTERM, signals.on_term)
    lock = process.RunnerLock()
    try:
        if not lock.acquire(wait_s=process.LOCK_RETRY_S):
            return 0  # another runner works through the queue
    except OSError as exc:  # its lock cannot be made: no runner can start until it is fixed
        return _cannot_start(
            f"the job runner could not start: its lock {process.lock_path()} cannot be "
            f"opened ({exc.strerror or exc}); fix or remove it, then `smollm-tui jobs "
            "resume ID`"
        )
    pid, started = os.getpid(), process.own_start_time()
    try:
        while not signals.terminated:
            with JobStore() as store:
                job = store.claim_next(pid, started)
            if job is None:
                # Let go first, then look again: a job queued in between either is seen
                # here or found the lock free and started a runner of its own.
                lock.release()
                with JobStore() as store:
                    if not store.has_queued() or not lock.acquire():
                        return 0
                continue
            _redirect_output(job.log_path)
            JobRun(job, pid, signals).run()
    finally:
        lock.release()
    return 0


def _cannot_start(error: str) -> int:
    """Fail the queued jobs with ``error`` (they would wait for ever); the exit status."""
    _say(error)
    try:
        with JobStore() as store:
            for job_id in store.fail_queued(error):
                _say(f"job {job_id}: failed: {error}")
    except Exception as exc:  # a damaged or read-only store: nowhere to say it but this log
        _say(f"could not mark the queued jobs failed: {exc}")
    return 1


def _say(text: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def _redirect_output(path: str | None) -> None:
    """This job's output (and its workers') goes to its own log file."""
    if not path:
        return
    log = process.private_file(Path(path))
    sys.stdout.flush()
    sys.stderr.flush()
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def write_failure(exc: BaseException, path: Path) -> str:
    """One line for a job that could not go on; a full disk says so."""
    if isinstance(exc, (OSError, sqlite3.OperationalError, sqlite3.DatabaseError)):
        return (
            f"could not write to the results store {path}: {exc}. Is the disk full? "
            "Free some space, then resume the job"
        )
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class JobRun:
    """One attempt at one job, in this process."""

    def __init__(
        self, job: Job, pid: int, signals: _Signals | None = None, session_factory: Any = None
    ):
        self.job = job
        self.pid = pid
        self.signals = signals or _Signals()
        self.session_factory = session_factory
        self.cancel = threading.Event()
        self.lost = False
        self._lock = threading.Lock()
        self._stop_beat = threading.Event()
        self.runs = list(job.runs)
        # cells finished in an earlier attempt count as done (they are not run again)
        self.cells = {(r.get("model"), r.get("task")) for r in job.runs if r.get("status") == "ok"}
        self.progress: dict[str, Any] = {"cells_done": len(self.cells)}
        self._said_loaded: Any = None

    # ---- the attempt -------------------------------------------------------------------

    def run(self) -> str:
        """Run the job to its end; the state it ended in."""
        _say(f"job {self.job.id}: started by runner pid {self.pid}")
        beat = threading.Thread(target=self._beat_loop, name="smollm-job-heartbeat", daemon=True)
        beat.start()
        error: str | None = None
        state: State
        with JobStore() as store:
            try:
                state = self._work(store)
            except Exception as exc:  # every failure ends the job with one message
                traceback.print_exc()
                state, error = "failed", write_failure(exc, store.path)
            finally:
                self._stop_beat.set()
                beat.join()
            if self.signals.terminated and state != "done":
                state, error = "failed", "the runner was stopped (SIGTERM); resume continues it"
            elif state == "cancelled" and self.lost:
                error = "the job was declared dead while it ran"
            _say(f"job {self.job.id}: {state}" + (f": {error}" if error else ""))
            if not self.lost:
                try:
                    store.finish(self.job.id, self.pid, state, error, len(self.cells))
                except (OSError, sqlite3.Error) as exc:  # a full disk: readers see us gone
                    _say(f"job {self.job.id}: could not record the end: {exc}")
        if state == "done":
            import shutil

            shutil.rmtree(process.request_cache_dir(self.job.id), ignore_errors=True)
        return state

    def _work(self, store: JobStore) -> State:
        from engine.catalog.entries import load_catalog
        from engine.evaluation.batch import run_batch
        from engine.models.consent import resolve_trust
        from engine.results.store import ResultsStore
        from engine.settings import LoadOptions

        spec = self.job.spec
        catalog = load_catalog(Path(spec.catalog_path) if spec.catalog_path else None)
        eval_spec = spec.eval_spec(str(process.request_cache_dir(self.job.id)))

        def options(model_id: str, runtime: str, precision: str) -> LoadOptions:
            trust = resolve_trust(catalog.get(model_id), False)  # consent given on queueing
            return LoadOptions(
                model_id=model_id,
                precision=precision,
                device=spec.device,
                trust_remote_code=trust,
                catalog_path=spec.catalog_path,
                runtime=runtime,
            ).validate()

        factory = self.session_factory or self._worker_factory(spec.catalog_path)
        telemetry = _sampler()
        try:
            with ResultsStore(store.path) as results:
                for step in spec.steps():
                    if self.cancel.is_set():
                        break
                    model, runtime, precision = step
                    name = spec.step_name(step)
                    # a forced job must still not redo what an earlier attempt finished
                    tasks = tuple(t for t in spec.tasks if (name, t) not in self.cells)
                    if tasks:
                        run_batch(
                            [model],
                            replace(eval_spec, tasks=tasks),
                            store=results,
                            session_factory=factory,
                            load_options=partial(options, runtime=runtime, precision=precision),
                            force=spec.force,
                            on_event=partial(self._step_event, store, name),
                            cancel=self.cancel,
                            telemetry=telemetry,
                        )
                    if spec.bench and (name, BENCH) not in self.cells and not self.cancel.is_set():
                        self._bench(store, results, factory, name, options(*step))
        finally:
            if telemetry is not None:
                telemetry.stop()
        return "cancelled" if self.cancel.is_set() else "done"

    def _bench(self, store: JobStore, results: Any, factory: Any, name: str, options: Any) -> None:
        """The decode test of `smollm-tui bench` in a fresh worker, stored as a speed row."""
        from engine.evaluation.decode_bench import RUNS, measure, speed_run

        with self._lock:
            self.progress.update(current_model=name, current_task=BENCH, requests_done=None)
        client = factory()
        try:
            result = measure(client, options, stop=self.cancel, note=lambda t: _say(f"{name}: {t}"))
        finally:
            client.close()
        status = "cancelled" if result.cancelled else ("ok" if result.ok else "failed")
        entry: dict[str, Any] = {"model": name, "task": BENCH, "status": status}
        if result.ok:
            entry["run_id"] = results.add_speed(speed_run(result, RUNS))
            _say(f"{name} {BENCH}: {result.tokens_per_s:.1f} tok/s")
        else:
            _say(f"{name} {BENCH}: {status}" + (f": {result.error}" if result.error else ""))
        with self._lock:
            self.runs.append(entry)
            if status != "cancelled":
                self.cells.add((name, BENCH))
            self.progress["cells_done"] = len(self.cells)
            runs = list(self.runs)
        store.set_runs(self.job.id, runs)

    def _worker_factory(self, catalog_path: str | None) -> Any:
        from engine.worker.client import WorkerClient

        return lambda: WorkerClient(catalog_path=catalog_path, log_path=self.job.log_path)

    # ---- what the batch reports ----------------------------------------------------------

    def _step_event(self, store: JobStore, name: str, model_id: str, event: Any) -> None:
        """An event of a step's batch, under the step's name (its model, or for a
        configurations job the model with its runtime and precision)."""
        self._on_event(store, name, event)

    def _on_event(self, store: JobStore, model_id: str, event: Any) -> None:
        from engine.evaluation.batch import LoadFailed, Skipped, Stored
        from engine.events import EvalProgress, Loaded
        from engine.events import Progress as LoadProgress

        with self._lock:
            progress = self.progress
            if isinstance(event, LoadProgress):
                progress.update(
                    current_model=model_id,
                    current_task=None,
                    requests_done=None,
                    requests_total=None,
                    task_eta_s=None,
                )
            elif isinstance(event, Loaded) and event.info is not self._said_loaded:
                # the batch repeats the worker's Loaded once it has the model: say it once
                self._said_loaded = info = event.info
                progress["current_model"] = model_id
                precision = precision_label(info.dtype, info.quantization, short=False)
                _say(
                    f"{model_id}: loaded on {info.device_name or info.device} "
                    f"({precision}) in {info.load_seconds:.1f} s"
                )
            elif isinstance(event, EvalProgress):
                progress.update(
                    current_model=model_id,
                    current_task=event.task,
                    requests_done=event.done,
                    requests_total=event.total,
                    task_eta_s=event.eta_s,
                )
            elif isinstance(event, Skipped):
                self.cells.update((model_id, t) for t in event.tasks)
                _say(f"{model_id}: already measured, skipped: {', '.join(event.tasks)}")
            elif isinstance(event, LoadFailed):
                _say(f"{model_id}: {event.message}")
            progress["cells_done"] = len(self.cells)
            if not isinstance(event, Stored):
                return
            result = event.result
            self.runs.append(
                {
                    "model": model_id,
                    "task": result.task,
                    "status": result.status,
                    "run_id": event.run.id,
                    "requests": result.requests,
                    "cached": result.cached_requests,
                }
            )
            if result.status != "cancelled":
                self.cells.add((model_id, result.task))
            progress["cells_done"] = len(self.cells)
            runs = list(self.runs)
        store.set_runs(self.job.id, runs)
        _say(_result_text(model_id, result))

    # ---- heartbeat -----------------------------------------------------------------------

    def _beat_loop(self) -> None:
        try:
            store = JobStore()
        except Exception as exc:  # the job goes on; readers will see it
            _say(f"job {self.job.id}: no heartbeat: {exc}")
            return
        with store:
            while not self._stop_beat.wait(process.heartbeat_s()):
                if self.signals.terminated:
                    self.cancel.set()
                with self._lock:
                    snapshot = dict(self.progress)
                try:
                    answer = store.beat(self.job.id, self.pid, snapshot)
                except (OSError, sqlite3.Error) as exc:
                    _say(f"job {self.job.id}: heartbeat not written: {exc}")
                    continue
                if answer == "lost":
                    self.lost = True
                if answer in ("cancel", "lost") and not self.cancel.is_set():
                    _say(f"job {self.job.id}: cancelling (the running task stops within seconds)")
                    self.cancel.set()


def _sampler() -> Any:
    """Board memory and GPU load beside the run, for each stored row (as `eval` does)."""
    try:
        from engine.telemetry.sampler import Sampler

        return Sampler(interval=0.5).start()
    except Exception:  # telemetry is a nicety, never a reason to fail
        return None


def _result_text(model_id: str, result: Any) -> str:
    from engine.results.metric_kinds import kind_of_result
    from engine.task_registry import primary_metric

    text = f"{model_id} {result.task}: {result.status}"
    if result.status != "ok":
        return text + (f": {result.error.splitlines()[0][:300]}" if result.error else "")
    metric = primary_metric(result.task)
    if metric not in result.metrics:
        metric = "acc" if "acc" in result.metrics else next(iter(result.metrics), "")
    value = result.metrics.get(metric)
    if isinstance(value, (int, float)):  # in its own unit: a perplexity is not a %
        text += f", {metric} {kind_of_result(metric, result.metric_kinds).shown(value):.2f}"
    text += f" ({result.samples} samples"
    if result.cached_requests:
        text += f"; {result.cached_requests} of {result.requests} requests from the cache"
    return text + ")"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
