"""One model's evaluate() stream, stored as it arrives: each TaskDone becomes a row, and a
stream that ends in Failed or WorkerDied leaves the task in flight stored as oom / failed.
The batch (engine.evaluation.batch) stores through it, for the `eval` command, the jobs and
the Evaluate screen alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from engine.events import Cancelled, EvalDone, Failed, TaskDone, WorkerDied
from engine.records import EvalSpec, LoadInfo, TaskResult
from engine.results.store import EvalRun, ResultsStore, eval_run_from_task
from engine.states import TaskStatus
from engine.telemetry.peak import finish_peak, start_peak


def failed_result(task: str, spec: EvalSpec, status: TaskStatus, message: str) -> TaskResult:
    """``task``'s outcome when it did not run to an end: ``status`` and why."""
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


def died_status(message: str) -> TaskStatus:
    """oom when the worker's end reads as the kernel's out-of-memory kill, else failed."""
    text = message.lower()
    return "oom" if ("memory" in text or "sigkill" in text or "killed" in text) else "failed"


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

    Every evaluation stores through it (the batch: the `eval` command, the jobs and the
    Evaluate screen), so all store the same rows. When
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
                died_status(event.message)
                if isinstance(event, WorkerDied)
                else ("oom" if event.kind == "oom" else "failed")
            )
            running = [t for t in spec.tasks if t not in done]
            if running:  # the task in flight takes the blame; the rest were not run
                keep(failed_result(running[0], spec, status, event.message))
            return event
    return None
