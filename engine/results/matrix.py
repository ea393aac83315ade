"""Comparison matrices like the seed report's four tables (and the board's peak memory):
model x task, plus an Avg column.

The accuracy table shows each task's metric in its own unit and direction
(engine.results.metric_kinds): accuracies and exact match in %, a perplexity or bits per
byte as lm-eval gives it; its Avg is over the % columns where higher is better only, and
the table has no Avg when none of its columns is one.

A row is a model, or, when a model has runs on more than one runtime, one row per
configuration (runtime and precision: fp32 on transformers, Q4_1 on llama.cpp) labelled
with it ("SmolLM2-135M · llama.cpp Q4_1"), so they stand side by side. A cell is the latest
successful run for (row, task) under the filters; with no successful run it shows the
latest failure (oom or failed), else "not run". Accuracy cells carry the
published reference figure, the difference, and a flag when the two differ by more than
three standard errors of our measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from engine.results.metric_kinds import MetricKind, kind_by_name, metric_kind
from engine.results.metrics import is_figure, metric_label, stderr_key, stored_primary
from engine.results.references import References
from engine.results.store import EvalRun
from engine.runtimes import DEFAULT, is_default
from engine.task_registry import REGISTRY, lookup, short_name

# metric key -> table title
MATRIX_METRICS = {
    "accuracy": "Accuracy (%)",  # "Scores (...)" when a column is not a percentage
    "time": "Time per sample (ms)",
    "memory": "Peak memory (GB)",
    "size": "Model size (MB)",
    "board": "Peak board memory (GB)",
}
# The seed report's four tables in its order, then the board's peak memory it did not have.
REPORT_ORDER = ("size", "accuracy", "time", "memory", "board")
ACCURACY_CHOICES = ("primary", "acc", "acc_norm")
NOT_RUN = "not run"
FLAG_SIGMAS = 3.0
# The accuracy table's title when a column (a perplexity) is not a percentage.
MIXED_TITLE = "Scores (accuracy in %, others in their own unit)"


@dataclass(frozen=True)
class Filters:
    precision: str | None = None
    device: str | None = None
    runtime: str | None = None  # transformers | llama.cpp
    mode: str | None = None  # quick | full | None (both)
    num_fewshot: int | None = None
    models: tuple[str, ...] | None = None
    tasks: tuple[str, ...] | None = None
    machine: str | None = None  # the machine that ran it (EvalRun.machine)

    def accepts(self, run: EvalRun) -> bool:
        if self.machine and run.machine != self.machine:
            return False
        if self.precision and run.precision != self.precision:
            return False
        if self.device and run.device != self.device:
            return False
        if self.runtime and (run.runtime or DEFAULT.name) != self.runtime:
            return False
        if self.mode == "quick" and run.limit is None:
            return False
        if self.mode == "full" and run.limit is not None:
            return False
        if self.num_fewshot is not None and run.num_fewshot != self.num_fewshot:
            return False
        if self.models and run.model_id not in self.models:
            return False
        return not (self.tasks and run.task not in self.tasks)


@dataclass(frozen=True)
class Cell:
    status: str  # ok | oom | failed | not run
    value: float | None = None
    stderr: float | None = None
    metric: str | None = None  # for accuracy: which lm-eval metric the value is
    run_id: int | None = None
    error: str | None = None
    reference: float | None = None
    reference_source: str | None = None
    difference: float | None = None
    flagged: bool = False
    machine: str | None = None  # where the run was made
    backend: str | None = None  # smollm-tui, or lm-eval's model type for an import
    # The kind of ``metric`` in the accuracy table (None in the others): which way is better,
    # and whether ``value`` (and stderr, reference, difference) is in percent
    higher_is_better: bool | None = None
    percent: bool | None = None

    @property
    def kind(self) -> MetricKind | None:
        if self.higher_is_better is None or self.percent is None:
            return None
        return MetricKind(self.higher_is_better, self.percent)

    @property
    def averaged(self) -> bool:
        """Whether a row's Avg takes this cell: any figure of the time, memory and size
        tables; in the accuracy table, a percentage where higher is better."""
        kind = self.kind
        return self.value is not None and (kind is None or kind.averaged)


Config = tuple[str, str]  # (runtime, precision) of a run


def config_of(run: EvalRun) -> Config:
    return (run.runtime or DEFAULT.name, run.precision)


def config_label(config: Config) -> str:
    """'llama.cpp Q4_1', 'transformers fp32'."""
    return f"{config[0]} {config[1]}"


@dataclass
class Row:
    model_id: str
    label: str
    params: str
    cells: dict[str, Cell] = field(default_factory=dict)
    # Set when the model's runs are split by configuration (one row each)
    config: Config | None = None

    @property
    def key(self) -> str:
        """Unique among a matrix's rows: the model, with its configuration when split."""
        return (
            self.model_id
            if self.config is None
            else f"{self.model_id}|{self.config[0]}|{self.config[1]}"
        )

    @property
    def average(self) -> float | None:
        """Mean over the cells with a value that Avg takes (Cell.averaged: never a
        perplexity with accuracies); the seed report skipped its nan cells too."""
        values = [c.value for c in self.cells.values() if c.averaged and c.value is not None]
        return sum(values) / len(values) if values else None

    def averaged_count(self) -> int:
        return sum(c.averaged for c in self.cells.values())


@dataclass
class Matrix:
    metric: str  # accuracy | time | memory | size | board
    title: str
    tasks: list[str]
    rows: list[Row]
    accuracy_metric: str = "primary"

    def column_metric(self, task: str) -> str | None:
        """Which lm-eval metric the accuracy column of ``task`` shows ("acc", "exact_match
        (strict-match)"; "acc / acc_norm" when its cells differ); None for other tables
        or a column without a figure."""
        if self.metric != "accuracy":
            return None
        used = dict.fromkeys(
            metric_label(metric)
            for r in self.rows
            if task in r.cells
            and r.cells[task].value is not None
            and (metric := r.cells[task].metric)
        )
        return " / ".join(used) or None

    def column_kind(self, task: str) -> MetricKind | None:
        """The kind of the accuracy column of ``task``: its first figure's, else (no figure
        yet) its registry metric's; None for other tables or an unknown task's empty column."""
        if self.metric != "accuracy":
            return None
        for row in self.rows:
            cell = row.cells.get(task)
            if cell is not None and cell.value is not None and cell.kind is not None:
                return cell.kind
        info = lookup(task)
        return kind_by_name(info.primary) if info is not None else None

    @property
    def has_average(self) -> bool:
        """Whether the table has an Avg column: always, but for an accuracy table with no
        column that Avg takes (only perplexities, say)."""
        if self.metric != "accuracy":
            return True
        return any((k := self.column_kind(t)) is not None and k.averaged for t in self.tasks)

    def to_dict(self) -> dict[str, Any]:
        def kind(task: str) -> dict[str, Any]:
            found = self.column_kind(task)
            return {
                "higher_is_better": found.higher_is_better if found else None,
                "percent": found.percent if found else None,
            }

        return {
            "metric": self.metric,
            "title": self.title,
            "accuracy_metric": self.accuracy_metric,
            "has_average": self.has_average,
            "tasks": [
                {"task": t, "short": short_name(t), "metric": self.column_metric(t), **kind(t)}
                for t in self.tasks
            ],
            "rows": [
                {
                    "model": r.model_id,
                    "label": r.label,
                    "params": r.params,
                    "runtime": r.config[0] if r.config else None,
                    "precision": r.config[1] if r.config else None,
                    "average": r.average if self.has_average else None,
                    "cells": {t: c.__dict__ for t, c in r.cells.items()},
                }
                for r in self.rows
            ],
        }


def _task_order(tasks: set[str]) -> list[str]:
    known = [t.name for t in REGISTRY if t.name in tasks]
    return known + sorted(tasks - set(known))


def pick_cells(
    runs: list[EvalRun], filters: Filters, split: set[str] | None = None
) -> dict[tuple, EvalRun]:
    """(model, task) -> the run to show: the latest ok run, else the latest oom/failed one.
    For a model in ``split``: (model, config, task), one cell per configuration."""
    best: dict[tuple, EvalRun] = {}
    for run in sorted(runs, key=lambda r: (r.ended, r.id or 0)):
        if not filters.accepts(run) or run.status == "cancelled":
            continue
        key = (
            (run.model_id, config_of(run), run.task)
            if split and run.model_id in split
            else (run.model_id, run.task)
        )
        if run.status == "ok" or best.get(key) is None or best[key].status != "ok":
            best[key] = run
    return best


def split_models(runs: list[EvalRun], filters: Filters) -> dict[str, list[Config]]:
    """The models whose runs (under the filters) come from more than one runtime, with
    their configurations: transformers first, then by runtime and precision. Within one
    runtime a model keeps one row, as the seed report has it (an oom at fp32 beside the
    int8 run that fitted)."""
    configs: dict[str, set[Config]] = {}
    for run in runs:
        if filters.accepts(run) and run.status != "cancelled":
            configs.setdefault(run.model_id, set()).add(config_of(run))
    return {
        model: sorted(found, key=lambda c: (not is_default(c[0]), c))
        for model, found in configs.items()
        if len({c[0] for c in found}) > 1
    }


def accuracy_of(run: EvalRun, choice: str = "primary") -> tuple[float | None, float | None, str]:
    """(value, stderr, metric used), in the metric's own unit (metric_kind: % for an
    accuracy, a perplexity as it is). A metric lm-eval does not give for a task (acc_norm
    of boolq) falls back to the primary one, then to acc. A figure that is not a finite
    number (a NaN stored by an older version) counts as none."""
    primary = stored_primary(run.task, run.metrics, run.primary_metric)
    wanted = primary if choice == "primary" else choice
    for metric in (wanted, primary, "acc"):
        value = run.metrics.get(metric)
        if is_figure(value):
            kind = metric_kind(run, metric)
            stderr = run.metrics.get(stderr_key(metric))
            return (kind.shown(value), kind.shown(stderr) if is_figure(stderr) else None, metric)
    return None, None, wanted


def _figure(value: float | None, scale: float = 1.0) -> float | None:
    return value / scale if is_figure(value) else None


def _value(run: EvalRun, metric: str, choice: str) -> tuple[float | None, float | None, str]:
    if metric == "accuracy":
        return accuracy_of(run, choice)
    if metric == "time":
        return _figure(run.time_per_sample_ms), None, "time_per_sample_ms"
    if metric == "memory":
        return _figure(run.peak_memory_mb, 1024), None, "peak_memory_gb"
    if metric == "board":
        return _figure(run.peak_board_mb, 1024), None, "peak_board_gb"
    return _figure(run.model_size_mb), None, "model_size_mb"


def build_matrix(
    runs: list[EvalRun],
    metric: str = "accuracy",
    *,
    filters: Filters | None = None,
    references: References | None = None,
    accuracy_metric: str = "primary",
    params: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Matrix:
    """The matrix for one metric over the stored runs."""
    if metric not in MATRIX_METRICS:
        raise ValueError(f"metric must be one of {', '.join(MATRIX_METRICS)}")
    filters = filters or Filters()
    split = split_models(runs, filters)
    chosen = pick_cells(runs, filters, set(split))
    tasks = list(filters.tasks) if filters.tasks else _task_order({k[-1] for k in chosen})
    models = list(filters.models) if filters.models else sorted({k[0] for k in chosen})
    repos = {r.model_id: r.repo for r in runs if r.repo}
    rows = []
    for model in models:
        label = (labels or {}).get(model) or (repos.get(model) or model).split("/")[-1]
        configs: list[Config | None] = [*split.get(model, [])] or [None]
        for config in configs:
            row = Row(
                model,
                label if config is None else f"{label} · {config_label(config)}",
                (params or {}).get(model, ""),
                config=config,
            )
            for task in tasks:
                run = chosen.get((model, task) if config is None else (model, config, task))
                row.cells[task] = _cell(run, metric, accuracy_metric, references)
            rows.append(row)
    matrix = Matrix(metric, MATRIX_METRICS[metric], tasks, rows, accuracy_metric)
    if metric == "accuracy" and any(
        (kind := matrix.column_kind(t)) is not None and not kind.percent for t in tasks
    ):
        matrix.title = MIXED_TITLE
    return matrix


def _cell(run: EvalRun | None, metric: str, choice: str, references: References | None) -> Cell:
    if run is None:
        return Cell(NOT_RUN)
    if run.status != "ok":
        return Cell(run.status, run_id=run.id, error=run.error)
    value, stderr, used = _value(run, metric, choice)
    kind = metric_kind(run, used) if metric == "accuracy" else None
    cell = Cell(
        "ok",
        value,
        stderr,
        used,
        run.id,
        machine=run.machine,
        backend=run.backend,
        higher_is_better=kind.higher_is_better if kind else None,
        percent=kind.percent if kind else None,
    )
    if metric == "accuracy" and references is not None and value is not None:
        # Published figures are in the unit tables show (references.toml: accuracies in
        # %, perplexities as they are), as value and stderr are: the flag compares like
        # with like.
        ref = references.published(run.model_id, run.task, used, run.num_fewshot)
        if ref is not None and ref.value is not None:
            diff = value - ref.value
            flagged = stderr is not None and abs(diff) > FLAG_SIGMAS * stderr
            cell = replace(
                cell,
                reference=ref.value,
                reference_source=ref.source,
                difference=diff,
                flagged=flagged,
            )
    return cell


def reference_matrix(
    references: References,
    metric: str = "accuracy",
    *,
    source: str = "seed-000",
    params: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
) -> Matrix:
    """A shipped table (by default the seed report's) as a Matrix, for side-by-side display."""
    ref_metric = {
        "accuracy": "acc",
        "time": "time_per_sample_ms",
        "memory": "peak_memory_gb",
        "size": "model_size_mb",
        "board": "peak_board_gb",
    }[metric]
    items = [r for r in references.items if r.source == source and r.metric == ref_metric]
    tasks = _task_order({r.task for r in items})
    rows = []
    for model in dict.fromkeys(r.model for r in items):
        row = Row(model, (labels or {}).get(model, model), (params or {}).get(model, ""))
        for task in tasks:
            found = [r for r in items if r.model == model and r.task == task]
            if not found:
                row.cells[task] = Cell(NOT_RUN)
            elif found[0].value is None:
                row.cells[task] = Cell(found[0].status)
            else:
                row.cells[task] = Cell("ok", found[0].value, metric=ref_metric)
        rows.append(row)
    title = f"{MATRIX_METRICS[metric]}, {references.sources[source].key}"
    return Matrix(metric, title, tasks, rows)


def comparisons(matrix: Matrix) -> list[tuple[Row, str, Cell]]:
    """The accuracy cells that have a published figure beside them."""
    return [
        (row, task, cell)
        for row in matrix.rows
        for task, cell in row.cells.items()
        if cell.reference is not None
    ]
