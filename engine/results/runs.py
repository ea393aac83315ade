"""What the results store keeps: one evaluated task (EvalRun) or one measured reply
(SpeedRun), the library versions stamped on each, and their columns in SQLite's rows
(engine.results.store reads and writes them)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from engine import __version__
from engine.machine import machine_name
from engine.records import LoadInfo, TaskResult
from engine.results.metric_kinds import parse_kinds
from engine.results.metrics import primary_of
from engine.states import TaskStatus


@dataclass(frozen=True)
class EvalRun:
    """One row of eval_runs. ``limit`` None means the full task.

    ``peak_memory_mb`` is the model's own peak (CUDA peak allocated on a GPU, the worker
    process's peak RSS on CPU); ``peak_board_mb`` is the board's memory in use at its peak
    while the run went (all processes, from the telemetry reader ``telemetry_source``).
    ``primary_metric`` is the metric the tables show for it (engine.results.metrics).
    """

    model_id: str
    precision: str
    device: str
    task: str
    status: TaskStatus
    started: float
    ended: float
    repo: str | None = None
    revision: str | None = None
    device_name: str | None = None
    task_version: str | None = None
    num_fewshot: int | None = None
    limit: int | None = None
    samples: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    time_per_sample_ms: float | None = None
    peak_memory_mb: float | None = None
    model_size_mb: float | None = None
    lm_eval_version: str | None = None
    transformers_version: str | None = None
    torch_version: str | None = None
    app_version: str | None = None
    error: str | None = None
    source: str = "local"
    peak_board_mb: float | None = None
    max_gpu_load_pct: float | None = None
    telemetry_source: str | None = None
    primary_metric: str | None = None
    runtime: str = "transformers"
    machine: str | None = None  # the machine that ran it (None: before schema 8)
    backend: str | None = None  # smollm-tui, or lm-eval's model type for an import
    # {metric: {"higher_is_better": .., "percent": ..}} as lm-eval gave them (schema 9);
    # read through engine.results.metric_kinds.metric_kind, which covers older rows
    metric_kinds: dict[str, dict[str, bool]] = field(default_factory=dict)
    id: int | None = None

    @property
    def quick(self) -> bool:
        return self.limit is not None


@dataclass(frozen=True)
class SpeedRun:
    model_id: str
    precision: str
    device: str
    prompt_tokens: int
    new_tokens: int
    tokens_per_s: float
    time_to_first_token_s: float | None = None
    peak_memory_mb: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    prompt: str | None = None
    device_name: str | None = None
    app_version: str | None = None
    created: float = 0.0
    peak_board_mb: float | None = None
    max_gpu_load_pct: float | None = None
    telemetry_source: str | None = None
    runtime: str = "transformers"
    load_seconds: float | None = None  # the model's load time (bench runs)
    id: int | None = None


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that produce the figures, without importing them."""
    out: dict[str, str | None] = {}
    for key, dist in (
        ("lm_eval_version", "lm_eval"),
        ("transformers_version", "transformers"),
        ("torch_version", "torch"),
    ):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    out["app_version"] = __version__
    return out


# The backend of a run made here; an imported run names lm-eval's model type ("lm-eval vllm").
LOCAL_BACKEND = "smollm-tui"

EVAL_COLUMNS = (
    "model_id",
    "repo",
    "revision",
    "precision",
    "device",
    "device_name",
    "task",
    "task_version",
    "num_fewshot",
    "limit_n",
    "samples",
    "metrics",
    "time_per_sample_ms",
    "peak_memory_mb",
    "model_size_mb",
    "lm_eval_version",
    "transformers_version",
    "torch_version",
    "app_version",
    "started",
    "ended",
    "status",
    "error",
    "source",
    "peak_board_mb",
    "max_gpu_load_pct",
    "telemetry_source",
    "primary_metric",
    "runtime",
    "machine",
    "backend",
    "metric_kinds",
)
SPEED_COLUMNS = (
    "model_id",
    "precision",
    "device",
    "device_name",
    "prompt",
    "prompt_tokens",
    "new_tokens",
    "tokens_per_s",
    "time_to_first_token_s",
    "peak_memory_mb",
    "settings",
    "app_version",
    "created",
    "peak_board_mb",
    "max_gpu_load_pct",
    "telemetry_source",
    "runtime",
    "load_seconds",
)


def eval_values(run: EvalRun) -> Sequence[Any]:
    row = dict(run.__dict__)
    row["limit_n"] = row.pop("limit")
    row["metrics"] = json.dumps(run.metrics, sort_keys=True)
    row["metric_kinds"] = json.dumps(run.metric_kinds, sort_keys=True)
    return [row[c] for c in EVAL_COLUMNS]


def eval_from_row(row: sqlite3.Row) -> EvalRun:
    data = {k: row[k] for k in row.keys()}
    data["limit"] = data.pop("limit_n")
    data["metrics"] = json.loads(data["metrics"] or "{}")
    # a store read as it is (read-only) may be older than schema 9: no kinds kept
    data["metric_kinds"] = parse_kinds(data.get("metric_kinds"))
    return EvalRun(**data)


def eval_run_from_task(
    result: TaskResult,
    info: LoadInfo,
    *,
    source: str = "local",
    versions: dict[str, str | None] | None = None,
) -> EvalRun:
    """An EvalRun from a worker TaskResult and the LoadInfo of the model it ran on."""
    versions = versions or library_versions()
    return EvalRun(
        model_id=info.model_id,
        repo=info.repo,
        revision=info.revision,
        precision=info.precision,
        device=info.device,
        device_name=info.device_name,
        task=result.task,
        task_version=result.task_version,
        num_fewshot=result.num_fewshot,
        limit=result.limit,
        samples=result.samples,
        metrics=dict(result.metrics),
        metric_kinds=dict(result.metric_kinds),
        primary_metric=primary_of(result.task, result.metrics),
        time_per_sample_ms=result.time_per_sample_ms,
        peak_memory_mb=result.peak_memory_mb,
        model_size_mb=info.size_mb,
        started=result.started,
        ended=result.ended,
        status=result.status,
        error=result.error,
        source=source,
        runtime=getattr(info, "runtime", "transformers"),
        machine=machine_name(),
        backend=LOCAL_BACKEND,
        lm_eval_version=versions.get("lm_eval_version"),
        transformers_version=versions.get("transformers_version"),
        torch_version=versions.get("torch_version"),
        app_version=versions.get("app_version"),
    )
