"""The events a stream yields: a load, a reply, an evaluation. Small picklable dataclasses.

The runtimes and the evaluation runner yield them in process; the worker only carries
them over its pipe (engine.worker.protocol adds the requests). Every event names the
request it answers, and each stream ends with exactly one final event: a *Done event,
Failed, Cancelled, or (made by the client) WorkerDied.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import FailureKind
from engine.records import LoadInfo, ReplyStats, TaskResult, WorkerStatus


@dataclass(frozen=True)
class Progress:
    request_id: int
    stage: str  # human words: "reading config", "loading weights", "converting bundled model"
    fraction: float | None = None


@dataclass(frozen=True)
class Loaded:
    request_id: int
    info: LoadInfo


@dataclass(frozen=True)
class Trimmed:
    """The conversation was too long for the context: this many oldest turns were dropped."""

    request_id: int
    dropped_turns: int


@dataclass(frozen=True)
class Chunk:
    request_id: int
    text: str


@dataclass(frozen=True)
class ReplyDone:
    request_id: int
    stats: ReplyStats


@dataclass(frozen=True)
class EvalProgress:
    request_id: int
    task: str
    done: int
    total: int
    eta_s: float | None = None


@dataclass(frozen=True)
class TaskDone:
    request_id: int
    result: TaskResult


@dataclass(frozen=True)
class EvalDone:
    request_id: int


@dataclass(frozen=True)
class StatusReply:
    request_id: int
    status: WorkerStatus


@dataclass(frozen=True)
class Cancelled:
    request_id: int
    stats: ReplyStats | None = None


@dataclass(frozen=True)
class Failed:
    """The request failed; ``kind`` says what a caller can do about it."""

    request_id: int
    message: str
    kind: FailureKind = "error"


@dataclass(frozen=True)
class WorkerDied:
    """Made by the client when the worker process exits while a request is open."""

    request_id: int
    message: str  # e.g. "the worker was killed, most likely out of memory (SIGKILL)"
    exitcode: int | None = None


FINAL_EVENTS = (Loaded, ReplyDone, EvalDone, StatusReply, Cancelled, Failed, WorkerDied)
