"""The llama.cpp build that set-up started (tools/llama_build.py): building, ready or
failed, as its status file beside its log (build_dir(): in the data dir, one folder per
Python environment) says. Read by `smollm-tui
doctor`, the memory meter and engine.runtimes.llamacpp.installed() (a build under way is not yet a
llama.cpp to load). Only ever read here: the status file is replaced whole by its writer.

Status file (JSON): state ("building", "ok", "failed"), pid, started, expected_s, ended,
exit_code, how (the attempt that worked), target, background, log.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine import paths

STATUS_NAME = "llama-build.json"
BuildState = Literal["building", "ready", "failed"]
READY_SHOWN_S = 600.0  # the meter says "ready" this long after the build landed
FIX_AGAIN = "`make llama-cpp` builds it again here, its whole output on screen"
_ERROR_WORDS = r"error|fatal|killed|not found|cannot find|undefined reference|no such file"
# What a failed build's log says -> the fix (the first that matches).
_HINTS = (
    (
        r"Killed signal|virtual memory exhausted|out of memory|\bKilled\b",
        "the compiler ran out of memory: build with fewer parallel jobs, "
        "`CMAKE_BUILD_PARALLEL_LEVEL=1 make llama-cpp`",
    ),
    (
        r"No CMAKE_CUDA_COMPILER|CUDA_TOOLKIT|Failed to find nvcc|No CUDA toolset",
        "CMake did not find a working CUDA compiler: check that /usr/local/cuda/bin/nvcc "
        "runs, then `CUDACXX=/usr/local/cuda/bin/nvcc make llama-cpp`",
    ),
    (
        r"CMAKE_C(XX)?_COMPILER|C\+\+ compiler|cc: (command )?not found|No such file.*g\+\+",
        "no C/C++ compiler: `sudo apt install build-essential cmake`, then `make llama-cpp`",
    ),
    (
        r"No matching distribution|Could not find a version|Network is unreachable|"
        r"Temporary failure in name resolution|ConnectionError",
        "pip could not get the package: check the network (PyPI), then `make llama-cpp`",
    ),
    (r"No space left on device", "the disk is full: free some space, then `make llama-cpp`"),
)


@dataclass(frozen=True)
class BuildStatus:
    state: BuildState
    target: str
    started: float
    expected_s: float
    ended: float | None
    exit_code: int | None
    how: str | None
    log: Path
    background: bool

    def eta(self, now: float | None = None) -> str:
        """'about 6 min left', or how long over the estimate it runs."""
        elapsed = (time.time() if now is None else now) - self.started
        left = self.expected_s - elapsed
        if left <= 0:
            return f"longer than the {_minutes(self.expected_s)} min expected"
        return f"about {_minutes(left)} min left"


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def build_dir() -> Path:
    """Where the build of llama.cpp for this Python environment keeps its status and log:
    a folder of its own under the data dir, named for the environment (the app's venv and
    `make test-board`'s each build their own llama-cpp-python, and one's build under way
    says nothing of the other's llama.cpp)."""
    # The environment is named by its interpreter's folder (.venv/bin/python -> .venv), not
    # sys.prefix, which is the base Python's under `python -S`; links are not followed
    # (a venv's python is a link to the base one).
    env = os.path.dirname(os.path.dirname(os.path.abspath(sys.executable)))
    key = hashlib.sha256(env.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return paths.data_dir() / "llama-build" / key


def status_path(build_folder: Path | None = None) -> Path:
    return (build_folder or build_dir()) / STATUS_NAME


def read_build_status(build_folder: Path | None = None) -> BuildStatus | None:
    """The last build's status, None when set-up never started one here. A build whose
    process is gone without saying how it ended (killed, a reboot) reads as failed."""
    try:
        raw = json.loads(status_path(build_folder).read_text(encoding="utf-8"))
        state = raw["state"]
        if state == "building" and not _alive(int(raw.get("pid") or 0)):
            state = "failed"
        return BuildStatus(
            state="ready" if state == "ok" else state,
            target=str(raw.get("target") or "llama-cpp-python"),
            started=float(raw["started"]),
            expected_s=float(raw.get("expected_s") or 0),
            ended=float(raw["ended"]) if raw.get("ended") is not None else None,
            exit_code=raw.get("exit_code"),
            how=raw.get("how"),
            log=Path(raw["log"]),
            background=bool(raw.get("background")),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    """``pid`` runs and is a set-up or build process (not a zombie, not a reused pid)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's: it is there
    proc = Path("/proc") / str(pid)
    try:
        if proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False
        command = proc.joinpath("cmdline").read_bytes()
    except (OSError, IndexError):
        return True  # no /proc to ask: the signal said it is there
    # Empty while the kernel sets up a process that has just started (read at once after
    # the start, on a loaded machine): it is there, and it is the one started.
    return not command or b"llama_build" in command or b"setup_env" in command


def building(build_folder: Path | None = None) -> BuildStatus | None:
    """The build under way now, if any."""
    status = read_build_status(build_folder)
    return status if status is not None and status.state == "building" else None


def meter_words(status: BuildStatus | None, now: float | None = None) -> str | None:
    """A few words for the memory meter, or None when there is nothing to say."""
    if status is None:
        return None
    now = time.time() if now is None else now
    if status.state == "building":
        return f"llama.cpp building, {status.eta(now).removesuffix(' left')}"
    if status.state == "failed":
        return "llama.cpp build failed: see doctor"
    if status.ended is not None and now - status.ended < READY_SHOWN_S:
        return "llama.cpp ready: next load"
    return None


def log_tail(status: BuildStatus, lines: int = 6) -> list[str]:
    """The log's last lines that say what went wrong (pip and the compilers print much
    else), or its last lines."""
    try:
        text = status.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    rows = [r.rstrip() for r in text.splitlines() if r.strip()]
    errors = [
        r
        for r in rows
        if not r.startswith("== ")  # the runner's own lines: the command, not its output
        and re.search(_ERROR_WORDS, r, re.IGNORECASE)
    ]
    return (errors or rows)[-lines:]


def failure_fix(status: BuildStatus) -> str:
    """The fix for a failed build, from what its log says."""
    try:
        text = status.log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    if status.exit_code is None and status.state == "failed" and status.ended is None:
        return f"the build stopped before it ended (killed, or a restart): {FIX_AGAIN}"
    for pattern, fix in _HINTS:
        if re.search(pattern, text):
            return fix
    return f"{FIX_AGAIN} (see README, 'llama.cpp')"


def describe(status: BuildStatus, now: float | None = None) -> str:
    """The full line for doctor."""
    where = "in the background" if status.background else "in a set-up"
    if status.state == "building":
        return (
            f"building ({status.eta(now)}) {where}: {status.target}; GGUF models "
            f"run on transformers until it lands; log: {status.log}"
        )
    if status.state == "ready":
        return f"the build of {status.target} is ready ({status.how or 'installed'})"
    how = f"exit {status.exit_code}" if status.exit_code is not None else "it was stopped"
    tail = "\n".join(log_tail(status))
    return f"the build of {status.target} failed ({how}); last lines of {status.log}:\n{tail}"
