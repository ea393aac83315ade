"""Memory of a model on transformers: its weights at the precision, the KV cache at the
context, a prefill's activations and the libraries' measured overhead. No torch here: the
catalog calls this for every row. Constants were measured on the development machine
(x86-64, torch 2.13 CPU, transformers 5.23) and are documented next to each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.catalog.entries import ModelEntry
from engine.runtimes.fit_estimate import CUDA_CONTEXT_MB, FitEstimate
from engine.units import MB

# RSS of a process after `import torch, transformers` (230 MB measured) plus what
# loading any model adds besides its weights: tokenizer, model code, allocator (170 MB).
CPU_RUNTIME_MB = 400.0
# Memory the caching allocator holds beyond what tensors use.
CUDA_SLACK = 1.10

_BYTES = {"fp32": 4.0, "fp16": 2.0, "bf16": 2.0, "int8": 1.0, "int4": 0.5}
_DTYPE_BYTES = {"float32": 4.0, "float16": 2.0, "bfloat16": 2.0, "float64": 8.0}


def auto_precision(precision: str, device: str) -> str:
    """auto -> fp16 on cuda, fp32 on cpu, as the loader resolves it."""
    if precision == "auto":
        return "fp16" if device == "cuda" else "fp32"
    return precision


def estimate_transformers(
    entry: ModelEntry,
    precision: str,
    device: str,
    context_length: int | None,
    config: dict[str, Any] | None,
    shared_ram: bool,
) -> FitEstimate:
    """engine.memory.fit.estimate on transformers (``device`` resolved; ``shared_ram``: the
    GPU shares the RAM, so the libraries' overhead counts on top of the CUDA context)."""
    precision = auto_precision(precision, device)
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
        overhead = CUDA_CONTEXT_MB + (CPU_RUNTIME_MB if shared_ram else 0.0)
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
