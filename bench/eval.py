"""Benchmark: our evaluation against the `lm_eval` command on the same model and tasks.

1. one task: `smollm-tui eval` (model load included, result stored) vs one `lm_eval` command;
2. three tasks: one `smollm-tui eval` with all three vs three `lm_eval` commands.
Targets: (1) ratio <= 1.0; (2) ratio <= 0.6. Both sides start a fresh Python process, load
the model from disk and evaluate on the CPU with batch size 1.
3. runtimes: the bundled model's time per sample (model time, as stored), Q4_1 on llama.cpp
vs the dequantized copy on transformers (lm-eval's HFLM), on a multiple-choice and a
generative task, each runtime in its own `smollm-tui eval` process; with the accuracy of
each, and the peak memory each process stored.

    .venv/bin/python bench/eval.py [--model-dir DIR] [--limit N] [--repeat R] [--runtimes-only]

Without --model-dir it uses the tiny test model (tests/tiny_models.py), which measures the
harness overhead; a real model folder measures the model too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = ROOT / "tests" / "fixtures" / "tasks"
TASKS = ("fx_choice4", "fx_yesno", "fx_choice2")
PARITY_DIR = ROOT / "tests" / "fixtures" / "parity_tasks"
RUNTIME_TASKS = ("fx_choice4", "fx_short_answer")
BUNDLED = "smollm2-135m-instruct"
BIN = Path(sys.executable).parent


def timed(cmd: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - began
    if out.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{out.stderr[-3000:]}\n{out.stdout[-2000:]}")
    return elapsed


def ours(tasks: tuple[str, ...], catalog: Path, limit: int | None, env: dict) -> list[str]:
    size = ["--full"] if limit is None else ["--limit", str(limit)]
    return [
        str(BIN / "smollm-tui"),
        "--catalog",
        str(catalog),
        "eval",
        "bench-model",
        "--tasks",
        ",".join(tasks),
        *size,
        "--include-path",
        str(TASKS_DIR),
        "--precision",
        "fp32",
        "--device",
        "cpu",
        "--force",
        "--in-process",
    ]


def theirs(task: str, model_dir: Path, limit: int | None, out: Path) -> list[str]:
    cmd = [
        str(BIN / "lm_eval"),
        "--model",
        "hf",
        "--model_args",
        f"pretrained={model_dir},dtype=float32",
        "--tasks",
        task,
        "--include_path",
        str(TASKS_DIR),
        "--device",
        "cpu",
        "--batch_size",
        "1",
        "--output_path",
        str(out),
    ]
    return cmd + ([] if limit is None else ["--limit", str(limit)])


def runtimes(env: dict[str, str], limit: int | None) -> None:
    """Section 3: llama.cpp vs transformers on the bundled model, one process each."""
    from engine.results.store import ResultsStore

    size = ["--full"] if limit is None else ["--limit", str(limit)]
    rows = {}
    for runtime in ("llama.cpp", "transformers"):
        timed(
            [
                str(BIN / "smollm-tui"),
                "eval",
                BUNDLED,
                "--runtime",
                runtime,
                "--tasks",
                ",".join(RUNTIME_TASKS),
                *size,
                "--include-path",
                f"{TASKS_DIR}{os.pathsep}{PARITY_DIR}",
                "--device",
                "cpu",
                "--force",
                "--in-process",
            ],
            env,
        )
    os.environ["SMOLLM_TUI_HOME"] = env["SMOLLM_TUI_HOME"]
    with ResultsStore() as store:
        for run in store.eval_runs(model_id=BUNDLED):
            rows[(run.runtime, run.task)] = run
    print(f"runtimes    : {BUNDLED}, limit {limit or 'full'}; model time per sample")
    for task in RUNTIME_TASKS:
        lcpp, hf = rows[("llama.cpp", task)], rows[("transformers", task)]
        metric = "acc" if "acc" in lcpp.metrics else "exact_match"
        print(
            f"  {task:16s} llama.cpp {lcpp.precision} {lcpp.time_per_sample_ms:8.1f} ms "
            f"({metric} {lcpp.metrics.get(metric, 0):.3f}, peak "
            f"{lcpp.peak_memory_mb or 0:.0f} MB)   transformers {hf.precision} "
            f"{hf.time_per_sample_ms:8.1f} ms ({metric} {hf.metrics.get(metric, 0):.3f}, "
            f"peak {hf.peak_memory_mb or 0:.0f} MB)   ratio "
            f"{hf.time_per_sample_ms / lcpp.time_per_sample_ms:.1f}x faster on llama.cpp"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path)
    parser.add_argument("--limit", type=int, help="samples per task (default: all)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--runtimes-only", action="store_true", help="only section 3 (llama.cpp vs transformers)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import overlay_text, tiny_llama_dir

    model_dir = (args.model_dir or tiny_llama_dir()).resolve()
    work = Path(tempfile.mkdtemp(prefix="smollm-bench-eval-"))
    catalog = work / "catalog.toml"
    catalog.write_text(overlay_text({"bench-model": model_dir}))
    env = dict(
        os.environ,
        SMOLLM_TUI_HOME=str(work / "home"),
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        NO_COLOR="1",
    )
    try:
        if args.runtimes_only:
            runtimes(env, args.limit)
            return
        one_ours, one_theirs, three_ours, three_theirs = [], [], [], []
        for _ in range(args.repeat):
            one_ours.append(timed(ours(TASKS[:1], catalog, args.limit, env), env))
            one_theirs.append(timed(theirs(TASKS[0], model_dir, args.limit, work / "o"), env))
            three_ours.append(timed(ours(TASKS, catalog, args.limit, env), env))
            three_theirs.append(
                sum(timed(theirs(t, model_dir, args.limit, work / "o"), env) for t in TASKS)
            )
        med = statistics.median
        print(
            f"model: {model_dir.name}; tasks: {', '.join(TASKS)}; "
            f"limit: {args.limit or 'full'}; repeat: {args.repeat} (medians)"
        )
        print(
            f"one task    : ours {med(one_ours):6.2f} s   lm_eval {med(one_theirs):6.2f} s   "
            f"ratio {med(one_ours) / med(one_theirs):.2f} (target <= 1.0)"
        )
        print(
            f"three tasks : ours {med(three_ours):6.2f} s   3 x lm_eval "
            f"{med(three_theirs):6.2f} s   ratio {med(three_ours) / med(three_theirs):.2f} "
            "(target <= 0.6)"
        )
        runtimes(env, args.limit)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
