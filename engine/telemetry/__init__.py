"""Live board telemetry: memory, GPU, power, temperatures (jtop, Jetson /proc, NVML, psutil).

    sampler = Sampler(interval=1.0).start()     # picks the best reader in its thread
    sampler.latest(); sampler.history(300); sampler.add_mark("loaded tiny-llama fp32")
    with PeakTracker(sampler) as peak: ...      # then peak.result().to_dict()
    sampler.stop()

Nothing in this package imports torch except torch_memory (worker process only).
"""

from engine.telemetry.base import Reader, ReaderUnavailable
from engine.telemetry.peak import PeakResult, PeakTracker
from engine.telemetry.sampler import Mark, Sampler
from engine.telemetry.selection import READER_NAMES, ReaderChain, default_factories, select_reader
from engine.telemetry.snapshot import Snapshot

__all__ = [
    "READER_NAMES",
    "Mark",
    "PeakResult",
    "PeakTracker",
    "Reader",
    "ReaderChain",
    "ReaderUnavailable",
    "Sampler",
    "Snapshot",
    "default_factories",
    "select_reader",
]
