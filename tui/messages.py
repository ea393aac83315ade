"""Typed Textual messages: work done in threads reports back to the UI through these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.message import Message

from engine.errors import FailureKind
from engine.memory.overview import ModelOverview
from engine.records import LoadInfo, ReplyStats
from engine.results.health import StoreUnavailable
from engine.results.store import EvalRun, SpeedRun
from engine.states import EvalOutcome


@dataclass
class LoadStage(Message):
    stage: str
    fraction: float | None


@dataclass
class ModelLoaded(Message):
    info: LoadInfo


@dataclass
class LoadFailed(Message):
    message: str
    kind: FailureKind


@dataclass
class ReplyTrimmed(Message):
    dropped_turns: int


@dataclass
class ReplyChunk(Message):
    text: str


@dataclass
class ReplyFinished(Message):
    stats: ReplyStats | None
    cancelled: bool = False


@dataclass
class ReplyFailed(Message):
    message: str
    kind: FailureKind


# ---- an evaluation on the Evaluate screen (its thread worker -> the screen) -----------


@dataclass
class EvalProgressed(Message):
    task: str
    done: int
    total: int
    eta_s: float | None


@dataclass
class EvalTaskStored(Message):
    run: EvalRun


@dataclass
class EvalSkipped(Message):
    """Tasks already measured with these settings: not run again."""

    tasks: tuple[str, ...]


@dataclass
class EvalFinished(Message):
    outcome: EvalOutcome
    message: str | None = None


# ---- threads that keep the app's facts (-> the app) ------------------------------------


@dataclass
class OverviewRead(Message):
    """The catalog's rows, read in a thread for (precision, device, runtime) = ``key``;
    ``rows`` is None when the read failed, and ``error`` says why."""

    key: tuple[str, str, str]
    rows: list[ModelOverview] | None
    error: str | None = None


@dataclass
class SpeedStored(Message):
    """A chat reply's speed row was written (``problem``: why it could not be)."""

    problem: str | None = None


@dataclass
class DownloadEvent(Message):
    """What the download queue's thread reports (an engine.hub.downloads event)."""

    event: Any


@dataclass
class JobsChanged(Message):
    """A job was queued, cancelled or resumed from the app: the jobs are read again."""


# ---- threads that report to the screen that started them ---------------------------------


@dataclass
class PairPlanned(Message):
    """The Arena's memory plan for its two sides (an engine.chat.arena.PairPlan)."""

    plan: Any


@dataclass
class LeaderboardRead(Message):
    """The Arena's leaderboard, computed from the stored votes (engine.results.arena)."""

    board: Any


@dataclass
class ResultsRead(Message):
    """Runs read from the results store in a thread for a screen (tui.store_reads): the
    evaluations asked for and the chat speed rows (when asked); ``problem``: why the store
    could not be read (both lists are then empty)."""

    runs: list[EvalRun]
    speed_runs: list[SpeedRun]
    problem: StoreUnavailable | None = None


@dataclass
class LlamaBuildRead(Message):
    """The status of set-up's llama.cpp build, read in a thread for a memory meter (an
    engine.runtimes.llamacpp.build_status.BuildStatus, or None when no build was started here)."""

    status: Any
