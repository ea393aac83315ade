"""A background thread that samples the board once a second (configurable) and keeps history.

The UI reads `latest()` / `history()` / `marks()` from its own timer; they only copy
from memory under a lock, so they never block. Subscribers are called from the sampler
thread (a Textual app posts itself a message from there: `post_message` is thread-safe).
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from engine.telemetry.selection import ReaderChain, ReaderFactory
from engine.telemetry.snapshot import Snapshot

log = logging.getLogger(__name__)

Callback = Callable[[Snapshot], None]


@dataclass(frozen=True)
class Mark:
    """Something that happened at `time` ("loaded tiny-llama fp32"), drawn on the charts."""

    time: float
    text: str
    kind: str = "event"  # "event", or "notice" for a reader hand-over


class Sampler:
    """Samples with a ReaderChain. Use start()/stop(), or call step() yourself (tests, CLI).

    The reader is chosen on the first step (in the thread when started), because jtop may
    take a moment to answer.
    """

    def __init__(
        self,
        chain: ReaderChain | None = None,
        *,
        interval: float = 1.0,
        history_seconds: float = 600.0,
        factories: Sequence[tuple[str, ReaderFactory]] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.history_seconds = history_seconds
        self._chain = chain
        self._factories = factories
        self._clock = clock
        self._lock = threading.Lock()
        self._history: deque[Snapshot] = deque()
        self._marks: list[Mark] = []
        self._subscribers: list[Callback] = []
        self._watched: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading (any thread) --------------------------------------------------------------
    @property
    def reader_name(self) -> str:
        return self._chain.name if self._chain else "starting"

    def reader_description(self) -> str:
        return self._chain.describe() if self._chain else "choosing a reader"

    @property
    def notices(self) -> list[str]:
        return list(self._chain.notices) if self._chain else []

    def latest(self) -> Snapshot | None:
        with self._lock:
            return self._history[-1] if self._history else None

    def history(self, seconds: float | None = None) -> list[Snapshot]:
        """Snapshots of the last `seconds` (all kept ones when None), oldest first."""
        with self._lock:
            items = list(self._history)
        if seconds is None or not items:
            return items
        start = items[-1].time - seconds
        times = [s.time for s in items]
        return items[bisect.bisect_left(times, start) :]

    def marks(self, seconds: float | None = None) -> list[Mark]:
        with self._lock:
            items = list(self._marks)
        if seconds is None:
            return items
        start = self._clock() - seconds
        return [m for m in items if m.time >= start]

    # -- changing (any thread) -------------------------------------------------------------
    def add_mark(self, text: str, kind: str = "event") -> Mark:
        mark = Mark(self._clock(), text, kind)
        with self._lock:
            self._marks.append(mark)
        return mark

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call `callback(snapshot)` from the sampler thread after each sample.

        Returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def watch_process(self, label: str, pid: int | None) -> None:
        """Add the resident memory of `pid` to each snapshot as process_rss_mb[label];
        pid None stops watching."""
        with self._lock:
            if pid is None:
                self._watched.pop(label, None)
            else:
                self._watched[label] = pid

    # -- sampling --------------------------------------------------------------------------
    def step(self) -> Snapshot | None:
        """Take one sample now (the thread calls this; tests may call it directly)."""
        if self._chain is None:
            self._chain = ReaderChain(self._factories, interval=self.interval)
        snapshot, notice = self._chain.read()
        if notice:
            self.add_mark(notice, kind="notice")
        if snapshot is None:
            return None
        with self._lock:
            watched = dict(self._watched)
        if watched:
            from engine.telemetry.psutil_reader import process_rss_mb

            snapshot = snapshot.with_processes(process_rss_mb(watched))
        with self._lock:
            self._history.append(snapshot)
            cutoff = snapshot.time - self.history_seconds
            while self._history and self._history[0].time < cutoff:
                self._history.popleft()
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(snapshot)
            except Exception:  # one bad subscriber must not stop the sampling
                log.exception("telemetry subscriber failed")
        return snapshot

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:  # keep sampling; the chain already handles reader failures
                log.exception("telemetry sample failed")
            if self._stop.wait(self.interval):
                break

    def start(self) -> Sampler:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="telemetry-sampler", daemon=True)
            self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (returns as soon as the current sample ends) and close the reader."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._chain is not None:
            self._chain.close()
            self._chain = None

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
