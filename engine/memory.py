"""Will a model fit? An estimate of its memory against the machine's budget.

No torch here: the UI calls this for every catalog row. The figures are for the whole
worker process (the libraries it imports, the tokenizer, the weights, the KV cache at
the context asked for, activations), so they compare directly with available memory before
the worker starts. Constants were measured on the development machine (x86-64, torch
2.13 CPU, transformers 5.23) and are documented next to each.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.catalog import ModelEntry
from engine.machine import is_jetson
from engine.units import MB

# RSS of a process after `import torch, transformers` (230 MB measured) plus what
# loading any model adds besides its weights: tokenizer, model code, allocator (170 MB).
CPU_RUNTIME_MB = 400.0
# A CUDA context with cuBLAS and the caching allocator's first blocks, on the device.
CUDA_CONTEXT_MB = 450.0
# Memory the caching allocator holds beyond what tensors use.
CUDA_SLACK = 1.10

# /proc/meminfo, where a Jetson's budget is read (its GPU shares the RAM). Overridable for
# tests, like engine.machine's Jetson files.
MEMINFO = Path("/proc/meminfo")

_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
_DTYPE_BYTES = {"float32": 4.0, "float16": 2.0, "bfloat16": 2.0, "float64": 8.0}
FITS, TIGHT, NO_FIT = "fits", "tight", "does not fit"


@dataclass(frozen=True)
class FitEstimate:
    """Megabytes (2**20 bytes). total_mb is what to compare with a Budget."""

    model_id: str
    precision: str  # resolved: fp32 | fp16 | bf16 | int8 | int4
    device: str  # cpu | cuda
    context_length: int
    weights_mb: float
    kv_cache_mb: float
    activations_mb: float
    overhead_mb: float  # libraries, tokenizer, CUDA context
    load_extra_mb: float  # transient while loading (the file mapped during a dtype change)
    total_mb: float
    approximate: bool  # True when the model's shape was not known and was guessed


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
    runtime: str = "transformers",
) -> FitEstimate | None:
    """Estimate the peak memory of the worker running ``entry``.

    ``precision``/``device`` may be "auto" (fp16 on cuda, fp32 on cpu; auto device is
    cuda when this machine looks like it has one). ``context_length`` defaults to the
    model's full context. ``config`` is the model's config.json as a dict; when absent
    it is read from disk if the model is there, else the catalog's shape fields are used.

    ``runtime`` "llama.cpp": the GGUF file's size, the f16 KV cache at the context (shape
    from the file's header) and llama.cpp's measured overhead (engine.gguf_memory);
    precision is then the file's quant type, and the result None when ``entry`` has no
    GGUF file for ``precision``, on disk or published. Transformers never gives None.
    """
    if runtime == "llama.cpp":
        from engine.gguf_memory import estimate_llamacpp

        return estimate_llamacpp(entry, precision, resolve("fp32", device)[1], context_length)
    precision, device = resolve(precision, device)
    config = config if config is not None else _read_config(entry) or {}
    shape = _shape(entry, config)
    ctx = int(context_length or entry.context_length)
    compute_bytes = 2.0 if device == "cuda" else 4.0
    if precision in ("fp16", "bf16", "fp32"):
        compute_bytes = _BYTES[precision]

    params = float(entry.params)
    # bitsandbytes leaves embeddings and the output head unquantized.
    unquantized = 0.0
    if precision in ("int8", "int4") and shape["vocab"] and shape["hidden"]:
        tied = config.get("tie_word_embeddings", True)
        unquantized = min(params, shape["vocab"] * shape["hidden"] * (1 if tied else 2))
    weights = ((params - unquantized) * _BYTES[precision] + unquantized * compute_bytes) / MB

    approximate = not (shape["layers"] and shape["hidden"])
    if approximate:
        kv = weights * 0.15 * ctx / 2048
        activations = weights * 0.05
    else:
        per_token = 2 * shape["layers"] * shape["kv_heads"] * shape["head_dim"] * compute_bytes
        if entry.kind == "seq2seq":
            per_token *= 2  # decoder self-attention and cross-attention caches
        kv = per_token * ctx / MB
        # Prefill of a full-context prompt: a dozen hidden-sized tensors per token.
        activations = ctx * shape["hidden"] * compute_bytes * 12 / MB

    load_extra = _load_extra(entry, config, precision, device, params) / MB
    if device == "cuda":
        overhead = CUDA_CONTEXT_MB + (CPU_RUNTIME_MB if is_jetson() else 0.0)
        running = (weights + kv + activations) * CUDA_SLACK
        total = overhead + max(running, weights + load_extra)
    else:
        overhead = CPU_RUNTIME_MB
        total = overhead + max(weights + kv + activations, weights + load_extra)
    return FitEstimate(
        entry.id,
        precision,
        device,
        ctx,
        round(weights, 1),
        round(kv, 1),
        round(activations, 1),
        overhead,
        round(load_extra, 1),
        round(total, 1),
        approximate,
    )


def resolve(precision: str, device: str) -> tuple[str, str]:
    """(precision, device) with "auto" resolved as the worker resolves it (engine.runtime:
    cuda when there is a GPU, then fp16 on cuda and fp32 on cpu), without torch."""
    if device == "auto":
        device = "cuda" if _has_cuda() else "cpu"
    if precision == "auto":
        precision = "fp16" if device == "cuda" else "fp32"
    return precision, device


def _load_extra(
    entry: ModelEntry, config: dict[str, Any], precision: str, device: str, params: float
) -> float:
    """Bytes held, beyond the loaded weights, only while loading. On CPU, when the stored
    dtype differs from the loaded one, the mapped file and the converted copy coexist
    (measured: a bf16 file loaded as fp32 peaks at both); bitsandbytes on CPU goes
    through the full fp32 model before quantizing (measured: int8 peaks like fp32)."""
    if device != "cpu":
        return 0.0
    stored = _DTYPE_BYTES.get(str(config.get("torch_dtype") or config.get("dtype") or ""))
    if entry.source == "bundled":
        stored = 2.0  # the converted copy is bf16
    if precision in ("int8", "int4"):
        peak = params * ((stored or 4.0) + 4.0)
        weights = params * _BYTES[precision]
        return max(0.0, peak - weights)
    if stored is None or stored == _BYTES[precision]:
        return 0.0
    return params * stored


def _shape(entry: ModelEntry, config: dict[str, Any]) -> dict[str, int]:
    def pick(*names: str) -> int:
        for name in names:
            value = config.get(name)
            if isinstance(value, int) and value > 0:
                return value
        return 0

    layers = pick("num_decoder_layers", "num_hidden_layers", "n_layer", "num_layers") or (
        entry.layers or 0
    )
    hidden = pick("hidden_size", "n_embd", "d_model") or (entry.hidden_size or 0)
    heads = pick("num_attention_heads", "n_head", "num_heads") or (entry.heads or 0)
    kv_heads = pick("num_key_value_heads", "multi_query_group_num") or entry.kv_heads or heads
    head_dim = pick("head_dim", "d_kv") or (hidden // heads if heads else 0)
    vocab = pick("vocab_size", "padded_vocab_size") or (entry.vocab_size or 0)
    return {
        "layers": layers,
        "hidden": hidden,
        "heads": heads,
        "kv_heads": kv_heads or 0,
        "head_dim": head_dim,
        "vocab": vocab,
    }


def _read_config(entry: ModelEntry) -> dict[str, Any] | None:
    """config.json from disk when the model is there (local folder or HF cache)."""
    candidates: list[Path] = []
    if entry.source == "local" and entry.path:
        path = Path(entry.path).expanduser()
        candidates.append(path / "config.json" if path.is_dir() else path.parent / "config.json")
    elif entry.source == "hub" and entry.repo:
        from engine.paths import hf_cache_dir

        repo_dir = hf_cache_dir() / f"models--{entry.repo.replace('/', '--')}"
        ref = repo_dir / "refs" / (entry.revision or "main")
        try:
            commit = ref.read_text().strip()
        except OSError:
            commit = entry.revision or ""
        if commit:
            candidates.append(repo_dir / "snapshots" / commit / "config.json")
    for candidate in candidates:
        try:
            data = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            return data
    return None


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
