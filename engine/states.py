"""The closed sets of words that states and verdicts are compared with, as Literal types:
a type checker catches a misspelt state, and each set has one home.

(Failure kinds live with the errors: engine.errors.FailureKind.)
"""

from __future__ import annotations

from typing import Literal, get_args

# The worker as the UI sees it (engine.worker.client): no process, loading, a model ready,
# busy with a reply or an evaluation, or the process gone.
WorkerState = Literal["none", "loading", "ready", "generating", "evaluating", "died"]
WORKER_STATES: tuple[WorkerState, ...] = get_args(WorkerState)
# A model is in the worker (ready, or busy with it).
LOADED_STATES: tuple[WorkerState, ...] = ("ready", "generating", "evaluating")

# How one evaluation task ended: TaskResult.status and the results store's rows.
TaskStatus = Literal["ok", "oom", "failed", "cancelled"]
TASK_STATUSES: tuple[TaskStatus, ...] = get_args(TaskStatus)

# How an evaluation run (all its tasks) ended, as the Evaluate screen reports it.
EvalOutcome = Literal["done", "cancelled", "failed", "died"]

# What of a model's weights is on disk (engine.models.local_status.LocalStatus.state).
LocalState = Literal["yes", "partial", "no"]

# Whether a model fits in memory (engine.memory.fit): with 20% to spare, without, or not.
FitVerdict = Literal["fits", "tight", "does not fit"]
