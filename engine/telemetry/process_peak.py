"""The peak memory of this process over one span of work (a chat reply, an evaluation
task), measured the same way for both, in MB (MiB).

- A model in torch's CUDA allocator: torch's peak allocated memory, reset at the start.
- Otherwise the resident set's high-water mark. The kernel's VmHWM is reset at the start
  (5 written to /proc/self/clear_refs, Linux >= 4.0) and read at the end, which is exact,
  between samples too. Where the reset is refused (another OS, an old kernel, a locked-down
  /proc), the largest resident set sampled during the span, raised to the process's
  lifetime peak (ru_maxrss) when that peak grew during the span.
- llama.cpp with layers on a GPU: its GPU memory is its own, not torch's; NVML's figure for
  this process is added (a Jetson's NVML has none: the board reader counts it there).

Callers that use torch pass the module in: this module never imports torch (the UI imports
engine.telemetry and must not load it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from engine.units import KIB_PER_MB, MB


class ProcessPeak:
    """Started when created; ``sample()`` as work goes on (cheap; nothing on CUDA or where
    the kernel's high-water mark is exact); ``peak_mb()`` at the end."""

    def __init__(self, cuda_torch: Any = None, *, gpu_outside_torch: bool = False):
        self.torch = cuda_torch
        self.gpu_outside_torch = gpu_outside_torch
        self.exact = False
        self.sampled = 0  # bytes
        self.maxrss_before = 0  # bytes
        if cuda_torch is not None:
            cuda_torch.cuda.reset_peak_memory_stats()
            return
        self.exact = _reset_high_water_mark()
        if not self.exact:
            self.maxrss_before = _maxrss()
            self.sample()

    def sample(self) -> None:
        if self.torch is None and not self.exact:
            self.sampled = max(self.sampled, _rss())

    def peak_mb(self) -> float | None:
        if self.torch is not None:
            return self.torch.cuda.max_memory_allocated() / MB
        peak = _high_water_mark() if self.exact else None
        if peak is None:
            self.sample()
            maxrss = _maxrss()
            peak = max(self.sampled, maxrss) if maxrss > self.maxrss_before else self.sampled
        if not peak:
            return None
        return peak / MB + (_gpu_mb() if self.gpu_outside_torch else 0.0)


def _reset_high_water_mark() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return _high_water_mark() is not None


def _high_water_mark() -> int | None:
    """VmHWM in bytes."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * MB // KIB_PER_MB  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _rss() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _maxrss() -> int:
    try:
        import resource
    except ImportError:  # not on Linux or macOS
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _gpu_mb() -> float:
    from engine.machine import gpu_process_mb

    return gpu_process_mb(os.getpid()) or 0.0
