"""Import results JSON files written by lm-eval elsewhere (a workstation, a cluster).

lm-eval writes ``results_<date>.json`` under its --output_path: the aggregated metrics per
task plus the run's configuration. Time per sample and peak memory are not in those files,
so imported rows have none; their source is ``import:<file name>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.evaluation.runner import metrics_of
from engine.results.store import EvalRun, ResultsStore, precision_label

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


def _model_args(config: dict[str, Any]) -> dict[str, str]:
    args = config.get("model_args") or {}
    if isinstance(args, dict):
        return {k: str(v) for k, v in args.items()}
    return dict(part.split("=", 1) for part in str(args).split(",") if "=" in part)


def _top_level_tasks(data: dict[str, Any]) -> list[str]:
    groups = data.get("group_subtasks") or {}
    children = {t for subs in groups.values() for t in subs}
    names = [t for t in data.get("results", {}) if t not in children]
    return names or list(data.get("results", {}))


def runs_from_results(data: dict[str, Any], *, source: str,
                      model_id_for: Callable[[str], str] | None = None) -> list[EvalRun]:
    """EvalRuns from one parsed lm-eval results file."""
    if "results" not in data or not isinstance(data["results"], dict):
        raise UsageError(f"{source}: not an lm-eval results file (no 'results' table)")
    config = data.get("config") or {}
    args = _model_args(config)
    repo = args.get("pretrained") or data.get("model_name") or config.get("model") or "unknown"
    model_id = model_id_for(repo) if model_id_for else repo.rstrip("/").split("/")[-1].lower()
    dtype = args.get("dtype") or args.get("torch_dtype") or "auto"
    quant = "int8" if args.get("load_in_8bit") == "True" else (
        "int4" if args.get("load_in_4bit") == "True" else None)
    device = str(config.get("device") or "unknown").split(":")[0]
    gpu = _GPU_RE.search(data.get("pretty_env_info") or "")
    started = float(data.get("date") or 0.0)
    try:
        ended = started + float(data.get("total_evaluation_time_seconds") or 0.0)
    except ValueError:
        ended = started
    limit = config.get("limit")
    groups = data.get("group_subtasks") or {}
    runs = []
    for task in _top_level_tasks(data):
        leaves = [t for t in groups.get(task, [task]) if t in data.get("n-samples", {})]
        samples = sum(int(data["n-samples"][t]["effective"]) for t in leaves)
        shots = data.get("n-shot", {}).get(task)
        if shots is None and leaves:
            shots = data.get("n-shot", {}).get(leaves[0])
        version = data.get("versions", {}).get(task)
        runs.append(EvalRun(
            model_id=model_id, repo=repo, revision=args.get("revision"),
            precision=precision_label(dtype, quant), device=device,
            device_name=gpu.group(1).strip() if gpu else None, task=task,
            task_version=None if version is None else str(version),
            num_fewshot=None if shots is None else int(shots),
            limit=None if limit is None else int(limit), samples=samples,
            metrics=metrics_of(data["results"][task]), started=started, ended=ended,
            status="ok", lm_eval_version=data.get("lm_eval_version"),
            transformers_version=data.get("transformers_version"),
            torch_version=_torch_version(data.get("pretty_env_info") or ""),
            app_version=None, source=source))
    return runs


def _torch_version(env: str) -> str | None:
    match = re.search(r"^PyTorch version: (\S+)", env, re.MULTILINE)
    return match.group(1) if match else None


def import_results(store: ResultsStore, path: Path, *,
                   model_id_for: Callable[[str], str] | None = None) -> list[EvalRun]:
    """Import every results file at ``path``; a file already imported is skipped.
    Returns the rows added."""
    added = []
    for file in find_results_files(path):
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot read {file}: {exc}") from exc
        source = f"import:{file.name}"
        for run in runs_from_results(data, source=source, model_id_for=model_id_for):
            seen = [r for r in store.eval_runs(model_id=run.model_id, task=run.task)
                    if r.source == source and r.started == run.started]
            if not seen:
                store.add_eval(run)
                added.append(run)
    return added
