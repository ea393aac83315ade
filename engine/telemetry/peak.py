"""Peak board memory and GPU load during a chat reply or an evaluation, for its run record."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from engine.telemetry.base import Reader
from engine.telemetry.sampler import Sampler
from engine.telemetry.snapshot import Snapshot


@dataclass(frozen=True)
class PeakResult:
    """What a run record keeps. MB = MiB. None where the reader could not measure it."""

    source: str
    samples: int
    seconds: float
    baseline_ram_used_mb: float | None
    peak_ram_used_mb: float | None
    peak_gpu_shared_mb: float | None
    peak_gpu_mem_used_mb: float | None
    max_gpu_load_pct: float | None
    ram_total_mb: float | None

    @property
    def peak_board_mb(self) -> float | None:
        """Peak memory that decides fit: board RAM on a Jetson, card memory on a discrete GPU."""
        if self.peak_gpu_mem_used_mb is not None and self.peak_gpu_shared_mb is None:
            return self.peak_gpu_mem_used_mb
        return self.peak_ram_used_mb

    @property
    def added_ram_mb(self) -> float | None:
        """How much board RAM the run added over what was in use when it started."""
        if self.peak_ram_used_mb is None or self.baseline_ram_used_mb is None:
            return None
        return round(self.peak_ram_used_mb - self.baseline_ram_used_mb, 1)

    def record_fields(self) -> dict[str, float | str | None]:
        """The columns a stored run keeps (EvalRun / SpeedRun field names)."""
        return {
            "peak_board_mb": self.peak_board_mb,
            "max_gpu_load_pct": self.max_gpu_load_pct,
            "telemetry_source": self.source or None,
        }

    def to_dict(self) -> dict:
        data = asdict(self)
        data["peak_board_mb"] = self.peak_board_mb
        data["added_ram_mb"] = self.added_ram_mb
        return data


def _max(current: float | None, value: float | None) -> float | None:
    if value is None:
        return current
    return value if current is None or value > current else current


class PeakTracker:
    """`with PeakTracker(sampler) as peak: ...` then `peak.result()`.

    With a Sampler it listens to the samples the sampler already takes (no new thread);
    with a Reader it samples every `interval` seconds in its own thread. Either way one
    sample is taken on entry and one on exit, so even a short reply has a figure.
    """

    def __init__(self, source: Sampler | Reader, interval: float = 0.5) -> None:
        self._source = source
        self.interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._started = self._ended = 0.0
        self._samples = 0
        self._source_name = ""
        self._baseline: float | None = None
        self._ram: float | None = None
        self._shared: float | None = None
        self._gpu_mem: float | None = None
        self._load: float | None = None
        self._total: float | None = None

    def observe(self, snap: Snapshot) -> None:
        """Fold one snapshot into the peaks (called from the sampler thread)."""
        with self._lock:
            if self._samples == 0:
                self._baseline = snap.ram_used_mb
            self._samples += 1
            self._source_name = snap.source
            self._ram = _max(self._ram, snap.ram_used_mb)
            self._shared = _max(self._shared, snap.gpu_shared_mb)
            self._gpu_mem = _max(self._gpu_mem, snap.gpu_mem_used_mb)
            self._load = _max(self._load, snap.gpu_load_pct)
            self._total = snap.ram_total_mb or self._total

    def _sample_now(self) -> None:
        if isinstance(self._source, Sampler):
            snap = self._source.step() if not self._source.running else None
            snap = snap or self._source.latest()
        else:
            try:
                snap = self._source.read()
            except Exception:  # a failing reader leaves the peaks it has
                snap = None
        if snap is not None:
            self.observe(snap)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample_now()

    def __enter__(self) -> PeakTracker:
        self._started = time.monotonic()
        self._sample_now()
        if isinstance(self._source, Sampler):
            self._unsubscribe = self._source.subscribe(self.observe)
        else:
            self._thread = threading.Thread(target=self._run, name="peak-tracker", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
        self._sample_now()
        self._ended = time.monotonic()

    def result(self) -> PeakResult:
        with self._lock:
            end = self._ended or time.monotonic()
            return PeakResult(
                source=self._source_name,
                samples=self._samples,
                seconds=round(end - self._started, 3) if self._started else 0.0,
                baseline_ram_used_mb=self._baseline,
                peak_ram_used_mb=self._ram,
                peak_gpu_shared_mb=self._shared,
                peak_gpu_mem_used_mb=self._gpu_mem,
                max_gpu_load_pct=self._load,
                ram_total_mb=self._total,
            )


NO_PEAK: dict[str, float | str | None] = {
    "peak_board_mb": None,
    "max_gpu_load_pct": None,
    "telemetry_source": None,
}


def start_peak(source: Sampler | Reader | None) -> PeakTracker | None:
    """An entered PeakTracker on ``source``, or None when there is no telemetry."""
    return PeakTracker(source).__enter__() if source is not None else None


def finish_peak(tracker: PeakTracker | None) -> dict[str, float | str | None]:
    """Stop ``tracker`` (from start_peak) and give its record fields (all None without one)."""
    if tracker is None:
        return dict(NO_PEAK)
    tracker.__exit__(None, None, None)
    return tracker.result().record_fields()
