"""Build llama-cpp-python in the background, detached, or here in the foreground, and
record how it went in a small status file beside its log in the app's data dir (read by
`smollm-tui doctor` and the memory meter: engine/runtimes/llamacpp/build_status.py). Standard
library only: run by the system Python from tools/setup_env.py.

Why in the background: the compile is most of a fresh machine's set-up (about 8 of 11
minutes on 2 cores), and the app runs on transformers without it. A build is a list of
attempts tried in order until one succeeds (the Jetson AI Lab wheel, then the source).

One build at a time: the runner holds an exclusive lock (flock) on llama-build.lock for its
whole life, so a second set-up sees it and waits (foreground) or leaves it be (background).
The status file is only ever replaced whole (a temporary file, then a rename), by one writer
at a time: the starter writes "building" and only then lets the runner go (a pipe).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

STATUS, LOG, LOCK, CONSTRAINTS = (
    "llama-build.json",
    "llama-build.log",
    "llama-build.lock",
    "llama-build-constraints.txt",
)
# Before a build here has been timed: the compile measured on 2 cores took about 8 min of
# CPU build (960 core-seconds); ggml's CUDA kernels for one architecture take several
# times that (an estimate). Divided among the parallel jobs; the first build's measured
# time replaces it.
DEFAULT_CORE_S = {"cpu": 960.0, "cuda": 4800.0}


@dataclass
class Attempt:
    """One way to get llama-cpp-python: a pip command and its extra environment."""

    name: str  # "Jetson AI Lab wheel", "the wheel built here before" or "source build"
    command: list[str]
    env: dict[str, str]
    source: bool  # a compile (its duration is the one worth remembering)
    then: list[str] = field(default_factory=list)  # run after ``command`` succeeds (install)


@dataclass
class LlamaPlan:
    """How llama-cpp-python is got: the attempts in order, run in the background (the app
    opens meanwhile) or in the foreground (set-up fails if they all fail)."""

    mode: str  # "background" or "foreground"
    kind: str  # "cuda" or "cpu"
    target: str  # what is built, in words
    jobs: int
    attempts: list[Attempt] = field(default_factory=list)


def wheel_store(flags: Sequence[str]) -> Path:
    """The folder that keeps the wheel a source build made with these ``flags`` (the
    package, the build's environment, this CPU's features), so that another venv of this
    machine (a new one, the board's Python 3.10 one) installs it instead of compiling
    again: the wheel is `py3-none` (ctypes), while pip's own cache is per Python version.
    SMOLLM_TUI_WHEEL_STORE moves the store (the tests' own)."""
    base = os.environ.get("SMOLLM_TUI_WHEEL_STORE")
    if not base:
        cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        base = str(Path(cache) / "smollm-tui" / "llama-wheels")
    key = json.dumps([*flags, _cpu_features()])
    return Path(base) / hashlib.sha256(key.encode()).hexdigest()[:16]


def _cpu_features() -> str:
    """This CPU's instruction-set line: a CPU build is for it (-march=native)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as info:
            for line in info:
                if line.startswith(("flags", "Features")):
                    return line.split(":", 1)[-1].strip()
    except OSError:
        pass
    return ""


def status_path(data_dir: Path) -> Path:
    return data_dir / STATUS


def read_status(data_dir: Path) -> dict | None:
    try:
        return json.loads(status_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_status(data_dir: Path, status: dict) -> None:
    """Replace the status file whole: a reader never sees half of one."""
    fd, tmp = tempfile.mkstemp(prefix=f".{STATUS}.", suffix=".tmp", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(status, out, indent=1)
        os.replace(tmp, status_path(data_dir))
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def expected_seconds(data_dir: Path, kind: str, jobs: int) -> float:
    """The last measured source build of this kind here, else the default for the jobs."""
    measured = (read_status(data_dir) or {}).get("measured_s", {}).get(kind)
    if isinstance(measured, (int, float)) and measured > 0:
        return float(measured)
    return max(120.0, DEFAULT_CORE_S[kind] / max(1, jobs))


def _lock(data_dir: Path, wait: bool) -> int | None:
    """The build lock's fd, held; None when another build holds it and ``wait`` is False."""
    fd = os.open(data_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _acquire(data_dir: Path) -> tuple[int, bool]:
    """The build lock, held: at once, or (True) after a build running meanwhile ended."""
    lock = _lock(data_dir, wait=False)
    if lock is not None:
        return lock, False
    status = read_status(data_dir) or {}
    left = float(status.get("expected_s") or 0) - (time.time() - float(status.get("started") or 0))
    print(
        f"setup: waiting for the llama.cpp build running "
        f"{'in the background' if status.get('background') else 'in another set-up'} (pid "
        f"{status.get('pid')}, about {max(1, round(left / 60))} min left; log: {data_dir / LOG})",
        flush=True,
    )
    lock = _lock(data_dir, wait=True)
    assert lock is not None
    return lock, True


def wait_for_build(data_dir: Path) -> bool:
    """Wait for a build running now (true if there was one) before asking what is there."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock, waited = _acquire(data_dir)
    os.close(lock)
    return waited


def _new_status(
    data_dir: Path,
    attempts: list[Attempt],
    *,
    kind: str,
    target: str,
    expected_s: float,
    constraints: list[str],
    background: bool,
) -> dict:
    previous = read_status(data_dir) or {}
    (data_dir / LOG).write_bytes(b"")  # a new log for a new build
    pins = None
    if constraints:
        pins = str(data_dir / CONSTRAINTS)
        Path(pins).write_text("\n".join(constraints) + "\n", encoding="utf-8")
    return {
        "state": "building",
        "pid": None,
        "started": time.time(),
        "expected_s": expected_s,
        "ended": None,
        "exit_code": None,
        "how": None,
        "kind": kind,
        "target": target,
        "background": background,
        "log": str(data_dir / LOG),
        "constraints": pins,
        "measured_s": previous.get("measured_s", {}),
        "attempts": [asdict(a) for a in attempts],
    }


def start_background(
    data_dir: Path,
    attempts: list[Attempt],
    *,
    kind: str,
    target: str,
    expected_s: float,
    constraints: Sequence[str] = (),
) -> int | None:
    """Start the build detached (its own session, stdin from /dev/null, output to the log)
    and return its pid; None when a build is running already (it is left to finish)."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock = _lock(data_dir, wait=False)
    if lock is None:
        return None
    status = _new_status(
        data_dir,
        attempts,
        kind=kind,
        target=target,
        expected_s=expected_s,
        constraints=list(constraints),
        background=True,
    )
    gate_r, gate_w = os.pipe()
    try:
        # Appending, as the runner's own lines are: neither overwrites the other's.
        with open(data_dir / LOG, "ab") as log:
            child = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--run", str(data_dir)]
                + ["--gate", str(gate_r)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C in the terminal or a closed SSH leaves it be
                pass_fds=(gate_r, lock),  # the lock is the runner's now, for its whole life
            )
        status["pid"] = child.pid
        write_status(data_dir, status)
        os.write(gate_w, b"go")  # only now may the runner write the status
    finally:
        for fd in (gate_r, gate_w, lock):
            os.close(fd)
    return child.pid


def run_foreground(
    data_dir: Path,
    attempts: list[Attempt],
    *,
    kind: str,
    target: str,
    expected_s: float,
    constraints: Sequence[str] = (),
    still_needed=lambda: True,
) -> int:
    """Build here, the output on the terminal and in the log. A build running in the
    background is waited for first; ``still_needed()`` then says whether it did the job."""
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    lock, waited = _acquire(data_dir)
    if waited and not still_needed():
        os.close(lock)
        print("setup: llama.cpp: the background build landed", flush=True)
        return 0
    try:
        status = _new_status(
            data_dir,
            attempts,
            kind=kind,
            target=target,
            expected_s=expected_s,
            constraints=list(constraints),
            background=False,
        )
        status["pid"] = os.getpid()
        write_status(data_dir, status)
        return _run_attempts(data_dir, status, echo=True)
    finally:
        os.close(lock)


def _run_attempts(data_dir: Path, status: dict, *, echo: bool) -> int:
    """Each attempt in turn until one succeeds; the status records how it ended."""
    code = 1
    with open(data_dir / LOG, "ab") as log:
        for attempt in status["attempts"]:
            command = list(attempt["command"])
            if status.get("constraints"):
                command += ["-c", status["constraints"]]
            _say(log, echo, f"== llama.cpp: {attempt['name']}: {' '.join(command)}")
            began = time.time()
            code = _run(command, dict(os.environ, **attempt["env"]), log, echo)
            if code == 0 and attempt.get("then"):
                then = list(attempt["then"])
                if status.get("constraints"):
                    then += ["-c", status["constraints"]]
                _say(log, echo, f"== llama.cpp: install: {' '.join(then)}")
                code = _run(then, dict(os.environ), log, echo)
            if code == 0:
                status["how"] = attempt["name"]
                if attempt["source"]:
                    status["measured_s"] = {
                        **status.get("measured_s", {}),
                        status["kind"]: round(time.time() - began, 3),
                    }
                break
            _say(log, echo, f"== llama.cpp: {attempt['name']} failed (exit {code})")
    status.update(state="ok" if code == 0 else "failed", ended=time.time(), exit_code=code)
    write_status(data_dir, status)
    return code


def _say(log: IO[bytes], echo: bool, line: str) -> None:
    log.write(f"{line}\n".encode())
    log.flush()
    if echo:
        print(f"setup: {line.removeprefix('== ')}", flush=True)


def _run(command: list[str], env: dict[str, str], log: IO[bytes], echo: bool) -> int:
    try:
        if not echo:  # the runner's own output is the log already
            return subprocess.run(command, env=env, stdin=subprocess.DEVNULL).returncode
        with subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as child:
            assert child.stdout is not None
            for line in child.stdout:
                log.write(line)
                sys.stdout.buffer.write(line)
                sys.stdout.flush()
            return child.wait()
    except OSError as exc:  # the command itself is missing
        log.write(f"{exc}\n".encode())
        return 127


def get_llama(
    llama: LlamaPlan, constraints: list[str], data: Path, still_needed: Callable[[], bool]
) -> int:
    """Build in the foreground (set-up fails if it fails) or start it in the background."""
    expected = expected_seconds(data, llama.kind, llama.jobs)
    how = dict(kind=llama.kind, target=llama.target, expected_s=expected, constraints=constraints)
    log = data / LOG
    if llama.mode == "foreground":
        if run_foreground(data, llama.attempts, still_needed=still_needed, **how):
            print(f"setup: failed: llama.cpp ({llama.target}); the log: {log}", file=sys.stderr)
            return 1
        return 0
    pid = start_background(data, llama.attempts, **how)
    if pid is None:
        print(
            "setup: llama.cpp: a build is running in the background already; "
            "`smollm-tui doctor` says how far it is"
        )
        return 0
    print(
        f"setup: started in the background: the llama.cpp build (pid {pid}, about "
        f"{max(1, round(expected / 60))} min; log: {log}). The app runs on transformers until "
        "it lands, then on llama.cpp from the next load; `smollm-tui doctor` and the "
        "memory meter say how far it is."
    )
    return 0


def _runner_main(data_dir: Path, gate: int) -> int:
    os.read(gate, 2)  # the starter has written the status (or died: EOF, go on anyway)
    os.close(gate)
    status = read_status(data_dir)
    if status is None:
        print("llama.cpp build: no status file to run from", flush=True)
        return 2
    status["pid"] = os.getpid()
    return _run_attempts(data_dir, status, echo=False)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the detached llama.cpp build (internal)")
    parser.add_argument("--run", required=True, help="the data dir holding the status file")
    parser.add_argument("--gate", type=int, required=True)
    args = parser.parse_args()
    sys.exit(_runner_main(Path(args.run), args.gate))
