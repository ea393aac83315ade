"""A matrix run: models one by one (a fresh worker each), tasks in one go per model.

Every evaluation runs through it: the `eval` command, the background jobs
(engine.jobs.runner) and the Evaluate screen (on the app's loaded model). The transport is
a *session* with load(options), evaluate(spec), cancel() and close(): the worker client,
engine.evaluation.in_process for scripts, or the screen's wrapper of the app's session.
Every TaskDone is stored as it arrives (engine.evaluation.store_stream), so an interrupted
night run resumes where it stopped (cells already measured with the same settings are
skipped unless forced). A model that fails to load marks that model's remaining cells
and the batch moves on to the next model. A worker that dies during a task (killed by the
kernel when memory runs out) takes the blame for that task only: the model's later tasks
go to a fresh worker.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from engine.errors import SmollmError
from engine.evaluation.store_stream import (
    died_status,
    failed_result,
    store_task,
    stream_and_store,
)
from engine.events import Cancelled, Failed, Loaded, WorkerDied
from engine.records import EvalSpec, LoadInfo, TaskResult
from engine.results.store import EvalRun, ResultsStore
from engine.runtimes import DEFAULT
from engine.settings import LoadOptions
from engine.states import TaskStatus
from engine.task_registry import default_fewshot

EventFn = Callable[[str, Any], None]  # (model_id, event)
# The precision, device and runtime a model's rows are stored under.
Settings = tuple[str, str, str]


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


def known_settings(options: LoadOptions) -> Settings | None:
    """The settings a load of ``options`` stores its rows under, when none of them is
    "auto" (else only the load tells)."""
    if "auto" in (options.precision, options.device, options.runtime):
        return None
    return options.precision, options.device, options.runtime


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
    before_load: Callable[[LoadOptions], Settings | None] = known_settings,
    restart: bool = True,
    keep_load_failures: bool = True,
) -> BatchSummary:
    """Evaluate ``spec.tasks`` on each model in turn and store every outcome.

    ``cancel`` stops the running task within one chunk of requests (it is stored as
    cancelled) and starts nothing more; it may be set from any thread (the UI's). ``abort``
    ends the worker at once. ``telemetry`` (a Sampler or Reader, optional) gives each row
    its peak board memory and GPU load. ``on_event`` gets each model's load and evaluation
    events (EvalProgress per chunk of requests, the final event) and this module's
    Skipped, Stored, LoadFailed and Restarting.

    ``before_load``: the settings a load of the options will give, when known without
    loading (None: load, then skip what is measured); the tasks measured with them are
    skipped before any load. ``restart`` False: after a worker ended or failed during a
    task, the model's later tasks are not run (the Evaluate screen shows the dead worker
    and reloads on the next run). ``keep_load_failures`` False: a model that fails to load
    is only told as LoadFailed, nothing is stored (the screen loads the app's model: as in
    chat, a failed load is told, and the model is not marked as measured)."""
    notify = on_event or (lambda model, event: None)
    run = _Batch(spec, store, session_factory, notify, cancel or threading.Event(), abort)
    run.force, run.telemetry, run.restart = force, telemetry, restart
    run.keep_load_failures = keep_load_failures
    for n, model_id in enumerate(models):
        if run.cancel.is_set():
            run.summary.cancelled = True
            run.summary.not_started += models[n:]
            break
        options = load_options(model_id)
        todo = spec.tasks
        known = None if force else before_load(options)
        if known is not None:
            precision, device, runtime = known
            todo = remaining_tasks(store, model_id, precision, device, spec, runtime)
        skipped = tuple(t for t in spec.tasks if t not in todo)
        run.summary.skipped += [(model_id, t) for t in skipped]
        if skipped:
            notify(model_id, Skipped(skipped))
        while todo:  # more than once only when a worker died mid-task
            todo = run.one_worker(model_id, options, todo)
    return run.summary


class _Batch:
    """One run_batch call: its settings, its summary, and one worker's share of a model.
    ``force``, ``telemetry``, ``restart`` and ``keep_load_failures`` are run_batch's."""

    force = False
    telemetry: Any = None
    restart = True
    keep_load_failures = True

    def __init__(
        self,
        spec: EvalSpec,
        store: ResultsStore,
        session_factory: Callable[[], EvalSession],
        notify: EventFn,
        cancel: threading.Event,
        abort: threading.Event | None,
    ):
        self.spec, self.store, self.session_factory = spec, store, session_factory
        self.notify, self.cancel, self.abort = notify, cancel, abort
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
            runtime=options.runtime if options.runtime != "auto" else DEFAULT.name,
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
                for task in todo if self.keep_load_failures else ():
                    self.keep_failure(
                        model_id,
                        options,
                        failed_result(
                            task, spec, died_status(str(exc)), f"loading {model_id} failed: {exc}"
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
        if isinstance(final, (Failed, WorkerDied)) and left and self.restart:
            # The task in flight was stored as oom / failed; each death uses up one task,
            # so this ends.
            self.summary.restarts += 1
            self.notify(model_id, Restarting(final.message, kept[-1].task if kept else "", left))
            return left
        return ()


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
