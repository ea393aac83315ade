"""What torch sees on this machine, asked in a child process: `smollm-tui doctor` runs in
the UI's process, which never imports torch (a broken torch can also crash or hang its
importer; the child takes that)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from engine.runtimes.transformers.quant import child_failure

_PROBE = """
import json, torch
seen = {"version": torch.__version__, "cuda": None}
if torch.cuda.is_available():
    props = torch.cuda.get_device_properties(0)
    seen["cuda"] = {"version": torch.version.cuda, "name": props.name,
                    "integrated": bool(props.is_integrated)}
print(json.dumps(seen))
"""


@dataclass(frozen=True)
class TorchProbe:
    version: str | None  # None: torch cannot be imported (``error`` says why)
    error: str = ""
    cuda_version: str | None = None
    gpu_name: str | None = None  # None: no CUDA GPU torch can use
    integrated: bool = False


def probe_torch(timeout: float = 120.0) -> TorchProbe:
    """Import torch in a child and read its version and its view of the GPU."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return TorchProbe(None, f"importing torch hung for {timeout:.0f} s")
    lines = (done.stdout or "").strip().splitlines()
    if done.returncode != 0 or not lines:
        return TorchProbe(None, child_failure(done))
    try:
        seen = json.loads(lines[-1])
        cuda = seen["cuda"]
        return TorchProbe(
            str(seen["version"]),
            cuda_version=str(cuda["version"]) if cuda else None,
            gpu_name=str(cuda["name"]) if cuda else None,
            integrated=bool(cuda["integrated"]) if cuda else False,
        )
    except (ValueError, KeyError, TypeError):
        return TorchProbe(None, f"unexpected answer from torch's check: {lines[-1][:200]!r}")
