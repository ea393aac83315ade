"""A matrix run: models one by one (a fresh worker each), tasks in one go per model.

Shared by the `eval` command and the Evaluate screen. The transport is a *session*
with load(options), evaluate(spec), cancel() and close(): the worker client, or
engine.evaluation.in_process for scripts. Every TaskDone is stored as it arrives, so an
interrupted night run resumes where it stopped (cells already measured with the same settings are
skipped unless forced). A model that fails to load marks that model's remaining cells
and the batch moves on to the next model. A worker that dies during a task (killed by the
kernel when memory runs out) takes the blame for that task only: the model's later tasks
go to a fresh worker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from engine.errors import SmollmError
from engine.events import Cancelled, EvalDone, Failed, Loaded, TaskDone, WorkerDied
from engine.records import EvalSpec, LoadInfo, TaskResult
from engine.results.store import EvalRun, ResultsStore, eval_run_from_task
from engine.settings import LoadOptions
from engine.states import TaskStatus
from engine.task_registry import default_fewshot
from engine.telemetry.peak import finish_peak, start_peak

EventFn = Callable[[str, Any], None]  # (model_id, event)


class EvalSession(Protocol):
    """What a batch drives, one per model: the worker client
    (engine.worker.client.WorkerClient) or InProcessSession. ``load`` gives a LoadInfo, a
    Loaded event or a stream of load events (load_info_from reads each); ``evaluate``
    streams EvalProgress and TaskDone events and ends in one final event. ``cancel`` and
    ``close`` may be called from another thread while either runs."""

    def load(self, options: LoadOptions) -> LoadInfo | Loaded | Iterable[object]: ...

    def evaluate(self, spec: EvalSpec) -> Iterable[object]: ...

    def cancel(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class BatchSummary:
    stored: list[tuple[str, TaskResult]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # (model, task) pairs that never ran to an outcome: the run was cancelled first
    not_run: list[tuple[str, str]] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)  # models left when cancelled
    restarts: int = 0  # fresh workers started after one died mid-task
    cancelled: bool = False

    def count(self, status: TaskStatus) -> int:
        return sum(1 for _, r in self.stored if r.status == status)


@dataclass(frozen=True)
class Stored:
    """Told to run_batch's ``on_event`` for every row it stored (the task's result and row)."""

    result: TaskResult
    run: EvalRun


@dataclass(frozen=True)
class Skipped:
    """These tasks are already measured with the same settings (not run again)."""

    tasks: tuple[str, ...]


@dataclass(frozen=True)
class LoadFailed:
    """The model did not load; its tasks are stored as failed (or oom)."""

    message: str


@dataclass(frozen=True)
class Restarting:
    """The worker ended during ``task`` (stored as oom / failed; ``message`` says how); a
    fresh worker runs the model's ``remaining`` tasks."""

    message: str
    task: str
    remaining: tuple[str, ...]


class LoadCancelled(SmollmError):
    """The load was stopped by a cancel (the worker was ended)."""


def _fewshot_for(task: str, spec: EvalSpec) -> int | None:
    return spec.num_fewshot if spec.num_fewshot is not None else default_fewshot(task)


def remaining_tasks(
    store: ResultsStore,
    model_id: str,
    precision: str,
    device: str,
    spec: EvalSpec,
    runtime: str = "transformers",
) -> tuple[str, ...]:
    """The tasks of ``spec`` not yet measured for this model with the same settings (the
    runtime included: Q4_1 on llama.cpp is not fp32 on transformers)."""
    return tuple(
        t
        for t in spec.tasks
        if not store.has_result(
            model_id=model_id,
            task=t,
            precision=precision,
            device=device,
            limit=spec.limit,
            num_fewshot=_fewshot_for(t, spec),
            runtime=runtime,
        )
    )


def load_info_from(
    result: LoadInfo | Loaded | Iterable[object], on_event: Callable[[Any], None]
) -> LoadInfo:
    """The LoadInfo from whatever the session's load() gives: a LoadInfo, a Loaded event, or
    an iterable of events ending in Loaded / Failed / WorkerDied / Cancelled. ``on_event``
    gets the events before the last (load progress); the caller tells of the load itself.
    Raises LoadCancelled when the load was cancelled, SmollmError when it failed."""
    if isinstance(result, LoadInfo):
        return result
    if isinstance(result, Loaded):
        return result.info
    for event in result if isinstance(result, Iterable) else ():
        if isinstance(event, Loaded):
            return event.info
        if isinstance(event, Cancelled):
            raise LoadCancelled("the load was cancelled")
        if isinstance(event, (Failed, WorkerDied)):
            raise SmollmError(event.message)
        on_event(event)
    raise SmollmError("the worker ended the load without a result")


def _failure(task: str, spec: EvalSpec, status: TaskStatus, message: str) -> TaskResult:
    now = time.time()
    return TaskResult(
        task=task,
        status=status,
        error=message,
        limit=spec.limit,
        num_fewshot=spec.num_fewshot,
        started=now,
        ended=now,
    )


def _died_status(message: str) -> TaskStatus:
    text = message.lower()
    return "oom" if ("memory" in text or "sigkill" in text or "killed" in text) else "failed"


def run_batch(
    models: list[str],
    spec: EvalSpec,
    *,
    store: ResultsStore,
    session_factory: Callable[[], EvalSession],
    load_options: Callable[[str], LoadOptions],
    force: bool = False,
    on_event: EventFn | None = None,
    cancel: threading.Event | None = None,
    abort: threading.Event | None = None,
    telemetry: Any = None,
) -> BatchSummary:
    """Evaluate ``spec.tasks`` on each model in turn and store every outcome.

    ``cancel`` stops the running task within one chunk of requests (it is stored as
    cancelled) and starts nothing more; ``abort`` ends the worker at once. ``telemetry`` (a
    Sampler or Reader, optional) gives each row its peak board memory and GPU load."""
    notify = on_event or (lambda model, event: None)
    run = _Batch(
        spec, store, session_factory, force, notify, cancel or threading.Event(), abort, telemetry
    )
    for n, model_id in enumerate(models):
        if run.cancel.is_set():
            run.summary.cancelled = True
            run.summary.not_started += models[n:]
            break
        options = load_options(model_id)
        todo = spec.tasks
        if (
            not force
            and options.precision != "auto"
            and options.device != "auto"
            and options.runtime != "auto"
        ):
            todo = remaining_tasks(
                store, model_id, options.precision, options.device, spec, options.runtime
            )
        skipped = tuple(t for t in spec.tasks if t not in todo)
        run.summary.skipped += [(model_id, t) for t in skipped]
        if skipped:
            notify(model_id, Skipped(skipped))
        while todo:  # more than once only when a worker died mid-task
            todo = run.one_worker(model_id, options, todo)
    return run.summary


class _Batch:
    """One run_batch call: its settings, its summary, and one worker's share of a model."""

    def __init__(
        self,
        spec: EvalSpec,
        store: ResultsStore,
        session_factory: Callable[[], EvalSession],
        force: bool,
        notify: EventFn,
        cancel: threading.Event,
        abort: threading.Event | None,
        telemetry: Any,
    ):
        self.spec, self.store, self.session_factory = spec, store, session_factory
        self.force, self.notify, self.cancel, self.abort = force, notify, cancel, abort
        self.telemetry = telemetry
        self.summary = BatchSummary()

    def not_run(self, model_id: str, tasks: Iterable[str]) -> tuple[str, ...]:
        self.summary.cancelled = True
        self.summary.not_run += [(model_id, t) for t in tasks]
        return ()

    def keep(self, model_id: str, result: TaskResult, run: EvalRun) -> None:
        self.summary.stored.append((model_id, result))
        self.notify(model_id, Stored(result, run))

    def keep_failure(self, model_id: str, options: LoadOptions, result: TaskResult) -> None:
        # no model loaded: keep the failure under the requested settings
        fake = LoadInfo(
            model_id=model_id,
            repo=None,
            revision=None,
            kind="causal",
            params=0,
            size_mb=0.0,
            dtype=options.precision,
            device=options.device,
            device_name="",
            quantization=None,
            load_seconds=0.0,
            context_length=0,
            has_chat_template=False,
            runtime=options.runtime if options.runtime != "auto" else "transformers",
        )
        self.keep(model_id, result, store_task(self.store, result, fake, model_size_mb=None))

    def one_worker(
        self, model_id: str, options: LoadOptions, todo: tuple[str, ...]
    ) -> tuple[str, ...]:
        """Load the model in a fresh session and run ``todo`` on it. Returns the tasks a
        fresh worker should run next: those after a task during which the worker died."""
        if self.cancel.is_set():
            return self.not_run(model_id, todo)
        spec = replace(self.spec, tasks=todo)
        session = self.session_factory()
        watcher = _CancelForwarder(self.cancel, session, self.abort)
        try:
            try:
                info = load_info_from(session.load(options), lambda e: self.notify(model_id, e))
            except LoadCancelled:
                return self.not_run(model_id, todo)
            except SmollmError as exc:
                self.notify(model_id, LoadFailed(str(exc)))
                for task in todo:
                    self.keep_failure(
                        model_id,
                        options,
                        _failure(
                            task, spec, _died_status(str(exc)), f"loading {model_id} failed: {exc}"
                        ),
                    )
                return ()
            self.notify(model_id, Loaded(0, info))
            if self.cancel.is_set():
                return self.not_run(model_id, todo)
            if not self.force:
                todo = self._skip_measured(model_id, info, spec)
                spec = replace(spec, tasks=todo)
            return self._evaluate(model_id, session, spec, info) if todo else ()
        finally:
            watcher.stop()
            session.close()

    def _skip_measured(self, model_id: str, info: LoadInfo, spec: EvalSpec) -> tuple[str, ...]:
        todo = remaining_tasks(
            self.store, model_id, info.precision, info.device, spec, info.runtime
        )
        skipped = tuple(t for t in spec.tasks if t not in todo)
        if skipped:
            self.summary.skipped += [(model_id, t) for t in skipped]
            self.notify(model_id, Skipped(skipped))
        return todo

    def _evaluate(
        self, model_id: str, session: EvalSession, spec: EvalSpec, info: LoadInfo
    ) -> tuple[str, ...]:
        kept: list[TaskResult] = []

        def on_result(result: TaskResult, run: EvalRun) -> None:
            kept.append(result)
            self.keep(model_id, result, run)

        final = stream_and_store(
            session.evaluate(spec),
            spec,
            info,
            self.store,
            on_result=on_result,
            on_event=lambda event: self.notify(model_id, event),
            telemetry=self.telemetry,
        )
        done = {r.task for r in kept}
        left = tuple(t for t in spec.tasks if t not in done)
        if isinstance(final, Cancelled) or self.cancel.is_set():
            return self.not_run(model_id, left)
        if isinstance(final, (Failed, WorkerDied)) and left:
            # The task in flight was stored as oom / failed; each death uses up one task,
            # so this ends.
            self.summary.restarts += 1
            self.notify(model_id, Restarting(final.message, kept[-1].task if kept else "", left))
            return left
        return ()


def store_task(store: ResultsStore, result: TaskResult, info: LoadInfo, **fields: Any) -> EvalRun:
    """Store one task's outcome on the model ``info`` describes; the stored row (with id).
    ``fields`` set further EvalRun fields (the board telemetry of the run)."""
    run = replace(eval_run_from_task(result, info), **fields)
    return replace(run, id=store.add_eval(run))


def stream_and_store(
    events: Iterable[Any],
    spec: EvalSpec,
    info: LoadInfo,
    store: ResultsStore,
    *,
    on_result: Callable[[TaskResult, EvalRun], object] | None = None,
    on_event: Callable[[Any], None] | None = None,
    telemetry: Any = None,
) -> Any:
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


def _consume(
    events: Iterable[Any],
    spec: EvalSpec,
    keep: Callable[[TaskResult], None],
    done: set[str],
    on_event: Callable[[Any], None] | None,
) -> Any:
    for event in events:
        if isinstance(event, TaskDone):
            keep(event.result)
            continue
        if on_event is not None:
            on_event(event)
        if isinstance(event, (EvalDone, Cancelled)):
            return event
        if isinstance(event, (Failed, WorkerDied)):
            status = (
                _died_status(event.message)
                if isinstance(event, WorkerDied)
                else ("oom" if event.kind == "oom" else "failed")
            )
            running = [t for t in spec.tasks if t not in done]
            if running:  # the task in flight takes the blame; the rest were not run
                keep(_failure(running[0], spec, status, event.message))
            return event
    return None


class _CancelForwarder:
    """Passes the caller's cancel on to the session while it loads and evaluates, and ends
    the session at once on ``abort``. A set cancel is passed on again every 0.1 s: a
    request that starts after the first pass clears the session's own flag."""

    def __init__(
        self, cancel: threading.Event, session: EvalSession, abort: threading.Event | None = None
    ):
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._watch,
            args=(cancel, session, abort),
            name="smollm-eval-cancel",
            daemon=True,
        )
        self._thread.start()

    def _watch(
        self, cancel: threading.Event, session: EvalSession, abort: threading.Event | None
    ) -> None:
        while not self._stop.is_set():
            if abort is not None and abort.is_set():
                session.close()
                return
            if cancel.is_set():
                session.cancel()
                self._stop.wait(0.1)
            else:
                cancel.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)
