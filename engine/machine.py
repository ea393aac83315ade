"""What machine is this: a Jetson or not, and its name."""

from __future__ import annotations

from pathlib import Path

from engine.units import MB

# Files that exist on NVIDIA Jetson boards (L4T). Overridable for tests.
TEGRA_RELEASE = Path("/etc/nv_tegra_release")
DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
JTOP_SOCKET = Path("/run/jtop.sock")


def jetson_model() -> str | None:
    """The board's model string on a Jetson (e.g. 'NVIDIA Jetson Orin Nano ...'), else None."""
    try:
        model = DEVICE_TREE_MODEL.read_bytes().decode(errors="replace").strip("\x00\n ")
    except OSError:
        model = ""
    if "jetson" in model.lower():
        return model
    if TEGRA_RELEASE.exists():
        return model or "NVIDIA Jetson"
    return None


def is_jetson() -> bool:
    return jetson_model() is not None


NVIDIA_DEVICE = Path("/dev/nvidia0")


def cuda_gpu_visible() -> bool:
    """A CUDA GPU is present (a /dev/nvidia0 node, `nvidia-smi -L` answers, or a Jetson),
    without importing torch: for runtimes that do not use it (llama.cpp)."""
    if NVIDIA_DEVICE.exists() or TEGRA_RELEASE.exists():
        return True
    return _nvidia_smi("-L") is not None


def gpu_name() -> str:
    """The GPU's name for labels: the Jetson board, or the first line nvidia-smi gives."""
    board = jetson_model()
    if board:
        return board
    out = _nvidia_smi("--query-gpu=name", "--format=csv,noheader")
    return out.splitlines()[0].strip() if out and out.strip() else "CUDA GPU"


def cpu_name() -> str:
    """The CPU's model name from /proc/cpuinfo, else what platform says."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _nvidia_smi(*args: str) -> str | None:
    import shutil
    import subprocess

    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 and done.stdout.strip() else None


def gpu_process_mb(pid: int) -> float | None:
    """GPU memory NVML counts for process ``pid`` (discrete GPUs), else None: on a Jetson
    NVML has no memory figures and that memory is in the board's (see telemetry)."""
    try:
        import pynvml as nv

        nv.nvmlInit()
    except Exception:  # not installed, no driver: nothing to say
        return None
    try:
        total = 0
        for index in range(nv.nvmlDeviceGetCount()):
            handle = nv.nvmlDeviceGetHandleByIndex(index)
            for proc in nv.nvmlDeviceGetComputeRunningProcesses(handle):
                if proc.pid == pid and proc.usedGpuMemory:
                    total += proc.usedGpuMemory
        return total / MB if total else None
    except Exception:
        return None
    finally:
        try:
            nv.nvmlShutdown()
        except Exception:
            pass


def machine_name() -> str:
    """This machine's name for results (the host name): Compare and `report` filter by it,
    to tell the board's rows from those imported from a GPU server."""
    import platform

    return platform.node().strip() or "this machine"
