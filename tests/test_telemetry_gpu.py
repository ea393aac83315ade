"""The torch and NVML readers for real. Without a CUDA GPU only the 'no GPU' answers run."""

from __future__ import annotations

import importlib.util

import pytest

torch = pytest.importorskip("torch")
HAS_CUDA = torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")


@pytest.mark.skipif(HAS_CUDA, reason="this machine has a GPU")
def test_torch_memory_without_cuda_is_none():
    from engine.telemetry.torch_memory import cuda_memory, reset_peak

    assert cuda_memory() is None
    reset_peak()  # a no-op without CUDA, not an error


@pytest.mark.gpu
@needs_gpu
def test_torch_memory_follows_an_allocation():
    from engine.telemetry.torch_memory import cuda_memory, reset_peak

    reset_peak()
    before = cuda_memory()
    block = torch.empty(64 * 2**20, dtype=torch.uint8, device="cuda")  # 64 MiB
    during = cuda_memory()
    assert during.allocated_mb - before.allocated_mb >= 63.9
    assert during.peak_allocated_mb >= during.allocated_mb
    assert during.reserved_mb >= during.allocated_mb
    del block
    torch.cuda.empty_cache()
    after = cuda_memory()
    assert after.allocated_mb <= before.allocated_mb + 0.1
    assert after.peak_allocated_mb >= during.allocated_mb  # the peak remembers
    print("torch memory:", before, during, after)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.skipif(importlib.util.find_spec("pynvml") is None, reason="pynvml not installed")
def test_nvml_reader_on_a_real_gpu():
    from engine.telemetry.nvml_reader import NvmlReader

    reader = NvmlReader()
    try:
        block = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
        snap = reader.read()
        del block
    finally:
        reader.close()
    print("nvml:", snap)
    assert snap.gpu_mem_total_mb > 1000
    assert 0 < snap.gpu_mem_used_mb <= snap.gpu_mem_total_mb
    assert snap.gpu_load_pct is not None and 0 <= snap.gpu_load_pct <= 100
    assert snap.board_used_mb == snap.gpu_mem_used_mb
