"""Memory fit: the estimate against measured peaks, budgets, verdicts. No torch in memory.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import engine.memory.fit as memory
from engine.catalog.entries import load_catalog
from engine.memory.fit import budget, estimate, verdict

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_CACHE = REPO_ROOT / ".cache" / "bundled"

# Peak RSS of a fresh process (from before it imports torch) that loads the model and
# generates; the same thing the estimate predicts. The peak is VmHWM, which starts afresh
# at exec; ru_maxrss would carry over the parent's (pytest's) high-water mark.
_MEASURE = r"""
import json, sys, psutil
start = psutil.Process().memory_info().rss
from engine.runtimes.loading import load_model
from engine.settings import LoadOptions
model_id, catalog, new = sys.argv[1], sys.argv[2], int(sys.argv[3])
loaded = load_model(LoadOptions(model_id, catalog_path=catalog))
ids = loaded.tokenizer("Tell me a long story about the sea.", return_tensors="pt").input_ids
loaded.model.generate(ids, max_new_tokens=new, min_new_tokens=new, do_sample=False)
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak = int(status.split()[0]) * 1024
print(json.dumps({"growth_mb": (peak - start) / 2**20, "prompt": ids.shape[1]}))
"""


def measured(model_id: str, catalog: Path, new: int) -> dict:
    env = dict(os.environ, SMOLLM_TUI_BUNDLED_DIR=str(BUNDLED_CACHE))
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, model_id, str(catalog), str(new)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model_id", ["tiny-llama", "smollm2-135m-instruct"])
def test_estimate_within_30_percent_of_measured_peak(model_id, tiny_catalog):
    import torch

    if torch.version.cuda and not torch.cuda.is_available():
        pytest.skip(
            "the CPU estimate's runtime overhead is torch's CPU build; a CUDA build "
            "on a machine without a GPU maps its CUDA libraries too (seen: 711 MB "
            "growth with torch 2.6.0+cu124 against 413 MB estimated)"
        )
    new = 64
    figures = measured(model_id, tiny_catalog, new)
    entry = load_catalog(tiny_catalog).get(model_id)
    guess = estimate(entry, "auto", "cpu", context_length=figures["prompt"] + new)
    assert guess.precision == "fp32"
    assert guess.total_mb == pytest.approx(figures["growth_mb"], rel=0.30), (guess, figures)


def test_estimate_parts(tiny_catalog):
    entry = load_catalog(tiny_catalog).get("smollm2-135m-instruct")
    fp32 = estimate(entry, "fp32", "cpu")
    assert fp32.context_length == 8192
    assert fp32.weights_mb == pytest.approx(entry.params * 4 / 2**20, rel=0.01)
    # 30 layers x 3 KV heads x 64 dims x 2 (K and V) x 4 bytes per token, at 8192 tokens
    assert fp32.kv_cache_mb == pytest.approx(30 * 3 * 64 * 2 * 4 * 8192 / 2**20, rel=0.01)
    short = estimate(entry, "fp32", "cpu", context_length=1024)
    assert short.kv_cache_mb == pytest.approx(fp32.kv_cache_mb / 8, rel=0.01)
    int8 = estimate(entry, "int8", "cpu")
    int4 = estimate(entry, "int4", "cpu")
    assert int4.weights_mb < int8.weights_mb < fp32.weights_mb / 2
    cuda = estimate(entry, "auto", "cuda")
    assert cuda.precision == "fp16"
    assert cuda.weights_mb == pytest.approx(fp32.weights_mb / 2, rel=0.01)


def test_estimate_reads_the_config_of_a_model_on_disk(tiny_catalog, tiny_llama):
    entry = load_catalog(tiny_catalog).get("tiny-llama")
    assert entry.layers is None  # the overlay gives no shape: config.json on disk does
    guess = estimate(entry, "fp32", "cpu", context_length=2048)
    assert not guess.approximate
    assert guess.kv_cache_mb == pytest.approx(2 * 2 * 16 * 2 * 4 * 2048 / 2**20, rel=0.01)


def test_unknown_shape_is_approximate(tiny_catalog):
    import dataclasses

    entry = dataclasses.replace(
        load_catalog(tiny_catalog).get("opt-125m"), layers=None, hidden_size=None
    )
    assert estimate(entry, "fp32", "cpu", config={}).approximate


@pytest.mark.parametrize(
    "need, have, words",
    [
        (100, 1000, "fits"),
        (850, 1000, "tight"),
        (1000, 1000, "tight"),
        (1001, 1000, "does not fit"),
    ],
)
def test_verdict(need, have, words):
    assert verdict(need, have) == words


def test_cpu_budget_is_available_ram(monkeypatch):
    """Available (free plus what the kernel can reclaim), not free: the figures of a
    machine with most of its RAM in the page cache."""
    import psutil

    figures = psutil.virtual_memory()._replace(
        total=16 * 2**30, available=9 * 2**30, free=1 * 2**30
    )
    monkeypatch.setattr(psutil, "virtual_memory", lambda: figures)
    got = budget("cpu")
    assert (got.device, got.source, got.available_mb, got.total_mb) == (
        "cpu",
        "psutil",
        9 * 1024,
        16 * 1024,
    )


def test_jetson_budget_reads_memavailable(tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(
        "MemTotal:        7802212 kB\nMemFree:          302812 kB\n"
        "MemAvailable:    3932160 kB\nNvMapMemUsed:     812000 kB\n"
    )
    monkeypatch.setattr(memory, "is_jetson", lambda: True)
    got = budget("cuda", meminfo=meminfo)
    assert (got.source, got.available_mb, round(got.total_mb)) == ("/proc/meminfo", 3840.0, 7619)


def test_memory_module_never_imports_torch(tiny_catalog):
    code = (
        "import sys; from engine.catalog.entries import load_catalog; "
        "from engine.memory.fit import estimate, budget; c = load_catalog(); "
        "[estimate(e, 'auto', 'auto') for e in c]; "
        "budget('auto'); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO_ROOT, timeout=60)
