"""CUDA memory as torch sees it, for use inside the engine worker process only.

Imports torch lazily: the UI process must never load it (models run in the worker
process, engine.worker).
On an integrated GPU (Jetson) torch's allocator figures are the model's share of board
memory; torch.cuda.mem_get_info() under-reports free memory there, so it is not used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from engine.units import MB


@dataclass(frozen=True)
class TorchMemory:
    device: str
    allocated_mb: float
    reserved_mb: float
    peak_allocated_mb: float
    peak_reserved_mb: float
    is_integrated: bool

    def to_dict(self) -> dict:
        return asdict(self)


def cuda_memory(device: int | str | None = None) -> TorchMemory | None:
    """Allocated / reserved / peak CUDA memory of this process, or None without CUDA."""
    import torch

    if not torch.cuda.is_available():
        return None
    index = torch.cuda.current_device() if device is None else torch.device(device).index or 0
    mib = MB
    props = torch.cuda.get_device_properties(index)
    return TorchMemory(
        device=f"cuda:{index}",
        allocated_mb=round(torch.cuda.memory_allocated(index) / mib, 1),
        reserved_mb=round(torch.cuda.memory_reserved(index) / mib, 1),
        peak_allocated_mb=round(torch.cuda.max_memory_allocated(index) / mib, 1),
        peak_reserved_mb=round(torch.cuda.max_memory_reserved(index) / mib, 1),
        is_integrated=bool(getattr(props, "is_integrated", False)),
    )


def reset_peak(device: int | str | None = None) -> None:
    """Start a new peak measurement (call before a reply or an evaluation)."""
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats(device)
