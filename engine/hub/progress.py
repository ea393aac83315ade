"""A download's progress: bytes done of the total, speed over a sliding window, time left,
reported to the caller's callback at most every PROGRESS_INTERVAL_S."""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

PROGRESS_INTERVAL_S = 0.1
SPEED_WINDOW_S = 5.0

# progress(bytes_done, bytes_total, speed_bps, eta_s, current_file)
ProgressCallback = Callable[[int, int, float, "float | None", str], None]


class Meter:
    """Counts bytes, works out speed over a sliding window, and calls back at most every
    PROGRESS_INTERVAL_S (plus once per file and at the end)."""

    def __init__(self, total: int, done: int, callback: ProgressCallback | None):
        self.total, self.done, self.fetched = total, done, 0
        self.callback = callback
        self.samples: collections.deque[tuple[float, int]] = collections.deque()
        self.samples.append((time.monotonic(), 0))
        self.last_call = 0.0
        self.file = ""

    def add(self, n: int) -> None:
        self.done += n
        self.fetched += n
        now = time.monotonic()
        self.samples.append((now, self.fetched))
        while len(self.samples) > 2 and now - self.samples[0][0] > SPEED_WINDOW_S:
            self.samples.popleft()
        if now - self.last_call >= PROGRESS_INTERVAL_S:
            self.report()

    def rewind(self, n: int) -> None:
        """The server ignored a Range request: n bytes already counted are fetched again."""
        self.done -= n

    def speed(self) -> float:
        (t0, b0), (t1, b1) = self.samples[0], self.samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def report(self) -> None:
        self.last_call = time.monotonic()
        if self.callback is None:
            return
        speed = self.speed()
        left = max(self.total - self.done, 0)
        eta = left / speed if speed > 0 else (0.0 if left == 0 else None)
        self.callback(self.done, self.total, speed, eta, self.file)
