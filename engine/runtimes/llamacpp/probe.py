"""Does llama.cpp actually work here? Checked by a child process that loads the bundled
GGUF and decodes a few tokens, so that a crashing build (SIGSEGV) cannot take the caller
with it. Used by `smollm-tui doctor`."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

from engine.runtimes.llamacpp import PACKAGE, PIN

FIX_MISSING = (
    f"run `make llama-cpp` (gets {PACKAGE}=={PIN} for this machine: on a Jetson the Jetson "
    "AI Lab wheel for its JetPack when there is one, else a build, for CUDA where nvcc and "
    "a GPU are, AMX off on x86-64; see README, 'llama.cpp')"
)
FIX_BROKEN = (
    "rebuild it for this machine: `make llama-cpp LLAMA_REBUILD=1` (see README, 'llama.cpp')"
)
FIX_CPU_ONLY = (
    "rebuild it for the GPU: `make llama-cpp LLAMA_REBUILD=1` (set-up finds nvcc on PATH, "
    "under CUDA_HOME or in /usr/local/cuda/bin, and builds for the GPU's architecture)"
)

_PROBE = r"""
import os, sys
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import llama_cpp
from engine.catalog.bundled import gguf_path
from engine.runtimes.llamacpp.load import _model_params, amx_compiled
offload = bool(llama_cpp.llama_supports_gpu_offload())
print("offload" if offload else "cpu-only", "amx" if amx_compiled(llama_cpp) else "no-amx")
with _model_params(use_extra_bufts=not amx_compiled(llama_cpp)):
    llama = llama_cpp.Llama(model_path=str(gguf_path()), n_ctx=256, verbose=False)
tokens = llama.tokenize(b"The capital of France is")
for count, _ in enumerate(llama.generate(tokens, temp=0.0), start=1):
    if count == 3:
        break
print("ok")
"""


@dataclass(frozen=True)
class LlamaProbe:
    usable: bool
    version: str | None
    gpu_offload: bool
    amx: bool
    reason: str


def probe_llamacpp(timeout: float = 120.0) -> LlamaProbe:
    """Load the bundled model with llama.cpp in a child process and decode 3 tokens."""
    from engine.runtimes import llamacpp

    version = llamacpp.version()
    if not llamacpp.installed():
        return LlamaProbe(False, None, False, False, f"{PACKAGE} is not installed")
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return LlamaProbe(
            False, version, False, False, f"the llama.cpp check hung for {timeout:.0f} s"
        )
    lines = done.stdout.split()
    offload, amx = "offload" in lines, "amx" in lines
    if done.returncode == 0 and "ok" in lines:
        return LlamaProbe(True, version, offload, amx, "ok")
    if done.returncode < 0:
        reason = f"it crashed with signal {-done.returncode} at a first decode"
    else:
        tail = (done.stderr or done.stdout).strip().splitlines()
        reason = f"it failed at a first decode: {tail[-1] if tail else done.returncode}"
    return LlamaProbe(False, version, offload, amx, reason)
