"""Will a model fit? An estimate of its memory against the machine's budget.

No torch here: the UI calls this for every catalog row. The figures are for the whole
worker process (the libraries it imports, the tokenizer, the weights, the KV cache at
the context asked for, activations), so they compare directly with available memory before
the worker starts. Each runtime estimates its own (engine.runtimes); the budget is read
here.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.catalog.entries import ModelEntry
from engine.machine import is_jetson
from engine.runtimes import runtime_named
from engine.runtimes.fit_estimate import CUDA_CONTEXT_MB, FitEstimate
from engine.runtimes.transformers.memory import CPU_RUNTIME_MB, auto_precision
from engine.units import MB

__all__ = [
    "CPU_RUNTIME_MB",
    "CUDA_CONTEXT_MB",
    "FITS",
    "NO_FIT",
    "TIGHT",
    "Budget",
    "FitEstimate",
    "budget",
    "estimate",
    "resolve",
    "verdict",
]

# /proc/meminfo, where a Jetson's budget is read (its GPU shares the RAM). Overridable for
# tests, like engine.machine's Jetson files.
MEMINFO = Path("/proc/meminfo")

FITS, TIGHT, NO_FIT = "fits", "tight", "does not fit"


@dataclass(frozen=True)
class Budget:
    """Memory a new worker may use on ``device``. available_mb None = cannot tell."""

    device: str
    available_mb: float | None
    total_mb: float | None
    source: str  # psutil | /proc/meminfo | nvml | nvidia-smi | unknown


def estimate(
    entry: ModelEntry,
    precision: str,
    device: str,
    context_length: int | None = None,
    config: dict[str, Any] | None = None,
    runtime: str | None = None,
) -> FitEstimate | None:
    """Estimate the peak memory of the worker running ``entry`` on ``runtime`` (default:
    transformers; see each runtime's estimate: engine.runtimes).

    ``precision``/``device`` may be "auto" (fp16 on cuda, fp32 on cpu; auto device is
    cuda when this machine looks like it has one). ``context_length`` defaults to the
    model's full context. ``config`` is the model's config.json as a dict; when absent
    it is read from disk if the model is there, else the catalog's shape fields are used.

    On llama.cpp: the GGUF file's size, the f16 KV cache at the context (shape from the
    file's header) and llama.cpp's measured overhead (engine.runtimes.llamacpp.memory);
    precision is then the file's quant type, and the result None when ``entry`` has no
    GGUF file for ``precision``, on disk or published. Transformers never gives None.
    """
    device = resolve("fp32", device)[1]
    return runtime_named(runtime).estimate(
        entry, precision, device, context_length, config, is_jetson()
    )


def resolve(precision: str, device: str) -> tuple[str, str]:
    """(precision, device) with "auto" resolved as the worker resolves it for transformers
    (cuda when there is a GPU, then fp16 on cuda and fp32 on cpu), without torch."""
    if device == "auto":
        device = "cuda" if _has_cuda() else "cpu"
    return auto_precision(precision, device), device


def verdict(estimate_mb: float, budget_mb: float) -> str:
    """ "fits" with 20% to spare, "tight" when it fits without that margin, else
    "does not fit"."""
    if estimate_mb <= budget_mb * 0.8:
        return FITS
    if estimate_mb <= budget_mb:
        return TIGHT
    return NO_FIT


def budget(device: str, meminfo: Path | None = None) -> Budget:
    """Memory available to a new worker on ``device`` ("auto" picks cuda when present).

    CPU: psutil's available RAM. Jetson: MemAvailable, because its GPU shares the RAM
    (and cudaMemGetInfo under-reports free memory there). Discrete GPU: free device
    memory from NVML, else nvidia-smi.
    """
    if device == "auto":
        device = "cuda" if _has_cuda() else "cpu"
    if device == "cuda" and is_jetson():
        available, total = _meminfo(meminfo or MEMINFO)
        return Budget("cuda", available, total, "/proc/meminfo")
    if device == "cuda":
        gpu = _nvml_memory() or _nvidia_smi_memory()
        if gpu is None:
            return Budget("cuda", None, None, "unknown")
        free, total, source = gpu
        return Budget("cuda", free, total, source)
    import psutil

    memory = psutil.virtual_memory()
    return Budget("cpu", memory.available / MB, memory.total / MB, "psutil")


def _meminfo(path: Path) -> tuple[float | None, float | None]:
    values: dict[str, float] = {}
    try:
        for line in path.read_text().splitlines():
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                values[key.strip()] = int(parts[0]) / 1024  # kB -> MB
    except OSError:
        return None, None
    return values.get("MemAvailable"), values.get("MemTotal")


def _has_cuda() -> bool:
    """Without torch: a Jetson, or an NVIDIA driver that NVML can talk to."""
    return is_jetson() or _nvml_memory() is not None


class _NvmlMemory(ctypes.Structure):
    _fields_ = [
        ("total", ctypes.c_ulonglong),
        ("free", ctypes.c_ulonglong),
        ("used", ctypes.c_ulonglong),
    ]


def _nvml_memory() -> tuple[float, float, str] | None:
    """(free MB, total MB, "nvml") of GPU 0 via the driver's NVML library, or None."""
    try:
        nvml = ctypes.CDLL("libnvidia-ml.so.1")
    except OSError:
        return None
    try:
        if nvml.nvmlInit_v2() != 0:
            return None
        handle = ctypes.c_void_p()
        memory = _NvmlMemory()
        ok = (
            nvml.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle)) == 0
            and nvml.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(memory)) == 0
        )
        nvml.nvmlShutdown()
    except AttributeError:
        return None
    return (memory.free / MB, memory.total / MB, "nvml") if ok else None


def _nvidia_smi_memory() -> tuple[float, float, str] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [
                exe,
                "--query-gpu=memory.free,memory.total",
                "--format=csv,noheader,nounits",
                "-i",
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
        free, total = (float(x) for x in out.strip().splitlines()[0].split(","))
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        return None
    return free, total, "nvidia-smi"  # nvidia-smi reports MiB
