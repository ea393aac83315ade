"""Every check that needs a CUDA GPU, in one go, as one table (`make gpu-check`).

The GPU tests (`pytest -m gpu`), the fixed decode test of the bundled model on CUDA for
transformers fp16, transformers int8 and llama.cpp with every layer offloaded, and one
evaluation on CUDA on each runtime. Each step has its own time limit and the whole stays
under 8 minutes; a step that fails or runs out of time is a row of the table, not the end
of the run.
Exit status 0 when every row passed, 1 otherwise or without a GPU.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.settings import LoadOptions  # noqa: E402

MODEL = "smollm2-135m-instruct"
BUDGET_S = 470.0  # the whole run; each step gets the smaller of its limit and what is left


def cuda_gpu() -> str | None:
    """The GPU's name, or None when torch sees none."""
    try:
        import torch
    except ImportError:
        return None
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def gpu_tests(limit: float) -> tuple[bool, str]:
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=limit,
        )
    except subprocess.TimeoutExpired:
        return False, f"ran out of time ({limit:.0f} s)"
    lines = [line for line in done.stdout.strip().splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else f"exit code {done.returncode}"
    return done.returncode == 0 and "passed" in summary, summary


def with_deadline(limit: float, client, work: Callable[[], tuple[bool, str]]):
    """Run ``work``; past ``limit`` seconds its worker is ended (the step then fails)."""
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        client.close()

    timer = threading.Timer(limit, stop)
    timer.start()
    try:
        ok, text = work()
    finally:
        timer.cancel()
    if fired.is_set():
        return False, f"ran out of time ({limit:.0f} s): {text}"
    return ok, text


def decode(runtime: str, precision: str, limit: float) -> tuple[bool, str]:
    from engine.evaluation.decode_bench import measure
    from engine.worker.client import WorkerClient

    client = WorkerClient()
    options = LoadOptions(MODEL, precision=precision, device="cuda", runtime=runtime)

    def work() -> tuple[bool, str]:
        result = measure(client, options, runs=3)
        if not result.ok:
            return False, result.error or "cancelled or out of time"
        info = result.info
        if info.device != "cuda":
            return False, f"ran on {info.device}, not CUDA"
        return True, (
            f"{result.tokens_per_s:.1f} tok/s, first token "
            f"{(result.first_token_s or 0) * 1000:.0f} ms, {info.precision}, "
            f"load {info.load_seconds:.1f} s, peak {result.peak_memory_mb or 0:.0f} MB"
        )

    try:
        return with_deadline(limit, client, work)
    finally:
        client.close()


def evaluation(runtime: str, limit: float) -> tuple[bool, str]:
    from engine.events import Failed, Loaded, TaskDone, WorkerDied
    from engine.records import EvalSpec
    from engine.worker.client import WorkerClient

    client = WorkerClient()
    spec = EvalSpec(
        tasks=("fx_choice2",), limit=40, include_path=str(ROOT / "tests" / "fixtures" / "tasks")
    )

    def work() -> tuple[bool, str]:
        for event in client.load(LoadOptions(MODEL, device="cuda", runtime=runtime)):
            if isinstance(event, (Failed, WorkerDied)):
                return False, event.message
            if isinstance(event, Loaded) and event.info.device != "cuda":
                return False, f"loaded on {event.info.device}, not CUDA"
        results = []
        for event in client.evaluate(spec):
            if isinstance(event, (Failed, WorkerDied)):
                return False, event.message
            if isinstance(event, TaskDone):
                results.append(event.result)
        if not results or results[0].status != "ok":
            return False, results[0].error if results else "no result"
        r = results[0]
        return True, (
            f"fx_choice2 acc {r.metrics.get('acc', 0):.3f} on {r.samples} samples, "
            f"{r.time_per_sample_ms or 0:.1f} ms/sample, peak "
            f"{r.peak_memory_mb or 0:.0f} MB"
        )

    try:
        return with_deadline(limit, client, work)
    finally:
        client.close()


def main() -> int:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(highlight=False)
    gpu = cuda_gpu()
    if gpu is None:
        print(
            "gpu-check: no CUDA GPU here (torch.cuda.is_available() is false); run it on "
            "a machine with one",
            file=sys.stderr,
        )
        return 1
    steps: list[tuple[str, float, Callable[[float], tuple[bool, str]]]] = [
        ("pytest -m gpu", 150, gpu_tests),
        ("decode transformers fp16", 80, lambda t: decode("transformers", "fp16", t)),
        ("decode transformers int8", 100, lambda t: decode("transformers", "int8", t)),
        ("decode llama.cpp (all layers on GPU)", 50, lambda t: decode("llama.cpp", "auto", t)),
        ("evaluation on CUDA, transformers", 90, lambda t: evaluation("transformers", t)),
        ("evaluation on CUDA, llama.cpp", 60, lambda t: evaluation("llama.cpp", t)),
    ]
    started = time.monotonic()
    rows = []
    for name, limit, run in steps:
        left = BUDGET_S - (time.monotonic() - started)
        if left < 10:
            rows.append((name, False, "not run: the 8-minute budget is spent", 0.0))
            continue
        console.print(f"gpu-check: {name} …", markup=False)
        began = time.monotonic()
        try:
            ok, text = run(min(limit, left))
        except Exception as exc:  # one failing step is a row, the others still run
            ok, text = False, f"{type(exc).__name__}: {exc}"
        rows.append((name, ok, text, time.monotonic() - began))
    table = Table(
        title=Text(f"gpu-check on {gpu} ({time.monotonic() - started:.0f} s)"), title_justify="left"
    )
    for header in ("check", "result", "figures", "s"):
        table.add_column(header, justify="right" if header == "s" else "left")
    for name, ok, text, seconds in rows:
        table.add_row(
            name,
            Text("pass" if ok else "FAIL", style="green" if ok else "bold red"),
            Text(text),
            f"{seconds:.0f}",
        )
    console.print(table)
    return 0 if all(ok for _, ok, _, _ in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
