"""The configurations measured on one machine: a model × runtime × precision × device with
its stored task figures, decode speed and peak memory.

- Task figures: the latest successful run per task on that machine (quick or full), read by
  its main metric (engine.pick.quality.task_figure). A run without a machine name counts as
  this machine's (the store names the rows made here when it migrates to schema 8).
- Speed: the configuration's speed row (engine.results.speed.speed_rows: the latest
  `bench` run, else its fastest chat reply). Speed rows carry no machine: they are only
  ever recorded where they were measured, so they count for this machine alone; a machine
  whose results were imported has none, and its configurations stay incomplete.
- Peak memory: the highest of the speed row's peak and the peaks of the evaluation runs
  used, so that a configuration under the memory limit fitted everything measured of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from engine.pick.quality import TaskFigure, task_figure
from engine.results.speed import speed_rows
from engine.results.store import EvalRun, SpeedRun
from engine.task_registry import REGISTRY

ConfigKey = tuple[str, str, str, str]  # model, runtime, precision, device


@dataclass(frozen=True)
class Configuration:
    model: str
    runtime: str
    precision: str  # as stored: fp32, int8, a GGUF quant type (Q4_1)
    device: str
    label: str
    figures: dict[str, TaskFigure] = field(default_factory=dict)  # task -> main metric
    tok_s: float | None = None
    first_token_ms: float | None = None
    peak_mb: float | None = None

    @property
    def key(self) -> ConfigKey:
        return (self.model, self.runtime, self.precision, self.device)


def key_of(run: EvalRun | SpeedRun) -> ConfigKey:
    return (run.model_id, run.runtime or "transformers", run.precision, run.device)


def measured(
    evals: Iterable[EvalRun],
    speeds: Iterable[SpeedRun],
    *,
    machine: str,
    here: str,
    names: Mapping[str, str] | None = None,
) -> list[Configuration]:
    """Every configuration with a successful evaluation or a speed row on ``machine``
    (``here`` is this machine's name: only then do speed rows count). ``names`` gives a
    model's display name for the labels (default: its id)."""
    latest: dict[ConfigKey, dict[str, EvalRun]] = {}
    for run in sorted(evals, key=lambda r: (r.ended, r.id or 0)):
        if run.status == "ok" and (run.machine or here) == machine:
            latest.setdefault(key_of(run), {})[run.task] = run
    speed = {}
    if machine == here:
        for found in speed_rows(list(speeds)):
            speed[(found.model_id, found.runtime, found.precision, found.device)] = found
    keys = sorted(set(latest) | set(speed))
    labels = _labels(keys, names or {})
    out = []
    for key in keys:
        runs = latest.get(key, {})
        figures = {t: f for t, r in runs.items() if (f := task_figure(r)) is not None}
        row = speed.get(key)
        peaks = [r.peak_memory_mb for r in runs.values() if r.peak_memory_mb is not None]
        if row is not None and row.peak_mb is not None:
            peaks.append(row.peak_mb)
        out.append(
            Configuration(
                *key,
                label=labels[key],
                figures=figures,
                tok_s=row.tokens_per_s if row is not None else None,
                first_token_ms=row.first_token_ms if row is not None else None,
                peak_mb=max(peaks) if peaks else None,
            )
        )
    return out


def _labels(keys: Sequence[ConfigKey], names: Mapping[str, str]) -> dict[ConfigKey, str]:
    """'SmolLM2-135M-Instruct · llama.cpp Q4_1', with the device when the same model,
    runtime and precision was measured on more than one."""
    short = {k: f"{names.get(k[0], k[0])} · {k[1]} {k[2]}" for k in keys}
    counts: dict[str, int] = {}
    for text in short.values():
        counts[text] = counts.get(text, 0) + 1
    return {k: short[k] if counts[short[k]] == 1 else f"{short[k]} {k[3]}" for k in keys}


def default_tasks(configs: Sequence[Configuration]) -> tuple[str, ...]:
    """The tasks measured on the most configurations (all of them when tied), in the
    registry's order, then by name."""
    counts: dict[str, int] = {}
    for config in configs:
        for task in config.figures:
            counts[task] = counts.get(task, 0) + 1
    if not counts:
        return ()
    most = max(counts.values())
    chosen = {t for t, n in counts.items() if n == most}
    known = [t.name for t in REGISTRY if t.name in chosen]
    return tuple(known + sorted(chosen - set(known)))


def machines(evals: Iterable[EvalRun], here: str) -> list[str]:
    """The machines with results: this one first (its speed rows count), then by name."""
    named = {r.machine for r in evals if r.machine}
    return [here, *sorted(named - {here})]


def load_precision(stored: str) -> str:
    """The precision a load asks for to get a configuration stored as ``stored``: fp32 and
    the like as they are, a GGUF quant type through the precision that selects its file
    (Q8_0 -> int8, Q4_1 -> int4), else auto (the file's own type)."""
    from engine.gguf_files import PRECISION_QUANTS
    from engine.settings import PRECISIONS

    if stored in PRECISIONS:
        return stored
    for precision, quants in PRECISION_QUANTS.items():
        if stored in quants:
            return precision
    return "auto"
