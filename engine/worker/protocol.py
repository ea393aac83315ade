"""The wire format between the client and the worker process: the requests, and the
events and records they are answered with (defined below the worker, in engine.events and
engine.records, and named here so that the pipe's vocabulary reads in one place).

Every request carries an id; every event names the request it answers. Each stream
(load, generate, evaluate) ends with exactly one final event: a *Done event, Failed,
Cancelled, or (made by the client) WorkerDied.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.catalog.entries import ModelEntry
from engine.events import (
    FINAL_EVENTS,
    Cancelled,
    Chunk,
    EvalDone,
    EvalProgress,
    Failed,
    Loaded,
    Progress,
    ReplyDone,
    StatusReply,
    TaskDone,
    Trimmed,
    WorkerDied,
)
from engine.records import EvalSpec, LoadInfo, ReplyStats, TaskResult, WorkerStatus
from engine.settings import Conversation, GenerationSettings, LoadOptions

# Indexes into the array of CUDA figures the worker shares with its client (MB; -1 = not
# known): read without asking, while the worker is busy.
CUDA_ALLOCATED, CUDA_RESERVED, CUDA_PEAK = 0, 1, 2
SHARED_SLOTS = 3

__all__ = [
    "FINAL_EVENTS",
    "Cancelled",
    "Chunk",
    "EvalDone",
    "EvalProgress",
    "EvalSpec",
    "EvaluateRequest",
    "Failed",
    "GenerateRequest",
    "LoadInfo",
    "LoadRequest",
    "Loaded",
    "Progress",
    "ReplyDone",
    "ReplyStats",
    "ShutdownRequest",
    "StatusReply",
    "StatusRequest",
    "TaskDone",
    "TaskResult",
    "Trimmed",
    "WorkerDied",
    "WorkerStatus",
]

# ---- requests (client -> worker) -------------------------------------------------------


@dataclass(frozen=True)
class LoadRequest:
    request_id: int
    options: LoadOptions  # resolved (engine.runtimes.loading.resolve_load)
    # The catalog entry the caller resolved it for: the worker reads no catalog again
    # (an overlay edited meanwhile would load another model than the one checked).
    entry: ModelEntry


@dataclass(frozen=True)
class GenerateRequest:
    request_id: int
    conversation: Conversation
    settings: GenerationSettings
    raw: bool = False  # raw completion: continue the last user text as-is, no template


@dataclass(frozen=True)
class EvaluateRequest:
    request_id: int
    spec: EvalSpec


@dataclass(frozen=True)
class StatusRequest:
    request_id: int


@dataclass(frozen=True)
class ShutdownRequest:
    request_id: int
