"""Memory of a model on llama.cpp: its GGUF file, the KV cache at the context, a measured
runtime overhead and the compute buffer of a full-context prompt. No llama_cpp import: the
file's header is read directly (engine.gguf_files), so the catalog can call this per row.

The figures, measured on the development machine (x86-64, llama-cpp-python 0.3.36 CPU
build) with the bundled SmolLM2-135M-Instruct Q4_1 file (93.8 MB) through the real worker,
peak RSS after a 64-token greedy reply (`python bench/llama_memory.py` measures them again):

| working context | short prompt | prompt filling the context |
|---|---|---|
| 1024 | 186.2 MB | 210.6 MB |
| 4096 | 253.8 MB | 348.4 MB |
| 8192 | 343.9 MB | 536.9 MB |

Short prompt minus file minus f16 KV cache (22.5 / 90 / 180 MB) is 70 MB at each context:
that is LLAMA_CPP_RUNTIME_MB (Python, the engine, libllama, its output and small buffers).
A prompt that fills the context adds 23.6 MB per 1024 tokens: the attention scores of one
512-token batch against the whole cache (f32, one row per head), 1.3 times that with the
mask and softmax: PREFILL_BYTES_PER_HEAD.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.catalog.entries import ModelEntry
from engine.errors import UsageError
from engine.runtimes.fit_estimate import CUDA_CONTEXT_MB, FitEstimate
from engine.units import MB

LLAMA_CPP_RUNTIME_MB = 70.0
N_UBATCH = 512  # llama-cpp-python's default micro-batch
PREFILL_BYTES_PER_HEAD = N_UBATCH * 4 * 1.3  # per context token
KV_BYTES = 2.0  # llama.cpp's default cache type is f16

# Bits per weight of a quant type, for a published file that is not downloaded (its size
# is then a guess: small models keep their embeddings at a higher precision).
BITS_PER_WEIGHT = {
    "F32": 32.0,
    "F16": 16.0,
    "BF16": 16.0,
    "Q8_0": 8.5,
    "Q6_K": 6.56,
    "Q5_K_M": 5.69,
    "Q5_K_S": 5.54,
    "Q5_1": 6.0,
    "Q5_0": 5.5,
    "Q4_K_M": 4.85,
    "Q4_K_S": 4.58,
    "Q4_1": 5.0,
    "Q4_0": 4.5,
    "IQ4_XS": 4.25,
    "IQ4_NL": 4.5,
    "Q3_K_L": 4.27,
    "Q3_K_M": 3.91,
    "Q3_K_S": 3.5,
    "Q2_K": 3.35,
}


def has_gguf_build(entry: ModelEntry) -> bool:
    """Whether llama.cpp could run ``entry`` once its file is there: the bundled model, a
    local .gguf entry, or a published GGUF build in the catalog."""
    if entry.kind != "causal":
        return False
    if entry.source == "bundled":
        return True
    if entry.source == "local":
        return (entry.path or "").endswith(".gguf")
    return bool(entry.gguf_repo and entry.gguf_files)


def estimate_llamacpp(
    entry: ModelEntry,
    precision: str,
    device: str,
    context_length: int | None,
    shared_ram: bool = False,
) -> FitEstimate | None:
    """engine.memory.fit.estimate on llama.cpp; None when there is no GGUF file for
    ``precision`` (downloaded or published). The context is ``context_length`` capped at
    the model's trained context, as a load caps it (engine.runtimes.llamacpp.load.context_size);
    None = the trained context. ``shared_ram``: the GPU shares the RAM (a Jetson)."""
    chosen = _file_for(entry, precision)
    if chosen is None:
        return None
    quant, path = chosen
    meta = _metadata(path) if path is not None else {}
    arch = str(meta.get("general.architecture", ""))
    shape = _shape(entry, meta, arch)
    trained = _positive(meta.get(f"{arch}.context_length")) or entry.context_length
    ctx = min(context_length or trained, trained)
    if path is not None:
        weights = path.stat().st_size / MB
    else:
        weights = entry.params * BITS_PER_WEIGHT.get(quant, 8.5) / 8 / MB
    approximate = path is None or not (shape["layers"] and shape["kv_heads"])
    if shape["layers"] and shape["kv_heads"] and shape["key"]:
        kv = (
            shape["layers"]
            * shape["kv_heads"]
            * (shape["key"] + shape["value"])
            * KV_BYTES
            * ctx
            / MB
        )
    else:
        kv = weights * 0.15 * ctx / 2048  # as transformers' estimate guesses an unknown shape
    activations = (shape["heads"] or 8) * PREFILL_BYTES_PER_HEAD * ctx / MB
    if device == "cuda":
        # Weights, cache and compute buffer on the GPU; not measured here (no GPU).
        overhead = CUDA_CONTEXT_MB + (LLAMA_CPP_RUNTIME_MB if shared_ram else 0.0)
    else:
        overhead = LLAMA_CPP_RUNTIME_MB
    total = overhead + weights + kv + activations
    return FitEstimate(
        entry.id,
        quant,
        device,
        ctx,
        round(weights, 1),
        round(kv, 1),
        round(activations, 1),
        overhead,
        0.0,
        round(total, 1),
        approximate,
    )


def _file_for(entry: ModelEntry, precision: str) -> tuple[str, Path | None] | None:
    """(quant, path) of the file a load would use, or (quant, None) for the published file
    a download would fetch; None when there is none for ``precision``."""
    from engine.gguf_files import (
        _QUANT_IN_NAME,
        AUTO_ORDER,
        PRECISION_QUANTS,
        GGUFError,
        choose_file,
        gguf_paths,
    )

    try:
        chosen = choose_file(entry, precision)
        return chosen.quant, chosen.path
    except GGUFError:  # a damaged file: the load says so; sized from its name and size
        path = gguf_paths(entry)[0]
        match = _QUANT_IN_NAME.search(path.name)
        return (match.group(1).upper() if match else "?"), path
    except UsageError:  # none on disk for it: what a download would fetch
        pass
    published = [q for q, _ in entry.gguf_files]
    wanted = AUTO_ORDER if precision == "auto" else PRECISION_QUANTS.get(precision, ())
    for quant in wanted:
        if quant in published:
            return quant, None
    if precision == "auto" and published:
        return published[0], None
    return None


def _metadata(path: Path) -> dict[str, Any]:
    from engine.gguf_files import read_metadata

    try:
        return read_metadata(path)
    except UsageError:  # damaged: the load says so; the estimate uses the catalog's shape
        return {}


def _positive(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _shape(entry: ModelEntry, meta: dict[str, Any], arch: str) -> dict[str, int]:
    """n_layer, n_head, n_head_kv and K/V head sizes from the header, else the catalog."""

    def key(name: str) -> int:
        return _positive(meta.get(f"{arch}.{name}"))

    layers = key("block_count") or entry.layers or 0
    heads = key("attention.head_count") or entry.heads or 0
    hidden = key("embedding_length") or entry.hidden_size or 0
    kv_heads = key("attention.head_count_kv") or entry.kv_heads or heads
    head_dim = hidden // heads if heads else 0
    k = key("attention.key_length") or head_dim
    v = key("attention.value_length") or head_dim
    return {"layers": layers, "heads": heads, "kv_heads": kv_heads, "key": k, "value": v}
