"""A model's estimated memory, the shape every runtime's estimate takes (engine.memory.fit
compares it with the machine's budget)."""

from __future__ import annotations

from dataclasses import dataclass

# A CUDA context with cuBLAS and the caching allocator's first blocks, on the device.
CUDA_CONTEXT_MB = 450.0


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
