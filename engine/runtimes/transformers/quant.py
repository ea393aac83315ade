"""Is bitsandbytes actually usable here? Checked with a real tiny op in a subprocess.

On a Jetson, PyPI's aarch64 bitsandbytes wheel imports fine and then fails (or crashes)
at the first CUDA kernel, so an import check says nothing. The probe runs in a child
process so that a crash cannot take the caller with it.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

FIX = (
    "install a bitsandbytes that matches this machine: `pip install bitsandbytes` on "
    "x86-64; on a Jetson with JetPack 6 take NVIDIA's build, `pip install bitsandbytes "
    "--index-url https://pypi.jetson-ai-lab.io/jp6/cu126`, or build it on the device "
    "(README, 'On a Jetson')"
)

_PROBE = r"""
import logging, sys, warnings
warnings.filterwarnings("ignore")
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
import torch
import bitsandbytes as bnb
device = sys.argv[1]
layer = bnb.nn.Linear8bitLt(16, 8, has_fp16_weights=False, threshold=6.0)
layer = layer.to(device)
dtype = torch.float16 if device == "cuda" else torch.float32
x = torch.randn(4, 16, device=device, dtype=dtype)
y = layer(x)
if device == "cuda":
    torch.cuda.synchronize()
assert y.shape == (4, 8) and torch.isfinite(y).all()
print(bnb.__version__)
"""


@dataclass(frozen=True)
class QuantProbe:
    usable: bool
    device: str
    version: str | None
    reason: str


def probe_bitsandbytes(device: str = "cpu", timeout: float = 120.0) -> QuantProbe:
    """Run an 8-bit linear layer on ``device`` in a child process."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, device],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return QuantProbe(False, device, None, f"the bitsandbytes check hung for {timeout:.0f} s")
    if done.returncode == 0:
        return QuantProbe(True, device, done.stdout.strip().splitlines()[-1], "ok")
    last = child_failure(done)
    if "No module named 'bitsandbytes'" in last:
        return QuantProbe(False, device, None, "bitsandbytes is not installed")
    return QuantProbe(False, device, None, f"bitsandbytes failed a tiny 8-bit op: {last}")


def child_failure(done: subprocess.CompletedProcess) -> str:
    """Why a check run in a child process failed, in one line: the signal that ended it,
    else the last line it wrote, else its exit code."""
    if done.returncode < 0:
        return f"crashed with signal {-done.returncode}"
    tail = (done.stderr or done.stdout or "").strip().splitlines()
    return tail[-1] if tail else f"exit code {done.returncode}"
