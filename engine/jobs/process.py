"""The runner as a process: where its files are, whether it lives, its lock, its launch.

One runner per data dir holds an exclusive flock on ``jobs/runner.lock``. Whoever queues
a job starts a runner when no process holds that lock. The runner is started detached
(its own session, no stdin, output to a log): a terminal that hangs up, or the app that
exits, does not reach it. A pid alone does not name a process (pids are reused, after a
reboot certainly), so a runner is known by its pid and its start time.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

from engine.paths import data_dir

LOCK_RETRY_S = 3.0  # a runner just started waits this long for a prober to let go
_START_TIME_TOLERANCE_S = 1.0


def jobs_dir() -> Path:
    return data_dir() / "jobs"


def lock_path() -> Path:
    return jobs_dir() / "runner.lock"


def job_log_path(job_id: int) -> Path:
    return jobs_dir() / f"job-{job_id}.log"


def request_cache_dir(job_id: int) -> Path:
    """The job's own request cache folder (engine.evaluation.request_cache)."""
    return jobs_dir() / "cache" / f"job-{job_id}"


def heartbeat_s() -> float:
    """Seconds between two heartbeats of the runner (SMOLLM_TUI_JOB_HEARTBEAT_S; tests
    shorten it)."""
    try:
        value = float(os.environ.get("SMOLLM_TUI_JOB_HEARTBEAT_S", "2"))
    except ValueError:
        return 2.0
    return min(max(value, 0.05), 60.0)


def private_file(path: Path) -> Path:
    """Create ``path`` (and its folder) readable by this user only, if it is not there."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    os.close(fd)
    return path


# ---- is it alive ------------------------------------------------------------------------


def start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch; /proc/<pid>/stat field 22
    through psutil), or None when there is no such process or only its zombie."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.create_time()
    except psutil.NoSuchProcess:
        return None


def is_alive(pid: int | None, started: float | None) -> bool:
    """Whether the process that was ``pid`` when it started at ``started`` still runs.
    A process we may not look at counts as alive (it is not ours to declare dead)."""
    import psutil

    if not pid or started is None:
        return False
    try:
        now = start_time(pid)
    except psutil.AccessDenied:
        return True
    return now is not None and abs(now - started) < _START_TIME_TOLERANCE_S


def own_start_time() -> float:
    return start_time(os.getpid()) or time.time()


# ---- the lock -----------------------------------------------------------------------------


class RunnerLock:
    """The runner's exclusive lock on lock_path(); held while the process lives."""

    def __init__(self) -> None:
        self.fd: int | None = None

    def acquire(self, wait_s: float = 0.0) -> bool:
        path = private_file(lock_path())
        fd = os.open(path, os.O_RDWR)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    return False
                time.sleep(0.05)  # a prober holds it for microseconds
                continue
            self.fd = fd
            return True

    def release(self) -> None:
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def runner_running() -> bool:
    """Whether a runner holds the lock now."""
    path = lock_path()
    if not path.exists():
        return False
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing also lets go of a shared lock taken here
    return False


# ---- starting it ---------------------------------------------------------------------------


def start_runner() -> bool:
    """Start a detached runner unless one holds the lock; True when one was started.

    The process started here forks the runner and exits at once (we wait for it), so the
    runner is nobody's child: no zombie is left in the app, and when it ends, or is killed,
    it is gone, not a zombie that looks alive.
    """
    if runner_running():
        return False
    log = private_file(jobs_dir() / "runner.log")
    with open(log, "ab") as out:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "engine.jobs.runner", "--detach"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            close_fds=True,
            env=_runner_env(),
        )
    with contextlib.suppress(subprocess.TimeoutExpired):
        launcher.wait(timeout=30)
    return True


def _runner_env() -> dict[str, str]:
    """This environment, with the app home made absolute and this source tree importable
    (the runner may outlive the directory it was started from)."""
    env = dict(os.environ)
    if env.get("SMOLLM_TUI_HOME"):
        env["SMOLLM_TUI_HOME"] = str(Path(env["SMOLLM_TUI_HOME"]).expanduser().resolve())
    root = str(Path(__file__).resolve().parents[2])
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([root, *paths])
    return env
