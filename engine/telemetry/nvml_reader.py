"""NVML (pynvml, from the nvidia-ml-py package) for discrete NVIDIA GPUs, plus psutil.

On a Jetson NVML reports no memory, so this reader is only chosen where NVML sees a GPU
with memory. Units from NVML: memory in bytes, power in mW, clocks in MHz, load in %.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

from engine.telemetry.base import Reader, ReaderUnavailable
from engine.telemetry.psutil_reader import psutil_fields
from engine.telemetry.snapshot import Snapshot, bytes_to_mb


def _optional(call, *args) -> Any:
    """NVML raises NVMLError_NotSupported for figures a card lacks; those become None."""
    try:
        return call(*args)
    except Exception:
        return None


class NvmlReader(Reader):
    """GPU `index` through NVML; RAM, swap and CPU through psutil."""

    name = "nvml"

    def __init__(self, index: int = 0) -> None:
        try:
            self._nv = importlib.import_module("pynvml")
        except ImportError as exc:
            raise ReaderUnavailable("pynvml (nvidia-ml-py) is not installed") from exc
        nv = self._nv
        try:
            nv.nvmlInit()
        except Exception as exc:
            raise ReaderUnavailable(f"NVML did not start: {exc}") from exc
        try:
            if nv.nvmlDeviceGetCount() <= index:
                raise ReaderUnavailable("NVML sees no GPU")
            self._handle = nv.nvmlDeviceGetHandleByIndex(index)
            memory = nv.nvmlDeviceGetMemoryInfo(self._handle)
            if not memory.total:
                raise ReaderUnavailable("NVML reports no GPU memory (integrated GPU)")
            name = nv.nvmlDeviceGetName(self._handle)
            self.gpu_name = name.decode() if isinstance(name, bytes) else str(name)
        except ReaderUnavailable:
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise ReaderUnavailable(f"NVML cannot read GPU {index}: {exc}") from exc

    def read(self) -> Snapshot:
        nv, handle = self._nv, self._handle
        memory = nv.nvmlDeviceGetMemoryInfo(handle)  # a failure here hands over to psutil
        util = _optional(nv.nvmlDeviceGetUtilizationRates, handle)
        power = _optional(nv.nvmlDeviceGetPowerUsage, handle)
        temp = _optional(nv.nvmlDeviceGetTemperature, handle, nv.NVML_TEMPERATURE_GPU)
        clock = _optional(nv.nvmlDeviceGetClockInfo, handle, nv.NVML_CLOCK_GRAPHICS)
        processes = _optional(nv.nvmlDeviceGetComputeRunningProcesses, handle) or []
        fields = psutil_fields()
        temps = dict(fields.pop("temps_c"))
        if temp is not None:
            temps["gpu"] = float(temp)
        return Snapshot(
            time=time.time(),
            source=self.name,
            **fields,
            gpu_name=self.gpu_name,
            gpu_mem_used_mb=bytes_to_mb(memory.used),
            gpu_mem_total_mb=bytes_to_mb(memory.total),
            gpu_load_pct=None if util is None else float(util.gpu),
            gpu_freq_mhz=None if clock is None else float(clock),
            power_total_mw=None if power is None else float(power),
            power_rails_mw={} if power is None else {"gpu": float(power)},
            temps_c=temps,
            # usedGpuMemory is None where the driver cannot attribute memory (e.g. WSL).
            gpu_process_mem_mb={
                p.pid: bytes_to_mb(p.usedGpuMemory)
                for p in processes
                if getattr(p, "usedGpuMemory", None) is not None
            },
        )

    def describe(self) -> str:
        return f"NVML ({self.gpu_name}) + psutil"

    def close(self) -> None:
        try:
            self._nv.nvmlShutdown()
        except Exception:  # shutting down an NVML that failed to start
            pass
