"""psutil: RAM, swap, CPU and temperatures on any machine; the reader of last resort."""

from __future__ import annotations

import time

import psutil

from engine.telemetry.base import Reader
from engine.telemetry.snapshot import Snapshot, bytes_to_mb


def temperatures_c() -> dict[str, float]:
    """Sensor name -> degrees C from psutil (empty where the OS exposes none)."""
    read = getattr(psutil, "sensors_temperatures", None)
    if read is None:
        return {}
    try:
        sensors = read()
    except (OSError, RuntimeError):
        return {}
    temps: dict[str, float] = {}
    for chip, entries in sensors.items():
        for entry in entries:
            key = entry.label or chip
            if key in temps:
                key = f"{chip}/{key}"
            if key not in temps and entry.current is not None:
                temps[key] = round(float(entry.current), 1)
    return temps


def psutil_fields() -> dict:
    """The Snapshot fields psutil can fill: RAM (used = total - available), swap, CPU, temps."""
    vm = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return {
        "ram_total_mb": bytes_to_mb(vm.total),
        "ram_used_mb": bytes_to_mb(vm.total - vm.available),
        "ram_available_mb": bytes_to_mb(vm.available),
        "swap_total_mb": bytes_to_mb(swap.total),
        "swap_used_mb": bytes_to_mb(swap.used),
        # Non-blocking: the share of CPU time since the previous call.
        "cpu_pct": psutil.cpu_percent(interval=None),
        "temps_c": temperatures_c(),
    }


def process_rss_mb(pids: dict[str, int]) -> dict[str, float]:
    """Resident memory of each watched process; a process that has gone is left out."""
    result: dict[str, float] = {}
    for label, pid in pids.items():
        try:
            result[label] = bytes_to_mb(psutil.Process(pid).memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return result


class PsutilReader(Reader):
    """Works everywhere psutil does; knows nothing about GPUs."""

    name = "psutil"

    def __init__(self) -> None:
        psutil.cpu_percent(interval=None)  # the first call only sets the reference point

    def read(self) -> Snapshot:
        return Snapshot(time=time.time(), source=self.name, **psutil_fields())

    def describe(self) -> str:
        return "psutil (RAM, swap, CPU, temperatures; no GPU figures)"
