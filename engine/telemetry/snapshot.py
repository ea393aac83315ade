"""One reading of the board: memory, GPU, power, temperatures, CPU, with units in the names.

MB here means MiB (2**20 bytes), as `free -m`, jtop and /proc/meminfo (kB = KiB) count.
A field a reader cannot measure is None (or an empty dict), never a made-up zero.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, overload

from engine.units import KIB_PER_MB
from engine.units import MB as BYTES_PER_MB


@dataclass(frozen=True)
class Snapshot:
    """What one reader saw at one moment (`time` is seconds since the epoch)."""

    time: float
    source: str
    ram_total_mb: float | None = None
    ram_used_mb: float | None = None
    ram_available_mb: float | None = None
    # Jetson: board memory mapped for the GPU (NvMapMemUsed); it is part of ram_used_mb.
    gpu_shared_mb: float | None = None
    swap_total_mb: float | None = None
    swap_used_mb: float | None = None
    gpu_load_pct: float | None = None
    gpu_freq_mhz: float | None = None
    # Discrete GPUs only (NVML): the card's own memory.
    gpu_mem_used_mb: float | None = None
    gpu_mem_total_mb: float | None = None
    gpu_name: str | None = None
    power_total_mw: float | None = None
    power_rails_mw: dict[str, float] = field(default_factory=dict)
    temps_c: dict[str, float] = field(default_factory=dict)
    cpu_pct: float | None = None
    # Resident memory of processes the sampler watches, by label ("ui", "worker").
    process_rss_mb: dict[str, float] = field(default_factory=dict)
    # Discrete GPUs: GPU memory per process id (NVML), when the driver reports it.
    gpu_process_mem_mb: dict[int, float] = field(default_factory=dict)

    @property
    def board_used_mb(self) -> float | None:
        """Memory that limits what model fits: board RAM on a Jetson (CPU and GPU share it),
        the card's memory when a discrete GPU reports it, else RAM."""
        if self.gpu_mem_used_mb is not None and self.gpu_shared_mb is None:
            return self.gpu_mem_used_mb
        return self.ram_used_mb

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (dict keys become strings)."""
        data = dataclasses.asdict(self)
        data["gpu_process_mem_mb"] = {str(k): v for k, v in self.gpu_process_mem_mb.items()}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Snapshot:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if "gpu_process_mem_mb" in values:
            values["gpu_process_mem_mb"] = {
                int(k): v for k, v in values["gpu_process_mem_mb"].items()
            }
        return cls(**values)

    def with_processes(self, rss_mb: dict[str, float]) -> Snapshot:
        return dataclasses.replace(self, process_rss_mb=dict(rss_mb))


def kib_to_mb(kib: float | int | None) -> float | None:
    return None if kib is None else round(kib / KIB_PER_MB, 1)


@overload
def bytes_to_mb(n: float) -> float: ...


@overload
def bytes_to_mb(n: None) -> None: ...


def bytes_to_mb(n: float | None) -> float | None:
    return None if n is None else round(n / BYTES_PER_MB, 1)
