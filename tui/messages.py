"""Typed Textual messages: work done in threads reports back to the UI through these."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from engine.records import LoadInfo, ReplyStats


@dataclass
class WorkerStateChanged(Message):
    state: str


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
    kind: str


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
    kind: str
