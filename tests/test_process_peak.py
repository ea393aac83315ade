"""Peak memory over a span of work (engine.telemetry.process_peak): what a chat reply and an
evaluated task report on the CPU."""

from __future__ import annotations

import sys

import pytest

from engine.telemetry import process_peak
from engine.telemetry.process_peak import ProcessPeak

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

ALLOC_MB = 300


def touched(mb: int) -> bytearray:
    """mb MB really resident (every page written)."""
    return bytearray(b"\1" * (mb * 2**20))


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def test_an_allocation_freed_before_the_end_still_counts():
    peak = ProcessPeak()
    assert peak.exact, "this kernel refused to reset VmHWM; the fallback test covers that"
    before = rss_mb()
    buffer = touched(ALLOC_MB)
    del buffer  # gone before anyone samples: only the kernel's high-water mark saw it
    measured = peak.peak_mb()
    assert measured is not None and measured >= before + ALLOC_MB * 0.9


def test_the_peak_starts_afresh_with_each_span():
    buffer = touched(ALLOC_MB)
    del buffer
    before = rss_mb()
    measured = ProcessPeak().peak_mb()
    # The earlier span's 300 MB is not this one's peak.
    assert measured is not None and measured < before + ALLOC_MB * 0.5


def test_without_the_kernels_reset_the_sampled_peak_is_kept(monkeypatch):
    # A kernel or /proc that refuses the reset (the edge of the machine): samples taken
    # during the span give the peak.
    monkeypatch.setattr(process_peak, "_reset_high_water_mark", lambda: False)
    peak = ProcessPeak()
    assert not peak.exact
    before = rss_mb()
    buffer = touched(ALLOC_MB)
    peak.sample()
    del buffer
    measured = peak.peak_mb()
    assert measured is not None and measured >= before + ALLOC_MB * 0.9
