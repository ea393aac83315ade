"""Import results JSON files written by lm-eval elsewhere (a workstation, a cluster).

lm-eval writes ``results_<date>.json`` under its --output_path: the aggregated metrics per
task plus the run's configuration. Time per sample and peak memory are not in those files,
so imported rows have none; their source is ``import:<file name>``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.records import precision_label
from engine.results.metric_kinds import kinds_for
from engine.results.metrics import metrics_of, primary_of
from engine.results.store import EvalRun, ResultsStore

_DTYPE_RE = re.compile(r"(?:^|,)\s*(?:dtype|torch_dtype)=([A-Za-z0-9_.]+)")
_GPU_RE = re.compile(r"^GPU 0: (.+)$", re.MULTILINE)


def find_results_files(path: Path) -> list[Path]:
    """A results file, or every results_*.json under a folder (lm-eval nests them)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(path.rglob("results_*.json"))
        if files:
            return files
        raise UsageError(f"no lm-eval results files (results_*.json) under {path}")
    raise UsageError(f"{path} does not exist: give an lm-eval results JSON file or its folder")


class _Bad(Exception):
    """What is wrong in a results file; becomes one UsageError naming the file."""


def _model_args(config: dict[str, Any]) -> dict[str, str]:
    args = config.get("model_args") or {}
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    if not isinstance(args, str):
        raise _Bad(f"'model_args' must be text such as \"pretrained=...\", not {_show(args)}")
    return dict(part.split("=", 1) for part in args.split(",") if "=" in part)


def _show(value: Any) -> str:
    text = json.dumps(value, allow_nan=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _table(data: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional JSON object field ({} when absent or null)."""
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad(f"'{key}' must be an object, not {_show(value)}")
    return value


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _number(value: Any, what: str, *, allow_text: bool = True) -> float:
    """A finite number (lm-eval writes some as text: "12.5")."""
    if isinstance(value, bool):
        raise _Bad(f"{what} must be a number, not {_show(value)}")
    if isinstance(value, str) and allow_text:
        try:
            value = float(value)
        except ValueError:
            raise _Bad(f"{what} must be a number, not {_show(value)}") from None
    if not isinstance(value, (int, float)):
        raise _Bad(f"{what} must be a number, not {_show(value)}")
    return _finite(value, what)


def _finite(value: int | float, what: str) -> float:
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise _Bad(f"{what} is {_show(value)}: figures must be finite numbers")
    return number


# Counts are stored as SQLite integers (64 bits); a larger one cannot be a real count.
_MAX_COUNT = 2**63 - 1


def _count(value: Any, what: str) -> int:
    # An int is taken as it is (through a float, one past 2**53 would change).
    number = value if type(value) is int else _number(value, what, allow_text=False)
    if number < 0 or number != int(number) or int(number) > _MAX_COUNT:
        raise _Bad(f"{what} must be a whole number from 0 to {_MAX_COUNT:,}, not {_show(value)}")
    return int(number)


def _top_level_tasks(results: dict[str, Any], groups: dict[str, Any]) -> list[str]:
    children = {t for subs in groups.values() if isinstance(subs, list) for t in subs}
    names = [t for t in results if t not in children]
    return names or list(results)


def _metrics(task: str, entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise _Bad(f"'results' of task {task} must be an object of metrics, not {_show(entry)}")
    metrics = metrics_of(entry)
    for name, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            _finite(value, f"task {task}: {name}")
    return metrics


def runs_from_results(
    data: Any,
    *,
    source: str,
    model_id_for: Callable[[str], str] | None = None,
    where: str | None = None,
    machine: str | None = None,
) -> list[EvalRun]:
    """EvalRuns from one parsed lm-eval results file. A UsageError names ``where`` (the
    file; default ``source``) and the first thing wrong in it (a missing table, a field of
    the wrong kind, a NaN figure). ``machine`` names the machine it ran on (default: the
    GPU the file names, else "imported")."""
    try:
        return _runs(data, source, model_id_for, machine)
    except _Bad as exc:
        raise UsageError(f"{where or source}: {exc}; nothing was imported") from None


def _date(value: Any) -> float:
    try:
        return _number(value, "'date'")
    except _Bad:
        raise _Bad(
            f"'date' must be a time in seconds since 1970, as lm-eval writes it, not {_show(value)}"
        ) from None


# lm-eval's model types (its --model) and the runtime each computes with.
_RUNTIME_OF_BACKEND = {
    "hf": "transformers",
    "hf-auto": "transformers",
    "huggingface": "transformers",
    "vllm": "vllm",
    "sglang": "sglang",
    "gguf": "llama.cpp",
    "ggml": "llama.cpp",
}


def _backend(config: dict[str, Any]) -> tuple[str, str]:
    """(backend, runtime) of a results file: lm-eval's model type, e.g. ("lm-eval vllm",
    "vllm"); a file without one is taken as lm-eval's default, hf."""
    model = config.get("model")
    kind = model.strip() if isinstance(model, str) and model.strip() else "hf"
    if not kind.replace("-", "").replace("_", "").isalnum() or len(kind) > 40:
        raise _Bad(
            f"'config.model' must be an lm-eval model type such as \"hf\", not {_show(model)}"
        )
    return f"lm-eval {kind}", _RUNTIME_OF_BACKEND.get(kind, kind)


def _runs(
    data: Any, source: str, model_id_for: Callable[[str], str] | None, machine: str | None
) -> list[EvalRun]:
    if not isinstance(data, dict):
        raise _Bad(
            f"not an lm-eval results file (the file holds {_show(data)}, "
            "not an object with a 'results' table)"
        )
    if not isinstance(data.get("results"), dict) or not data["results"]:
        raise _Bad("not an lm-eval results file (no 'results' table)")
    results: dict[str, Any] = data["results"]
    config = _table(data, "config")
    args = _model_args(config)
    repo = (
        args.get("pretrained")
        or _text(data, "model_name")
        or (config.get("model") if isinstance(config.get("model"), str) else None)
        or "unknown"
    )
    model_id = model_id_for(repo) if model_id_for else repo.rstrip("/").split("/")[-1].lower()
    dtype = args.get("dtype") or args.get("torch_dtype") or "auto"
    quant = (
        "int8"
        if args.get("load_in_8bit") == "True"
        else ("int4" if args.get("load_in_4bit") == "True" else None)
    )
    device = str(config.get("device") or "unknown").split(":")[0]
    env = _text(data, "pretty_env_info") or ""
    gpu = _GPU_RE.search(env)
    backend, runtime = _backend(config)
    gpu_name = gpu.group(1).strip() if gpu else None
    date = data.get("date")
    started = 0.0 if date is None else _date(date)
    try:
        ended = started + _number(data.get("total_evaluation_time_seconds") or 0.0, "")
    except _Bad:
        ended = started  # lm-eval's own timing is optional
    limit = config.get("limit")
    if limit is not None:
        limit = _count(limit, "'config.limit'")
    groups = _table(data, "group_subtasks")
    n_samples, n_shot, versions = (
        _table(data, "n-samples"),
        _table(data, "n-shot"),
        _table(data, "versions"),
    )
    runs = []
    for task in _top_level_tasks(results, groups):
        subtasks = groups.get(task, [task])
        leaves = [t for t in (subtasks if isinstance(subtasks, list) else [task]) if t in n_samples]
        samples = 0
        for leaf in leaves:
            counts = n_samples[leaf]
            if not isinstance(counts, dict) or "effective" not in counts:
                raise _Bad(f"'n-samples' of task {leaf} must be an object with 'effective'")
            samples += _count(counts["effective"], f"'n-samples' of task {leaf}")
        shots = n_shot.get(task)
        if shots is None and leaves:
            shots = n_shot.get(leaves[0])
        version = versions.get(task)
        metrics = _metrics(task, results[task])  # lm-eval's order: the first is primary
        leaves_named = subtasks if isinstance(subtasks, list) else []
        runs.append(
            EvalRun(
                model_id=model_id,
                repo=repo,
                revision=args.get("revision"),
                precision=precision_label(dtype, quant),
                device=device,
                device_name=gpu_name,
                task=str(task),
                task_version=None if version is None else str(version),
                num_fewshot=None if shots is None else _count(shots, f"'n-shot' of task {task}"),
                limit=limit,
                samples=samples,
                metrics=metrics,
                metric_kinds=_kinds(data, str(task), [str(t) for t in leaves_named], metrics),
                primary_metric=primary_of(str(task), metrics),
                started=started,
                ended=ended,
                status="ok",
                lm_eval_version=_text(data, "lm_eval_version"),
                transformers_version=_text(data, "transformers_version"),
                torch_version=_torch_version(env),
                app_version=None,
                source=source,
                runtime=runtime,
                backend=backend,
                machine=machine or gpu_name or "imported",
            )
        )
    return runs


def _kinds(
    data: dict[str, Any], task: str, subtasks: list[str], metrics: dict[str, Any]
) -> dict[str, dict[str, bool]]:
    """Each metric's kind from what the file keeps of lm-eval's knowledge: the task's
    'higher_is_better' table and its config's metric_list aggregations (a group's from its
    subtasks' configs); what it does not say is left to the metric's name."""
    table = data.get("higher_is_better")
    directions = table.get(task) if isinstance(table, dict) else None
    configs = data.get("configs")
    aggregations: dict[str, str | None] = {}
    for name in dict.fromkeys([task, *subtasks]):
        config = configs.get(name) if isinstance(configs, dict) else None
        listed = config.get("metric_list") if isinstance(config, dict) else None
        for item in listed if isinstance(listed, list) else []:
            if not isinstance(item, dict) or not isinstance(item.get("metric"), str):
                continue
            agg = item.get("aggregation")
            agg = agg if isinstance(agg, str) else None
            metric = item["metric"]
            aggregations[metric] = agg if aggregations.get(metric, agg) == agg else None
    return kinds_for(metrics, directions if isinstance(directions, dict) else {}, aggregations)


def machine_label(text: str) -> str:
    """A machine name given by a user (`import --machine`): 1-64 printable characters."""
    name = text.strip()
    if not name or len(name) > 64 or not name.isprintable():
        raise UsageError(
            f"--machine must be a name of 1 to 64 printable characters, such as "
            f"'a100-server', not {_show(text)}"
        )
    return name


def _torch_version(env: str) -> str | None:
    match = re.search(r"^PyTorch version: (\S+)", env, re.MULTILINE)
    return match.group(1) if match else None


def import_results(
    store: ResultsStore,
    path: Path,
    *,
    model_id_for: Callable[[str], str] | None = None,
    machine: str | None = None,
) -> list[EvalRun]:
    """Import every results file at ``path``; a file already imported is skipped.
    ``machine`` names where they ran (check it with machine_label first).
    Every file is read and checked first, so that one bad file imports nothing (a
    UsageError names it and what is wrong). Returns the rows added."""
    parsed = []
    for file in find_results_files(path):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise UsageError(f"cannot read {file}: {why}") from None
        parsed.append(
            runs_from_results(
                data,
                source=f"import:{file.name}",
                model_id_for=model_id_for,
                where=str(file),
                machine=machine,
            )
        )
    added = []
    for runs in parsed:
        for run in runs:
            seen = [
                r
                for r in store.eval_runs(model_id=run.model_id, task=run.task)
                if r.source == run.source and r.started == run.started
            ]
            if not seen and run not in added:
                added.append(run)
    store.add_evals(added)
    return added
