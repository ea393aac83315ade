"""Startup: `smollm-tui` to the first frame showing the catalog, vs importing
transformers' AutoModelForCausalLM in a bare python, in one run. Target: under half.

The app runs in a real pseudo-terminal; the clock stops when the catalog's header text
reaches the terminal. Prints the ratio and the UI process's memory (RSS) at that moment.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import time

import psutil

MARKER = b"precision"
RUNS = int(os.environ.get("BENCH_RUNS", "5"))


def time_app() -> tuple[float, float]:
    exe = shutil.which("smollm-tui") or os.path.join(os.path.dirname(sys.executable), "smollm-tui")
    pid, fd = pty.fork()
    if pid == 0:  # child: the app, in an 120x40 terminal
        os.environ.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
        os.execv(exe, [exe])
    start = time.perf_counter()
    seen = b""
    try:
        while MARKER not in seen:
            ready, _, _ = select.select([fd], [], [], 30)
            if not ready:
                raise RuntimeError("the app showed no catalog within 30 s")
            seen += os.read(fd, 65536)
        elapsed = time.perf_counter() - start
        rss = psutil.Process(pid).memory_info().rss / 2**20
    finally:
        os.write(fd, b"\x11")  # ctrl+q
        try:
            while select.select([fd], [], [], 5)[0] and os.read(fd, 65536):
                pass
        except OSError:
            pass
        os.waitpid(pid, 0)
    return elapsed, rss


def time_transformers_import() -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from transformers import AutoModelForCausalLM"], check=True
    )
    return time.perf_counter() - start


def main() -> None:
    time_app()  # warm the file cache for both sides alike
    time_transformers_import()
    app_runs, rss_runs, base_runs = [], [], []
    for _ in range(RUNS):
        elapsed, rss = time_app()
        app_runs.append(elapsed)
        rss_runs.append(rss)
        base_runs.append(time_transformers_import())
    app_s, base_s = statistics.median(app_runs), statistics.median(base_runs)
    print(f"smollm-tui to catalog frame   {app_s:6.3f} s (median of {RUNS})")
    print(f"import AutoModelForCausalLM   {base_s:6.3f} s (median of {RUNS})")
    print(f"ratio app / transformers      {app_s / base_s:6.2f}  (target < 0.5)")
    print(f"UI process memory (RSS)       {statistics.median(rss_runs):6.0f} MiB")


if __name__ == "__main__":
    main()
