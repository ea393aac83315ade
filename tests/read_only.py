"""Run the real `smollm-tui` command with a file or folder it cannot write.

Root ignores permission bits, so as root the path is made read-only with a read-only bind
mount in a private mount namespace (unshare; the test is skipped where that is not
allowed); as another user, with chmod a-w for the length of the command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_RO_MOUNT = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'


def run_read_only(env: dict, read_only: Path, *args: str) -> subprocess.CompletedProcess:
    """`smollm-tui ARGS` with ``read_only`` (a file or a folder) not writable."""
    command = [sys.executable, "-m", "tui.cli", *args]
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("root without unshare: cannot make a path read-only for root")
        probe = subprocess.run(
            ["unshare", "--mount", "sh", "-c", _RO_MOUNT, "sh", str(read_only), "true"],
            capture_output=True,
            text=True,
        )
        if probe.returncode != 0:
            pytest.skip(f"read-only bind mounts are not allowed here: {probe.stderr}")
        command = ["unshare", "--mount", "sh", "-c", _RO_MOUNT, "sh", str(read_only), *command]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    mode = read_only.stat().st_mode
    read_only.chmod(mode & ~0o222)
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    finally:
        read_only.chmod(mode)
