"""The results store: every evaluation and chat-speed run, in SQLite.

One file (engine.paths.results_db_path()), WAL so the app can read while a run writes,
schema version in PRAGMA user_version, forward migrations applied on open. This module
never imports torch: the UI reads the store directly. Library versions come from package
metadata, which is the same installation the worker runs.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from engine import __version__
from engine.paths import results_db_path

STATUSES = ("ok", "oom", "failed", "cancelled")

# Each entry takes the schema from version i to i + 1. Never edit a released entry: add one.
MIGRATIONS: tuple[str, ...] = (
    # 1: evaluation runs
    """
    CREATE TABLE eval_runs (
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL,
        repo TEXT,
        revision TEXT,
        precision TEXT NOT NULL,
        device TEXT NOT NULL,
        device_name TEXT,
        task TEXT NOT NULL,
        task_version TEXT,
        num_fewshot INTEGER,
        limit_n INTEGER,
        samples INTEGER NOT NULL DEFAULT 0,
        metrics TEXT NOT NULL DEFAULT '{}',
        time_per_sample_ms REAL,
        peak_memory_mb REAL,
        model_size_mb REAL,
        lm_eval_version TEXT,
        transformers_version TEXT,
        torch_version TEXT,
        app_version TEXT,
        started REAL NOT NULL,
        ended REAL NOT NULL,
        status TEXT NOT NULL,
        error TEXT
    );
    CREATE INDEX eval_runs_cell ON eval_runs (model_id, task, precision, device);
    """,
    # 2: where a run came from (imports), and chat speed runs
    """
    ALTER TABLE eval_runs ADD COLUMN source TEXT NOT NULL DEFAULT 'local';
    CREATE TABLE speed_runs (
        id INTEGER PRIMARY KEY,
        model_id TEXT NOT NULL,
        precision TEXT NOT NULL,
        device TEXT NOT NULL,
        device_name TEXT,
        prompt TEXT,
        prompt_tokens INTEGER NOT NULL,
        new_tokens INTEGER NOT NULL,
        tokens_per_s REAL NOT NULL,
        time_to_first_token_s REAL,
        peak_memory_mb REAL,
        settings TEXT NOT NULL DEFAULT '{}',
        app_version TEXT,
        created REAL NOT NULL
    );
    CREATE INDEX speed_runs_model ON speed_runs (model_id, precision, device);
    """,
    # 3: board telemetry during the run (peak board memory, max GPU load, which reader)
    """
    ALTER TABLE eval_runs ADD COLUMN peak_board_mb REAL;
    ALTER TABLE eval_runs ADD COLUMN max_gpu_load_pct REAL;
    ALTER TABLE eval_runs ADD COLUMN telemetry_source TEXT;
    ALTER TABLE speed_runs ADD COLUMN peak_board_mb REAL;
    ALTER TABLE speed_runs ADD COLUMN max_gpu_load_pct REAL;
    ALTER TABLE speed_runs ADD COLUMN telemetry_source TEXT;
    """,
    # 4: the runtime (transformers | llama.cpp) in every row's key; load time of speed runs
    """
    ALTER TABLE eval_runs ADD COLUMN runtime TEXT NOT NULL DEFAULT 'transformers';
    ALTER TABLE speed_runs ADD COLUMN runtime TEXT NOT NULL DEFAULT 'transformers';
    ALTER TABLE speed_runs ADD COLUMN load_seconds REAL;
    DROP INDEX IF EXISTS eval_runs_cell;
    CREATE INDEX eval_runs_cell ON eval_runs (model_id, task, runtime, precision, device);
    DROP INDEX IF EXISTS speed_runs_model;
    CREATE INDEX speed_runs_model ON speed_runs (model_id, runtime, precision, device);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class EvalRun:
    """One row of eval_runs. ``limit`` None means the full task.

    ``peak_memory_mb`` is the model's own peak (CUDA peak allocated on a GPU, the worker
    process's peak RSS on CPU); ``peak_board_mb`` is the board's memory in use at its peak
    while the run went (all processes, from the telemetry reader ``telemetry_source``).
    """

    model_id: str
    precision: str
    device: str
    task: str
    status: str
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
    runtime: str = "transformers"
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
    for key, dist in (("lm_eval_version", "lm_eval"), ("transformers_version", "transformers"),
                      ("torch_version", "torch")):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = None
    out["app_version"] = __version__
    return out


def precision_label(dtype: str, quantization: str | None) -> str:
    """LoadInfo's dtype/quantization -> the short label used in the store (fp32, int8, ...)."""
    if quantization:
        return quantization
    short = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}
    name = dtype.replace("torch.", "")
    return short.get(name, name)


_EVAL_COLUMNS = (
    "model_id", "repo", "revision", "precision", "device", "device_name", "task",
    "task_version", "num_fewshot", "limit_n", "samples", "metrics", "time_per_sample_ms",
    "peak_memory_mb", "model_size_mb", "lm_eval_version", "transformers_version",
    "torch_version", "app_version", "started", "ended", "status", "error", "source",
    "peak_board_mb", "max_gpu_load_pct", "telemetry_source", "runtime",
)
_SPEED_COLUMNS = (
    "model_id", "precision", "device", "device_name", "prompt", "prompt_tokens", "new_tokens",
    "tokens_per_s", "time_to_first_token_s", "peak_memory_mb", "settings", "app_version",
    "created", "peak_board_mb", "max_gpu_load_pct", "telemetry_source", "runtime",
    "load_seconds",
)


class ResultsStore:
    """Open (creating or migrating) the store. Use as a context manager or call close()."""

    def __init__(self, path: Path | str | None = None):
        self.path = Path(path) if path is not None else results_db_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # check_same_thread off: the app writes from a worker thread; sqlite serialises.
        self.db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        migrate(self.db)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- evaluation runs -------------------------------------------------------------

    def add_eval(self, run: EvalRun) -> int:
        if run.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {run.status!r}")
        values = _eval_values(run)
        with self.db:
            cursor = self.db.execute(
                f"INSERT INTO eval_runs ({', '.join(_EVAL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_EVAL_COLUMNS))})", values)
        return int(cursor.lastrowid)

    def eval_runs(self, *, model_id: str | None = None, task: str | None = None,
                  precision: str | None = None, device: str | None = None,
                  status: str | None = None, runtime: str | None = None) -> list[EvalRun]:
        """Runs matching the given fields, oldest first."""
        where, params = _where(model_id=model_id, task=task, precision=precision,
                               device=device, status=status, runtime=runtime)
        rows = self.db.execute(f"SELECT * FROM eval_runs{where} ORDER BY ended, id", params)
        return [_eval_from_row(row) for row in rows]

    def has_result(self, *, model_id: str, task: str, precision: str, device: str,
                   limit: int | None, num_fewshot: int | None,
                   runtime: str = "transformers") -> bool:
        """Whether a successful run with these settings exists (for resuming a matrix run).
        ``num_fewshot`` None matches any few-shot count (the task's default was asked for)."""
        sql = ("SELECT 1 FROM eval_runs WHERE model_id=? AND task=? AND precision=? "
               "AND device=? AND runtime=? AND status='ok' AND limit_n IS ?")
        params: list[Any] = [model_id, task, precision, device, runtime, limit]
        if num_fewshot is not None:
            sql += " AND num_fewshot=?"
            params.append(num_fewshot)
        return self.db.execute(sql + " LIMIT 1", params).fetchone() is not None

    # ---- chat speed runs -------------------------------------------------------------

    def add_speed(self, run: SpeedRun) -> int:
        row = dict(run.__dict__)
        row["settings"] = json.dumps(run.settings, sort_keys=True)
        row["app_version"] = run.app_version or __version__
        row["created"] = run.created or time.time()
        with self.db:
            cursor = self.db.execute(
                f"INSERT INTO speed_runs ({', '.join(_SPEED_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_SPEED_COLUMNS))})",
                [row[c] for c in _SPEED_COLUMNS])
        return int(cursor.lastrowid)

    def speed_runs(self, *, model_id: str | None = None,
                   runtime: str | None = None) -> list[SpeedRun]:
        where, params = _where(model_id=model_id, runtime=runtime)
        rows = self.db.execute(f"SELECT * FROM speed_runs{where} ORDER BY created, id", params)
        out = []
        for row in rows:
            data = {k: row[k] for k in row.keys()}
            data["settings"] = json.loads(data["settings"] or "{}")
            out.append(SpeedRun(**data))
        return out


def migrate(db: sqlite3.Connection) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before."""
    found = db.execute("PRAGMA user_version").fetchone()[0]
    if found > SCHEMA_VERSION:
        from engine.errors import SmollmError

        raise SmollmError(f"the results store was written by a newer smollm-tui (schema "
                          f"{found}, this one knows {SCHEMA_VERSION}): upgrade smollm-tui")
    for version in range(found, SCHEMA_VERSION):
        with db:
            db.executescript("BEGIN;" + MIGRATIONS[version]
                             + f";PRAGMA user_version={version + 1};COMMIT;")
    return found


def _where(**fields: Any) -> tuple[str, list[Any]]:
    pairs = [(k, v) for k, v in fields.items() if v is not None]
    if not pairs:
        return "", []
    return " WHERE " + " AND ".join(f"{k}=?" for k, _ in pairs), [v for _, v in pairs]


def _eval_values(run: EvalRun) -> Sequence[Any]:
    row = dict(run.__dict__)
    row["limit_n"] = row.pop("limit")
    row["metrics"] = json.dumps(run.metrics, sort_keys=True)
    return [row[c] for c in _EVAL_COLUMNS]


def _eval_from_row(row: sqlite3.Row) -> EvalRun:
    data = {k: row[k] for k in row.keys()}
    data["limit"] = data.pop("limit_n")
    data["metrics"] = json.loads(data["metrics"] or "{}")
    return EvalRun(**data)


def eval_run_from_task(result: Any, info: Any, *, source: str = "local",
                       versions: dict[str, str | None] | None = None) -> EvalRun:
    """An EvalRun from a worker TaskResult and the LoadInfo of the model it ran on."""
    return EvalRun(
        model_id=info.model_id, repo=info.repo, revision=info.revision,
        precision=precision_label(info.dtype, info.quantization), device=info.device,
        device_name=info.device_name, task=result.task, task_version=result.task_version,
        num_fewshot=result.num_fewshot, limit=result.limit, samples=result.samples,
        metrics=dict(result.metrics), time_per_sample_ms=result.time_per_sample_ms,
        peak_memory_mb=result.peak_memory_mb, model_size_mb=info.size_mb,
        started=result.started, ended=result.ended, status=result.status, error=result.error,
        source=source, runtime=getattr(info, "runtime", "transformers"),
        **(versions or library_versions()))


def add_many(store: ResultsStore, runs: Iterable[EvalRun]) -> list[int]:
    return [store.add_eval(run) for run in runs]
