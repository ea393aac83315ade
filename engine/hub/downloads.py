"""A download queue for the app: one download at a time, in a background thread.

Every job ends with exactly one final event (DownloadDone, DownloadFailed or
DownloadCancelled). Events go to the listener given to the queue, called from the queue's
thread (the app posts each to itself as a Textual message: tui.model_files), or,
without a listener, onto ``queue.events`` for the caller to read.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from engine import hub
from engine.catalog.entries import ModelEntry
from engine.errors import FailureKind, SmollmError, kind_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadJob:
    job_id: int
    model_id: str
    repo: str | None
    revision: str | None
    entry: ModelEntry = field(compare=False, repr=False)


@dataclass(frozen=True)
class DownloadQueued:
    job: DownloadJob
    position: int  # 0 = next to start


@dataclass(frozen=True)
class DownloadStarted:
    job: DownloadJob


@dataclass(frozen=True)
class DownloadNotice:
    """Something the user should know, e.g. pickle .bin weights are being fetched."""

    job: DownloadJob
    message: str


@dataclass(frozen=True)
class DownloadProgress:
    job: DownloadJob
    bytes_done: int
    bytes_total: int
    speed_bps: float
    eta_s: float | None
    current_file: str

    @property
    def fraction(self) -> float:
        return self.bytes_done / self.bytes_total if self.bytes_total else 1.0


@dataclass(frozen=True)
class DownloadDone:
    job: DownloadJob
    result: hub.DownloadResult


@dataclass(frozen=True)
class DownloadFailed:
    """kind: unreachable | offline | not-found | gated | disk | usage | error"""

    job: DownloadJob
    message: str
    kind: FailureKind = "error"


@dataclass(frozen=True)
class DownloadCancelled:
    job: DownloadJob
    result: hub.DownloadResult | None = None  # None when cancelled before it started


DownloadEvent = (
    DownloadQueued
    | DownloadStarted
    | DownloadNotice
    | DownloadProgress
    | DownloadDone
    | DownloadFailed
    | DownloadCancelled
)
FINAL_EVENTS = (DownloadDone, DownloadFailed, DownloadCancelled)

# The Hub's errors (engine.hub) do not carry their kind yet; every other error says it
# through engine.errors.kind_of.
_HUB_KINDS: tuple[tuple[type[Exception], FailureKind], ...] = (
    (hub.HubUnreachableError, "unreachable"),
    (hub.HubOfflineError, "offline"),
    (hub.RepoNotFoundError, "not-found"),
    (hub.GatedRepoError, "gated"),
    (hub.DiskSpaceError, "disk"),
)


class DownloadQueue:
    """Downloads catalog models one after another in one background thread."""

    def __init__(self, listener: Callable[[DownloadEvent], None] | None = None):
        self.events: queue.Queue[DownloadEvent] = queue.Queue()
        self._listener = listener
        self._ids = itertools.count(1)
        self._lock = threading.Condition()
        self._waiting: deque[DownloadJob] = deque()
        self._current: DownloadJob | None = None
        self._cancel = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    # ---- asking ----

    def submit(self, entry: ModelEntry, revision: str | None = None) -> DownloadJob:
        """Queue a download. A model already queued or downloading is not queued twice:
        the existing job is returned."""
        with self._lock:
            if self._closed:
                raise SmollmError("the download queue is closed")
            for job in self.jobs():
                if job.model_id == entry.id:
                    return job
            job = DownloadJob(
                next(self._ids), entry.id, entry.repo, revision or entry.revision, entry
            )
            self._waiting.append(job)
            position = len(self._waiting) - 1 + (self._current is not None)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="downloads")
                self._thread.start()
            self._lock.notify_all()
        self._emit(DownloadQueued(job, position))
        return job

    def cancel(self, model_id: str | None = None) -> bool:
        """Cancel the running download (model_id None or its id) or remove a waiting one.
        Returns whether anything was cancelled."""
        removed = None
        with self._lock:
            current = self._current
            if current is not None and model_id in (None, current.model_id):
                self._cancel.set()
                return True
            for job in self._waiting:
                if job.model_id == model_id:
                    removed = job
                    self._waiting.remove(job)
                    break
        if removed is None:
            return False
        self._emit(DownloadCancelled(removed))
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Cancel everything and stop the thread (partial files stay for a later resume)."""
        with self._lock:
            self._closed = True
            dropped = list(self._waiting)
            self._waiting.clear()
            self._cancel.set()
            self._lock.notify_all()
            thread = self._thread
        for job in dropped:
            self._emit(DownloadCancelled(job))
        if thread is not None:
            thread.join(timeout)

    # ---- looking ----

    @property
    def current(self) -> DownloadJob | None:
        return self._current

    def jobs(self) -> list[DownloadJob]:
        """The running job (if any) then the waiting ones, in order."""
        with self._lock:
            return ([self._current] if self._current else []) + list(self._waiting)

    def is_busy(self, model_id: str) -> bool:
        """Whether the model is downloading or waiting (the app refuses to delete it)."""
        return any(job.model_id == model_id for job in self.jobs())

    # ---- the thread ----

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._waiting or self._closed)
                if self._closed:
                    return
                job = self._waiting.popleft()
                self._current = job
                self._cancel.clear()
            try:
                self._emit(DownloadStarted(job))
                self._emit(self._download(job))
            finally:
                with self._lock:
                    self._current = None

    def _download(self, job: DownloadJob) -> DownloadEvent:
        def progress(done: int, total: int, speed: float, eta: float | None, name: str) -> None:
            self._emit(DownloadProgress(job, done, total, speed, eta, name))

        try:
            result = hub.download(
                job.entry,
                job.revision,
                progress,
                self._cancel,
                on_notice=lambda text: self._emit(DownloadNotice(job, text)),
            )
        except SmollmError as exc:
            kind = next((k for cls, k in _HUB_KINDS if isinstance(exc, cls)), kind_of(exc))
            return DownloadFailed(job, hub.redact(str(exc)), kind)
        except Exception as exc:  # a bug or an OS error: reported, the queue keeps going
            log.exception("download of %s failed", job.model_id)
            return DownloadFailed(job, hub.redact(f"{exc.__class__.__name__}: {exc}"))
        if result.cancelled:
            return DownloadCancelled(job, result)
        return DownloadDone(job, result)

    def _emit(self, event: DownloadEvent) -> None:
        if self._listener is None:
            self.events.put(event)
            return
        try:
            self._listener(event)
        except Exception:  # a listener's bug must not stop the downloads
            log.exception("download listener failed on %s", type(event).__name__)
