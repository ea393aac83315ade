"""Where CUDA is on this machine, for the llama.cpp build: nvcc, the GPU's architecture and
a compile job count that fits the free memory. Standard library only (run by the system
Python from tools/setup_env.py).

On a JetPack install nvcc lives in /usr/local/cuda/bin, which is not on PATH unless the user
adds it; looking on PATH only built llama.cpp for the CPU without a word. ``root`` is "/" on
a real machine and a fake board's folder in tests (its etc/nv_tegra_release, proc/meminfo,
proc/device-tree/model and usr/local/cuda/bin/nvcc).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

# Memory one compile job may take: nvcc on ggml's CUDA kernels takes 1-2 GB a process, a
# C++ compile of llama.cpp a few hundred MB. An 8 GB board swaps or kills the build when
# every core runs an nvcc.
JOB_GB = {"cuda": 1.5, "cpu": 0.5}

# Jetson modules by the words of their device-tree model -> CUDA compute capability.
_TEGRA_ARCH = (("thor", "110"), ("orin", "87"), ("xavier", "72"), ("tx2", "62"), ("nano", "53"))
# L4T releases that run on one GPU family only (R36 is Orin's; JetPack 7's R38 is Thor's).
_L4T_ARCH = {"36": "87", "38": "110"}


def find_nvcc(root: Path, env: dict[str, str] | None = None) -> str | None:
    """nvcc on PATH, else under CUDA_HOME / CUDA_PATH, else where JetPack and NVIDIA's
    packages put it (/usr/local/cuda/bin, then the newest /usr/local/cuda-*/bin)."""
    env = dict(os.environ) if env is None else env
    on_path = shutil.which("nvcc", path=env.get("PATH", os.defpath))
    if on_path:
        return on_path
    candidates = [Path(env[v]) / "bin" / "nvcc" for v in ("CUDA_HOME", "CUDA_PATH") if env.get(v)]
    local = root / "usr" / "local"
    candidates.append(local / "cuda" / "bin" / "nvcc")
    candidates += sorted(local.glob("cuda-*/bin/nvcc"), key=_version_key, reverse=True)
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.parent.parent.name))


def tegra_model(root: Path) -> str | None:
    """The board's device-tree model ('NVIDIA Jetson Orin Nano Developer Kit'), if any."""
    for where in ("proc/device-tree/model", "sys/firmware/devicetree/base/model"):
        try:
            text = (root / where).read_bytes().decode(errors="replace").strip("\x00\n ")
        except OSError:
            continue
        if text:
            return text
    return None


def cuda_arch(root: Path, release: str | None) -> tuple[str | None, str]:
    """(the GPU's compute capability as CMake wants it, '87', and where it was read).
    On a Jetson from the device-tree model, else from the L4T release; elsewhere from
    nvidia-smi. None when it cannot be told (CMake's 'native' then asks the GPU)."""
    if release is not None:
        model = (tegra_model(root) or "").lower()
        for word, arch in _TEGRA_ARCH:
            if word in model:
                return arch, f"device-tree model '{tegra_model(root)}'"
        match = re.search(r"R(\d+)", release)
        if match and match.group(1) in _L4T_ARCH:
            return _L4T_ARCH[match.group(1)], f"Tegra release R{match.group(1)}"
        return None, "unknown Jetson module"
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=compute_cap", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, "no nvidia-smi"
    first = done.stdout.strip().splitlines()[:1]
    if done.returncode == 0 and first and re.fullmatch(r"\d+\.\d+", first[0].strip()):
        return first[0].strip().replace(".", ""), "nvidia-smi"
    return None, "nvidia-smi gave no compute capability"


def mem_available_gb(root: Path) -> float | None:
    """MemAvailable from (root's) /proc/meminfo, in GB."""
    try:
        text = (root / "proc" / "meminfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) / 1e6 if match else None


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def jobs_for(free_gb: float | None, cores: int, kind: str) -> int:
    """Compile jobs that fit the free memory: MemAvailable / the memory of one job, at
    least 1, at most the cores (all of them when the free memory is unknown)."""
    if free_gb is None:
        return max(1, cores)
    return max(1, min(cores, int(free_gb / JOB_GB[kind])))
