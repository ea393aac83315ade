"""Stored runs for the Pick tests and snapshots: the bundled model in three configurations
(llama.cpp Q4_1, transformers fp32 and int8, with the speeds and peaks `bench` and chat
measured for Compare's tests), OPT-125m and a tiny model, on ARC-e and PIQA; Pythia-160M with
BoolQ only (incomplete)."""

from __future__ import annotations

from app_fixtures import FIXED_TIME

from engine.machine import machine_name
from engine.results.store import EvalRun, ResultsStore, SpeedRun

BUNDLED = "smollm2-135m-instruct"

# model, runtime, precision, {task: acc}, tok/s (None: no speed row), peak MB, first token s
CONFIGS = [
    (BUNDLED, "llama.cpp", "Q4_1", {"arc_easy": 0.42, "piqa": 0.60}, 117.3, 344.0, 0.010),
    (BUNDLED, "transformers", "fp32", {"arc_easy": 0.43, "piqa": 0.61}, 15.2, 1180.0, 0.134),
    (BUNDLED, "transformers", "int8", {"arc_easy": 0.41, "piqa": 0.58}, 9.1, 900.0, 0.200),
    ("opt-125m", "transformers", "fp32", {"arc_easy": 0.40, "piqa": 0.62}, 12.0, 1500.0, 0.150),
    ("tiny-llama", "transformers", "fp32", {"arc_easy": 0.25, "piqa": 0.50}, 400.0, 60.0, 0.002),
    ("pythia-160m", "transformers", "fp32", {"boolq": 0.55}, None, 1400.0, None),
]


def pick_runs(machine: str | None = None) -> tuple[list[EvalRun], list[SpeedRun]]:
    machine = machine or machine_name()
    evals, speeds = [], []
    for n, (model, runtime, precision, accs, tps, peak, first) in enumerate(CONFIGS):
        for k, (task, acc) in enumerate(accs.items()):
            start = FIXED_TIME + (n * 10 + k) * 60
            evals.append(
                EvalRun(
                    model_id=model,
                    precision=precision,
                    device="cpu",
                    task=task,
                    status="ok",
                    started=start,
                    ended=start + 30,
                    limit=100,
                    samples=100,
                    metrics={"acc": acc, "acc_stderr": 0.02},
                    primary_metric="acc",
                    peak_memory_mb=peak - 40,
                    runtime=runtime,
                    machine=machine,
                )
            )
        if tps is not None:
            speeds.append(
                SpeedRun(
                    model,
                    precision,
                    "cpu",
                    38,
                    128,
                    tps,
                    first,
                    peak,
                    settings={"bench": "decode"},
                    runtime=runtime,
                    created=FIXED_TIME + n * 600,
                )
            )
    return evals, speeds


def fill_pick_store() -> None:
    evals, speeds = pick_runs()
    with ResultsStore() as store:
        store.add_evals(evals)
        for run in speeds:
            store.add_speed(run)
