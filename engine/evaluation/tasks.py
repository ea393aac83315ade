"""Whether an evaluation task's data is on this machine, where task folders are, and
whether the Hub can be reached (the tasks themselves: engine.task_registry).

This module imports neither lm_eval nor datasets: the UI uses it to list tasks and
show dataset availability before anything heavy is loaded.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from engine import preferences
from engine.errors import SmollmError, UsageError
from engine.paths import hf_cache_dir, hf_home, offline_forced
from engine.task_registry import TaskInfo, lookup


class DatasetUnavailable(SmollmError):
    """A built-in task's dataset is not cached and the Hub cannot be reached."""


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


def hub_reachable(timeout: float = 3.0) -> bool:
    """One TCP connection to the Hub (no retries): the whole check costs at most ``timeout``."""
    if offline_forced(datasets=True):
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
    return (
        f'on a machine with network, run: python -c "import datasets; '
        f'datasets.load_dataset({info.dataset!r}{config})" (then copy the '
        f"{datasets_cache_dir()} folder here), or connect this machine and run again"
    )


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
            f"cache and the Hugging Face Hub cannot be reached; {fetch_hint(info)}"
        )


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
                    raise UsageError(
                        f"task folder {path} {what}: pass a folder of "
                        "lm-eval task YAML files to --include-path"
                    )
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
