"""A matrix run: models one by one (a fresh worker each), tasks in one go per model.

Shared by the `eval` command and the Evaluate screen. The transport is a *session*
with load(options), evaluate(spec), cancel() and close(): the worker client, or
InProcessSession for scripts. Every TaskDone is stored as it arrives, so an interrupted
night run resumes where it stopped (cells already measured with the same settings are
skipped unless forced). A model that fails to load, or a worker that dies, marks that
model's remaining cells and the batch moves on to the next model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from engine.errors import SmollmError
from engine.evaluation.tasks import default_fewshot
from engine.results.store import EvalRun, ResultsStore, eval_run_from_task, precision_label
from engine.settings import LoadOptions
from engine.telemetry.peak import finish_peak, start_peak
from engine.worker.protocol import (
    Cancelled,
    EvalDone,
    EvalSpec,
    Failed,
    Loaded,
    LoadInfo,
    TaskDone,
    TaskResult,
    WorkerDied,
)

EventFn = Callable[[str, Any], None]  # (model_id, event)


@dataclass
class BatchSummary:
    stored: list[tuple[str, TaskResult]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False

    def count(self, status: str) -> int:
        return sum(1 for _, r in self.stored if r.status == status)


@dataclass(frozen=True)
class Stored:
    """Told to run_batch's ``on_event`` for every row it stored (the task's result and row)."""

    result: TaskResult
    run: EvalRun


def _fewshot_for(task: str, spec: EvalSpec) -> int | None:
    return spec.num_fewshot if spec.num_fewshot is not None else default_fewshot(task)


def remaining_tasks(store: ResultsStore, model_id: str, precision: str, device: str,
                    spec: EvalSpec) -> tuple[str, ...]:
    """The tasks of ``spec`` not yet measured for this model with the same settings."""
    return tuple(t for t in spec.tasks if not store.has_result(
        model_id=model_id, task=t, precision=precision, device=device, limit=spec.limit,
        num_fewshot=_fewshot_for(t, spec)))


def load_info_from(result: Any, on_event: Callable[[Any], None]) -> LoadInfo:
    """The LoadInfo from whatever the session's load() gives: a LoadInfo, a Loaded event, or
    an iterable of events ending in Loaded / Failed / WorkerDied."""
    if isinstance(result, LoadInfo):
        return result
    if isinstance(result, Loaded):
        return result.info
    for event in result if isinstance(result, Iterable) else ():
        on_event(event)
        if isinstance(event, Loaded):
            return event.info
        if isinstance(event, (Failed, WorkerDied)):
            raise SmollmError(event.message)
    raise SmollmError("the worker ended the load without a result")


def _failure(task: str, spec: EvalSpec, status: str, message: str) -> TaskResult:
    now = time.time()
    return TaskResult(task=task, status=status, error=message, limit=spec.limit,
                      num_fewshot=spec.num_fewshot, started=now, ended=now)


def _died_status(message: str) -> str:
    text = message.lower()
    return "oom" if ("memory" in text or "sigkill" in text or "killed" in text) else "failed"


def run_batch(models: list[str], spec: EvalSpec, *, store: ResultsStore,
              session_factory: Callable[[], Any], load_options: Callable[[str], LoadOptions],
              force: bool = False, on_event: EventFn | None = None,
              cancel: threading.Event | None = None, telemetry: Any = None) -> BatchSummary:
    """Evaluate ``spec.tasks`` on each model in turn and store every outcome.

    ``telemetry`` (a Sampler or Reader, optional) gives each row its peak board memory and
    GPU load."""
    notify = on_event or (lambda model, event: None)
    cancel = cancel or threading.Event()
    summary = BatchSummary()
    for model_id in models:
        if cancel.is_set():
            summary.cancelled = True
            break
        options = load_options(model_id)
        todo = spec.tasks
        if not force and options.precision != "auto" and options.device != "auto":
            todo = remaining_tasks(store, model_id, options.precision, options.device, spec)
        skipped = [t for t in spec.tasks if t not in todo]
        summary.skipped += [(model_id, t) for t in skipped]
        if skipped:
            notify(model_id, ("skipped", tuple(skipped)))
        if not todo:
            continue
        _run_model(model_id, replace(spec, tasks=todo), store, session_factory(), options,
                   force, summary, notify, cancel, telemetry)
        if summary.cancelled:
            break
    return summary


def _run_model(model_id: str, spec: EvalSpec, store: ResultsStore, session: Any,
               options: LoadOptions, force: bool, summary: BatchSummary, notify: EventFn,
               cancel: threading.Event, telemetry: Any) -> None:
    info: LoadInfo | None = None

    def keep_failure(result: TaskResult) -> None:
        # no model loaded: keep the failure under the requested settings
        fake = LoadInfo(model_id=model_id, repo=None, revision=None, kind="causal",
                        params=0, size_mb=0.0, dtype=options.precision,
                        device=options.device, device_name="", quantization=None,
                        load_seconds=0.0, context_length=0, has_chat_template=False)
        _kept(result, store_task(store, result, fake, model_size_mb=None))

    def _kept(result: TaskResult, run: EvalRun) -> None:
        summary.stored.append((model_id, result))
        notify(model_id, Stored(result, run))

    try:
        try:
            info = load_info_from(session.load(options), lambda e: notify(model_id, e))
        except SmollmError as exc:
            notify(model_id, ("load-failed", str(exc)))
            for task in spec.tasks:
                keep_failure(_failure(task, spec, _died_status(str(exc)),
                              f"loading {model_id} failed: {exc}"))
            return
        notify(model_id, Loaded(0, info))
        todo = spec.tasks if force else remaining_tasks(
            store, model_id, precision_label(info.dtype, info.quantization), info.device, spec)
        if len(todo) < len(spec.tasks):
            skipped = [t for t in spec.tasks if t not in todo]
            summary.skipped += [(model_id, t) for t in skipped]
            notify(model_id, ("skipped", tuple(skipped)))
        if not todo:
            return
        todo_spec = replace(spec, tasks=todo)
        watcher = _CancelForwarder(cancel, session)
        try:
            final = stream_and_store(session.evaluate(todo_spec), todo_spec, info, store,
                                     on_result=_kept,
                                     on_event=lambda event: notify(model_id, event),
                                     telemetry=telemetry)
        finally:
            watcher.stop()
        summary.cancelled = summary.cancelled or isinstance(final, Cancelled)
        if cancel.is_set():
            summary.cancelled = True
    finally:
        session.close()


def store_task(store: ResultsStore, result: TaskResult, info: LoadInfo,
               **fields: Any) -> EvalRun:
    """Store one task's outcome on the model ``info`` describes; the stored row (with id).
    ``fields`` set further EvalRun fields (the board telemetry of the run)."""
    run = replace(eval_run_from_task(result, info), **fields)
    return replace(run, id=store.add_eval(run))


def stream_and_store(events: Iterable[Any], spec: EvalSpec, info: LoadInfo,
                     store: ResultsStore, *,
                     on_result: Callable[[TaskResult, EvalRun], None] | None = None,
                     on_event: Callable[[Any], None] | None = None,
                     telemetry: Any = None) -> Any:
    """Consume an evaluate() stream on a loaded model, storing every TaskDone as it arrives.

    Shared by the `eval` command and the Evaluate screen so both store the same rows. When
    the stream ends in Failed or WorkerDied, the task in flight is stored as oom / failed
    (the tasks after it were not run). ``on_result`` gets each stored result and its row;
    ``on_event`` every other event. With ``telemetry`` (a Sampler or Reader) each row keeps
    the peak board memory and GPU load seen while its task ran. Returns the final event
    (None if the stream just ended).
    """
    done: set[str] = set()
    tracker = start_peak(telemetry)

    def keep(result: TaskResult) -> None:
        nonlocal tracker
        done.add(result.task)
        board = finish_peak(tracker)
        tracker = start_peak(telemetry)  # the next task's peaks start now
        run = store_task(store, result, info, **board)
        if on_result is not None:
            on_result(result, run)

    try:
        return _consume(events, spec, keep, done, on_event)
    finally:
        finish_peak(tracker)


def _consume(events: Iterable[Any], spec: EvalSpec, keep: Callable[[TaskResult], None],
             done: set[str], on_event: Callable[[Any], None] | None) -> Any:
    for event in events:
        if isinstance(event, TaskDone):
            keep(event.result)
            continue
        if on_event is not None:
            on_event(event)
        if isinstance(event, (EvalDone, Cancelled)):
            return event
        if isinstance(event, (Failed, WorkerDied)):
            status = _died_status(event.message) if isinstance(event, WorkerDied) \
                else ("oom" if event.kind == "oom" else "failed")
            running = [t for t in spec.tasks if t not in done]
            if running:  # the task in flight takes the blame; the rest were not run
                keep(_failure(running[0], spec, status, event.message))
            return event
    return None


class _CancelForwarder:
    """Passes the caller's cancel event on to the session (the worker's own cancel)."""

    def __init__(self, cancel: threading.Event, session: Any):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(cancel, session), daemon=True)
        self._thread.start()

    def _watch(self, cancel: threading.Event, session: Any) -> None:
        while not self._stop.is_set():
            if cancel.wait(0.1):
                session.cancel()
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)


class InProcessSession:
    """The session protocol without a worker: loads and evaluates in this process.

    For scripts, benchmarks and tests; the app and the CLI use the worker, which keeps a
    model that runs out of memory from taking the caller down with it.
    """

    def __init__(self) -> None:
        self.loaded = None
        self._cancel = threading.Event()

    def load(self, options: LoadOptions) -> LoadInfo:
        from engine.runtime import load_model

        self.loaded = load_model(options)
        return self.loaded.info

    def evaluate(self, spec: EvalSpec) -> Iterable[Any]:
        from engine.evaluation.runner import evaluate

        if self.loaded is None:
            raise SmollmError("no model loaded")
        self._cancel.clear()
        yield from evaluate(self.loaded, spec, self._cancel, request_id=0)
        yield Cancelled(0) if self._cancel.is_set() else EvalDone(0)

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self.loaded = None
