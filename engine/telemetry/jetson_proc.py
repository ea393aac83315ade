"""Jetson without jtop: board memory from /proc/meminfo (NvMapMemUsed) and GPU load from sysfs.

On a Jetson the CPU and GPU share the board's RAM; NVML reports no memory there. The
nvmap driver adds `NvMapMemUsed` to /proc/meminfo: the RAM currently mapped for the GPU
(readable without root). The integrated GPU's load is a per-mille value in a `load` file
of its device folder; its clock is in the devfreq folder's `cur_freq` (Hz).
"""

from __future__ import annotations

import glob
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

from engine import machine
from engine.telemetry.base import Reader, ReaderUnavailable
from engine.telemetry.psutil_reader import psutil_fields
from engine.telemetry.snapshot import Snapshot, kib_to_mb

MEMINFO = Path("/proc/meminfo")
# Where the integrated GPU's `load` file lives, by board generation (first readable wins):
# Nano/TX1 and older L4T, Orin on JetPack 5, Orin on JetPack 6, then any devfreq GPU.
GPU_LOAD_PATHS: tuple[str, ...] = (
    "/sys/devices/gpu.0/load",
    "/sys/devices/platform/gpu.0/load",
    "/sys/devices/17000000.ga10b/load",
    "/sys/devices/platform/17000000.ga10b/load",
    "/sys/devices/platform/bus@0/17000000.gpu/load",
    "/sys/class/devfreq/*.gpu/device/load",
    "/sys/class/devfreq/*.ga10b/device/load",
    "/sys/class/devfreq/*.gv11b/device/load",
    "/sys/class/devfreq/*.gp10b/device/load",
)
GPU_FREQ_PATHS: tuple[str, ...] = (
    "/sys/class/devfreq/17000000.ga10b/cur_freq",
    "/sys/class/devfreq/17000000.gpu/cur_freq",
    "/sys/class/devfreq/*.ga10b/cur_freq",
    "/sys/class/devfreq/*.gpu/cur_freq",
    "/sys/class/devfreq/57000000.gpu/cur_freq",
    "/sys/class/devfreq/*.gv11b/cur_freq",
    "/sys/class/devfreq/*.gp10b/cur_freq",
)

_LINE = re.compile(r"^(?P<key>[^:]+):\s+(?P<value>\d+)(?:\s+(?P<unit>kB))?\s*$")


def parse_meminfo(text: str) -> dict[str, int]:
    """Key -> value of /proc/meminfo; values with 'kB' are KiB, others are counts."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if match:
            values[match["key"]] = int(match["value"])
    return values


def _first_readable(patterns: Sequence[str]) -> Path | None:
    for pattern in patterns:
        candidates = sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]
        for candidate in candidates:
            if os.access(candidate, os.R_OK):
                return Path(candidate)
    return None


def _read_number(path: Path | None) -> float | None:
    if path is None:
        return None
    try:
        return float(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class JetsonProcReader(Reader):
    """Board memory, GPU-shared memory, GPU load/clock from files; CPU/temps from psutil."""

    name = "jetson-proc"

    def __init__(
        self,
        meminfo_path: Path | str = MEMINFO,
        gpu_load_paths: Sequence[str] = GPU_LOAD_PATHS,
        gpu_freq_paths: Sequence[str] = GPU_FREQ_PATHS,
    ) -> None:
        self.meminfo_path = Path(meminfo_path)
        try:
            first = parse_meminfo(self.meminfo_path.read_text())
        except OSError as exc:
            raise ReaderUnavailable(f"cannot read {self.meminfo_path}: {exc}") from exc
        # NvMapMemUsed is the Jetson sign that matters here; without it (newer kernels with
        # the unified driver) this reader still gives board memory if it is a Jetson.
        if "NvMapMemUsed" not in first and not machine.is_jetson():
            raise ReaderUnavailable(f"no NvMapMemUsed in {self.meminfo_path}: not a Jetson")
        self.has_nvmap = "NvMapMemUsed" in first
        self.gpu_load_path = _first_readable(gpu_load_paths)
        self.gpu_freq_path = _first_readable(gpu_freq_paths)

    def read(self) -> Snapshot:
        info = parse_meminfo(self.meminfo_path.read_text())
        if "MemTotal" not in info:
            raise OSError(f"{self.meminfo_path} has no MemTotal")
        fields = psutil_fields()
        total = info["MemTotal"]
        available = info.get("MemAvailable", info.get("MemFree", 0))
        swap_total = info.get("SwapTotal")
        swap_free = info.get("SwapFree")
        load_permille = _read_number(self.gpu_load_path)
        freq_hz = _read_number(self.gpu_freq_path)
        fields.update(
            ram_total_mb=kib_to_mb(total),
            ram_used_mb=kib_to_mb(total - available),
            ram_available_mb=kib_to_mb(available),
            gpu_shared_mb=kib_to_mb(info.get("NvMapMemUsed")),
            swap_total_mb=kib_to_mb(swap_total),
            swap_used_mb=kib_to_mb(
                None if swap_total is None or swap_free is None else swap_total - swap_free
            ),
            gpu_load_pct=None if load_permille is None else round(load_permille / 10.0, 1),
            gpu_freq_mhz=None if freq_hz is None else round(freq_hz / 1e6, 1),
        )
        return Snapshot(time=time.time(), source=self.name, **fields)

    def describe(self) -> str:
        parts = [f"{self.meminfo_path}" + (" (NvMapMemUsed)" if self.has_nvmap else "")]
        parts.append(
            f"GPU load {self.gpu_load_path}" if self.gpu_load_path else "GPU load file not readable"
        )
        return "Jetson files: " + ", ".join(parts) + "; no power figures without jtop"
