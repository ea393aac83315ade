"""jtop (jetson-stats): the fullest view of a Jetson, when its service is running.

jtop is a client of the `jtop.service` daemon. `jtop().start()` raises JtopException at
once when the service is absent, refuses us (group), or runs another version. Its
properties are dict-like (jetson-stats 4.x):
  memory['RAM'] = {'tot','used','free','buffers','cached','shared','lfb'} in kB,
      'shared' being NvMapMemUsed; memory['SWAP'] = {'tot','used','cached','table'} in kB
  gpu[name] = {'type': 'integrated', 'status': {'load': %}, 'freq': {'cur': kHz, ...}}
  power = {'rail': {name: {'power': mW, 'avg': mW, 'volt': mV, 'curr': mA, ...}},
           'tot': {'power': mW, 'avg': mW, 'name': 'VDD_IN'}}  (empty dict when no sensors)
  temperature[name] = {'temp': C, 'online': bool}  (-256 when a sensor is offline)
  cpu = {'total': {'user','nice','system','idle'} in %, 'cpu': [per-core dicts]}
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from engine.telemetry.base import Reader, ReaderUnavailable
from engine.telemetry.snapshot import Snapshot, kib_to_mb

TEMPERATURE_OFFLINE = -256


def _get(mapping: Any, *keys: str) -> Any:
    for key in keys:
        if mapping is None:
            return None
        try:
            mapping = mapping[key]
        except (KeyError, TypeError, IndexError):
            return None
    return mapping


def snapshot_from_jtop(jetson: Any, now: float | None = None) -> Snapshot:
    """Translate jtop's documented structures into one Snapshot."""
    memory = jetson.memory
    ram_total = _get(memory, "RAM", "tot")
    ram_used = _get(memory, "RAM", "used")
    available = None if ram_total is None or ram_used is None else ram_total - ram_used
    gpu_load = gpu_freq_khz = None
    for gpu in jetson.gpu.values():
        # The first integrated GPU is the Jetson's own.
        if gpu.get("type") == "integrated" or gpu_load is None:
            gpu_load = _get(gpu, "status", "load")
            gpu_freq_khz = _get(gpu, "freq", "cur")
            if gpu.get("type") == "integrated":
                break
    power = jetson.power or {}
    rails = {
        name: float(rail["power"])
        for name, rail in (power.get("rail") or {}).items()
        if isinstance(rail, dict) and rail.get("power") is not None
    }
    total_power = _get(power, "tot", "power")
    temps = {
        name: round(float(sensor["temp"]), 1)
        for name, sensor in jetson.temperature.items()
        if sensor.get("online", True)
        and sensor.get("temp", TEMPERATURE_OFFLINE) != TEMPERATURE_OFFLINE
    }
    idle = _get(jetson.cpu, "total", "idle")
    return Snapshot(
        time=time.time() if now is None else now,
        source="jtop",
        ram_total_mb=kib_to_mb(ram_total),
        ram_used_mb=kib_to_mb(ram_used),
        ram_available_mb=kib_to_mb(available),
        gpu_shared_mb=kib_to_mb(_get(memory, "RAM", "shared")),
        swap_total_mb=kib_to_mb(_get(memory, "SWAP", "tot")),
        swap_used_mb=kib_to_mb(_get(memory, "SWAP", "used")),
        gpu_load_pct=None if gpu_load is None else round(float(gpu_load), 1),
        gpu_freq_mhz=None if gpu_freq_khz is None else round(gpu_freq_khz / 1000.0, 1),
        power_total_mw=None if total_power is None else float(total_power),
        power_rails_mw=rails,
        temps_c=temps,
        cpu_pct=None if idle is None else round(100.0 - float(idle), 1),
    )


class JtopReader(Reader):
    """Reads a running jtop client; its own thread keeps the data fresh."""

    name = "jtop"

    def __init__(self, interval: float = 1.0) -> None:
        try:
            module = importlib.import_module("jtop")
        except ImportError as exc:
            raise ReaderUnavailable("jetson-stats (jtop) is not installed") from exc
        self.version = str(getattr(module, "__version__", "unknown"))
        exception_type = getattr(module, "JtopException", RuntimeError)
        self._jetson = module.jtop(interval=interval)
        try:
            self._jetson.start()
        except exception_type as exc:
            # Service down, permission (jtop group) or client/service version mismatch:
            # jtop's own message says which and what to run.
            message = " ".join(str(exc).split())
            raise ReaderUnavailable(f"jtop {self.version}: {message}") from exc

    def read(self) -> Snapshot:
        # spin=True: do not wait for the next jtop update; it re-raises the error its
        # thread stored if the connection to the service was lost.
        if not self._jetson.ok(spin=True):
            raise ConnectionError("jtop stopped (its service closed the connection)")
        return snapshot_from_jtop(self._jetson)

    def describe(self) -> str:
        return f"jtop {self.version} (jetson-stats service)"

    def close(self) -> None:
        try:
            self._jetson.close()
        except Exception:  # closing a half-dead client must not hide the real problem
            pass
