"""What machine is this: a Jetson or not, and its name."""

from __future__ import annotations

from pathlib import Path

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
