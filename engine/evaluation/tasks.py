"""The evaluation tasks we know by name, and whether their data is on this machine.

This module imports neither lm_eval nor datasets: the UI uses it to list tasks and
show dataset availability before anything heavy is loaded.
"""

from __future__ import annotations

import difflib
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from engine import preferences
from engine.errors import SmollmError, UsageError
from engine.paths import hf_cache_dir, hf_home


@dataclass(frozen=True)
class TaskInfo:
    """One task of the registry. ``chance`` is the accuracy of random guessing in percent."""

    name: str  # lm-eval's task (or group) name
    short: str  # the seed report's column name
    title: str
    num_fewshot: int  # our default
    primary: str  # the metric a matrix shows: acc, acc_norm, exact_match, ...
    metrics: tuple[str, ...]
    chance: float | None
    dataset: str  # Hugging Face dataset id
    dataset_config: str | None = None


REGISTRY: tuple[TaskInfo, ...] = (
    TaskInfo("arc_easy", "ARC-e", "AI2 Reasoning Challenge, easy set", 0, "acc",
             ("acc", "acc_norm"), 25.0, "allenai/ai2_arc", "ARC-Easy"),
    TaskInfo("arc_challenge", "ARC-c", "AI2 Reasoning Challenge, challenge set", 0, "acc_norm",
             ("acc", "acc_norm"), 25.0, "allenai/ai2_arc", "ARC-Challenge"),
    TaskInfo("boolq", "BoolQ", "Yes/no questions about a passage", 0, "acc",
             ("acc",), 50.0, "aps/super_glue", "boolq"),
    TaskInfo("openbookqa", "OBQA", "Open-book science questions", 0, "acc_norm",
             ("acc", "acc_norm"), 25.0, "allenai/openbookqa", "main"),
    TaskInfo("piqa", "PIQA", "Physical commonsense, two solutions", 0, "acc",
             ("acc", "acc_norm"), 50.0, "baber/piqa"),
    TaskInfo("social_iqa", "SIQA", "Social commonsense, three answers", 0, "acc",
             ("acc",), 100 / 3, "lighteval/siqa"),
    TaskInfo("winogrande", "WinoGrande", "Fill-in-the-blank pronoun resolution", 0, "acc",
             ("acc",), 50.0, "allenai/winogrande", "winogrande_xl"),
    TaskInfo("hellaswag", "HellaSwag", "Commonsense sentence completion", 0, "acc_norm",
             ("acc", "acc_norm"), 25.0, "Rowan/hellaswag"),
    TaskInfo("lambada_openai", "LAMBADA", "Last-word prediction (OpenAI version)", 0, "acc",
             ("acc", "perplexity"), 0.0, "EleutherAI/lambada_openai", "default"),
    TaskInfo("mmlu", "MMLU", "57 subjects, multiple choice (group)", 5, "acc",
             ("acc",), 25.0, "cais/mmlu"),
    TaskInfo("truthfulqa_mc2", "TruthfulQA", "TruthfulQA multiple choice (mc2 score)", 0, "acc",
             ("acc",), None, "truthfulqa/truthful_qa", "multiple_choice"),
    TaskInfo("gsm8k", "GSM8K", "Grade-school maths, generated answers", 5,
             "exact_match,strict-match", ("exact_match,strict-match",
                                          "exact_match,flexible-extract"),
             0.0, "openai/gsm8k", "main"),
)

_BY_KEY = {key.lower(): t for t in REGISTRY for key in (t.name, t.short)}
SEED_TASKS = ("arc_easy", "boolq", "openbookqa", "piqa", "social_iqa", "winogrande")


class DatasetUnavailable(SmollmError):
    """A built-in task's dataset is not cached and the Hub cannot be reached."""


def lookup(name: str) -> TaskInfo | None:
    """The registry entry for an lm-eval name or a short name (case does not matter)."""
    return _BY_KEY.get(name.strip().lower())


def resolve_name(name: str) -> str:
    """The lm-eval task name for ``name`` (short names map; unknown names pass unchanged)."""
    info = lookup(name)
    return info.name if info else name.strip()


def short_name(task: str) -> str:
    info = lookup(task)
    return info.short if info else task


def primary_metric(task: str) -> str:
    info = lookup(task)
    return info.primary if info else "acc"


def default_fewshot(task: str) -> int | None:
    info = lookup(task)
    return info.num_fewshot if info else None


def parse_task_list(text: str) -> tuple[str, ...]:
    """'ARC-e, boolq' -> ('arc_easy', 'boolq'); a clear error for an empty list."""
    names = tuple(resolve_name(part) for part in text.split(",") if part.strip())
    if not names:
        raise UsageError("no tasks given: pass --tasks with names such as arc_easy,boolq "
                         f"(known: {', '.join(t.short for t in REGISTRY)})")
    return tuple(dict.fromkeys(names))


def suggest(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    return f" Did you mean {', '.join(close)}?" if close else ""


# ---- datasets on disk --------------------------------------------------------------------


def datasets_cache_dir() -> Path:
    """Where `datasets` keeps prepared (Arrow) datasets, honouring its variables."""
    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser()
    return hf_home() / "datasets"


def dataset_cached(dataset: str) -> bool:
    """True when the dataset is in the datasets cache or the hub cache (no network used)."""
    prepared = datasets_cache_dir() / dataset.replace("/", "___")
    if prepared.is_dir() and any(prepared.iterdir()):
        return True
    snapshots = hf_cache_dir() / ("datasets--" + dataset.replace("/", "--")) / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def task_available(task: str) -> bool | None:
    """For a registry task: is its dataset cached? None for tasks we do not know
    (local YAML tasks bring their own data)."""
    info = lookup(task)
    return dataset_cached(info.dataset) if info else None


def offline_forced() -> bool:
    truthy = {"1", "ON", "YES", "TRUE"}
    return any(os.environ.get(v, "").upper() in truthy
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connection to the Hub (no retries): the whole check costs at most ``timeout``."""
    if offline_forced():
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    host = urlparse(endpoint).hostname or "huggingface.co"
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def fetch_hint(info: TaskInfo) -> str:
    config = f", {info.dataset_config!r}" if info.dataset_config else ""
    return (f"on a machine with network, run: python -c \"import datasets; "
            f"datasets.load_dataset({info.dataset!r}{config})\" (then copy the "
            f"{datasets_cache_dir()} folder here), or connect this machine and run again")


def check_dataset(task: str, reachable: bool | None = None) -> None:
    """Raise DatasetUnavailable at once when a known task's data is neither cached nor
    downloadable, instead of letting `datasets` retry for half a minute."""
    info = lookup(task)
    if info is None or dataset_cached(info.dataset):
        return
    if reachable is None:
        reachable = hub_reachable()
    if not reachable:
        raise DatasetUnavailable(
            f"task {info.name} needs the dataset {info.dataset}, which is not in the local "
            f"cache and the Hugging Face Hub cannot be reached; {fetch_hint(info)}")


def include_paths(extra: str | None) -> list[str]:
    """Task folders, first to last: --include-path (several joined with os.pathsep),
    SMOLLM_TUI_TASKS, then the folders saved from the Evaluate screen; resolved, without
    duplicates. A missing folder given on the command line or in the variable is a
    UsageError; a saved folder that has since disappeared is skipped (the Evaluate screen
    warns about it, see engine.preferences.missing_task_folders)."""
    paths = []
    for source in (extra, os.environ.get("SMOLLM_TUI_TASKS")):
        for part in (source or "").split(os.pathsep):
            if part.strip():
                path = Path(part.strip()).expanduser()
                if not path.is_dir():
                    what = "is not a folder" if path.exists() else "does not exist"
                    raise UsageError(f"task folder {path} {what}: pass a folder of "
                                     "lm-eval task YAML files to --include-path")
                paths.append(str(path.resolve()))
    paths += [str(Path(f).resolve()) for f in preferences.task_folders() if Path(f).is_dir()]
    return list(dict.fromkeys(paths))


_TASK_LINE = re.compile(r"^task:\s*['\"]?([A-Za-z0-9_.\-]+)['\"]?\s*$", re.MULTILINE)


def local_task_names(paths: list[str]) -> list[str]:
    """Task names defined by the YAML files under ``paths`` (top-level ``task:`` keys),
    read as text so that listing them needs neither lm_eval nor a YAML loader (task files
    use lm-eval's own tags such as ``!function``)."""
    names: list[str] = []
    for folder in paths:
        for path in sorted(Path(folder).rglob("*.y*ml")):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            names += _TASK_LINE.findall(text)
    return list(dict.fromkeys(names))
