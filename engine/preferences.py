"""Small user settings kept between runs: ``settings.json`` in the app's config folder.

Four keys: ``task_folders``, folders of the user's own lm-eval task YAML files, set from
the Evaluate screen and used by the app and the `eval` command alike;
``working_context``, the context in tokens the app plans for (see working_context); and
``threads``, the CPU threads a model computes with, and ``threads_measured``, the count
`bench --threads sweep` found fastest per runtime (see thread_count). The file is
plain JSON so that it can be read and fixed by hand; it is written atomically so that a
crash mid-write never leaves half a file behind.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from engine.errors import SmollmError, UsageError
from engine.paths import config_dir, write_private_text
from engine.settings import check_threads, threads_problem, usable_cores

SETTINGS_NAME = "settings.json"
TASK_FOLDERS = "task_folders"
WORKING_CONTEXT = "working_context"
DEFAULT_WORKING_CONTEXT = 4096
WORKING_CONTEXT_RANGE = (128, 1_048_576)
THREADS = "threads"
MEASURED_THREADS = "threads_measured"


class SettingsError(SmollmError):
    """The settings file exists but cannot be read as our settings."""


def settings_path() -> Path:
    """Where the settings live (under SMOLLM_TUI_HOME when it is set)."""
    return config_dir() / SETTINGS_NAME


def _broken(path: Path, why: str) -> SettingsError:
    return SettingsError(
        f"the settings file {path} is broken ({why}): fix it by hand, or "
        "delete it to start again from the default settings"
    )


def load_settings() -> dict[str, Any]:
    """All saved settings; {} when none were saved. A SettingsError names a broken file."""
    path = settings_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(
            f"cannot read the settings file {path}: {exc.strerror or exc}; check its permissions"
        ) from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _broken(path, f"not UTF-8 text: byte {exc.start} is {raw[exc.start]:#04x}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _broken(path, f"not valid JSON: {exc}") from exc
    except RecursionError as exc:  # [[[[... thousands deep: json's parser recurses
        raise _broken(path, "not valid settings: nested far too deeply") from exc
    if not isinstance(data, dict):
        raise _broken(path, 'expected a JSON object such as {"task_folders": []}')
    return data


def save_settings(data: dict[str, Any]) -> None:
    """Replace the settings file with ``data``: write_private_text, a temporary file (0600,
    flushed to disk) then one rename, so a full disk or a crash mid-write leaves the old
    file whole. Callers load first, and a damaged file stops them before this: it is never
    overwritten."""
    path = settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def task_folders() -> list[str]:
    """The saved task folders (absolute paths), whether or not they still exist."""
    value = load_settings().get(TASK_FOLDERS, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _broken(settings_path(), f"{TASK_FOLDERS} must be a list of folder paths")
    return list(value)


def missing_task_folders() -> list[str]:
    """Saved task folders that are no longer directories (moved or deleted since)."""
    return [folder for folder in task_folders() if not Path(folder).is_dir()]


def split_folders(text: str) -> list[str]:
    """'a:b' (os.pathsep between folders) -> ['a', 'b']; blanks dropped."""
    return [part.strip() for part in text.split(os.pathsep) if part.strip()]


def set_task_folders(folders: list[str]) -> list[str]:
    """Save ``folders`` as the task folders; an empty list clears the setting.

    Each must be an existing directory (a UsageError names the first that is not, and
    nothing is saved). Stored resolved and absolute, without duplicates; returns them.
    """
    resolved = check_task_folders(folders)
    data = load_settings()
    if resolved:
        data[TASK_FOLDERS] = resolved
    else:
        data.pop(TASK_FOLDERS, None)
    save_settings(data)
    return resolved


def check_task_folders(folders: list[str]) -> list[str]:
    """``folders`` resolved and absolute, without duplicates; a UsageError names the first
    that is not an existing directory."""
    resolved: list[str] = []
    for folder in folders:
        path = Path(folder).expanduser()
        if not path.is_dir():
            what = "is a file, not a folder" if path.exists() else "does not exist"
            raise UsageError(
                f"task folder {path} {what}: give folders of lm-eval task YAML "
                f"files, several separated by {os.pathsep!r} (nothing was saved)"
            )
        resolved.append(str(path.resolve()))
    return list(dict.fromkeys(resolved))


def working_context() -> int:
    """The context, in tokens, the app plans for: a model's memory estimate assumes it, and
    a chat keeps its conversation within it (or within the model's own context when that
    is shorter). ``working_context`` in settings.json; 4096 when not set. Most of a small
    model's memory at its full context is KV cache that a chat on a board never fills:
    Qwen1.5-0.5B at fp32 needs about 9,850 MB at 32,768 tokens and 3,130 MB at 4,096."""
    value = load_settings().get(WORKING_CONTEXT, DEFAULT_WORKING_CONTEXT)
    low, high = WORKING_CONTEXT_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _broken(
            settings_path(),
            f"{WORKING_CONTEXT} must be a whole number of tokens "
            f"from {low} to {high}, such as {DEFAULT_WORKING_CONTEXT}",
        )
    return value


def working_context_or_default() -> int:
    """working_context(), or the default when the settings file is broken: for estimates
    and labels, which must not stop the app opening (loading a model says what is wrong)."""
    try:
        return working_context()
    except SmollmError:
        return DEFAULT_WORKING_CONTEXT


def thread_count(asked: int | None = None, runtime: str | None = None) -> int:
    """The CPU threads a load computes with: ``asked`` (a --threads option), else
    ``threads`` in settings.json, else the count `bench --threads sweep` measured fastest
    for ``runtime`` on this machine, else every core this process may use. llama-cpp-python's
    own default is half the cores, which left a third of the decode speed unused on a
    2-core machine (41-44 against 61-64 tok/s); on another 2-core machine one thread
    decoded as fast as two, hence the measurement."""
    if asked is not None:
        return check_threads(asked)
    settings = load_settings()
    value = settings.get(THREADS)
    if value is not None:
        problem = threads_problem(value)
        if problem:
            raise _broken(settings_path(), f"{THREADS} {problem}; remove it to use every core")
        return int(value)
    if runtime is None:
        return usable_cores()
    count = _measured(settings).get(runtime)
    if count is None:
        return usable_cores()
    # Measured on this machine with more cores than this process may use now (a narrower
    # CPU affinity): every core it may use is the nearest.
    return min(count, usable_cores())


def measured_threads() -> dict[str, int]:
    """The fastest thread count `bench --threads sweep` measured per runtime; a damaged
    entry is a SettingsError naming it."""
    return _measured(load_settings())


def _measured(settings: dict[str, Any]) -> dict[str, int]:
    measured = settings.get(MEASURED_THREADS)
    if measured is None:
        return {}
    if not isinstance(measured, dict):
        raise _broken(
            settings_path(),
            f'{MEASURED_THREADS} must be an object such as {{"llama.cpp": 2}}; remove it '
            "to use every core",
        )
    for runtime, count in measured.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _broken(
                settings_path(),
                f"{MEASURED_THREADS}.{runtime} must be a whole number of threads from 1, not "
                f"{str(count)[:40]!r}; remove it to use every core",
            )
    return measured


def save_measured_threads(runtime: str, count: int) -> None:
    """Remember ``count`` as the fastest thread count measured for ``runtime`` here (a
    damaged settings file stops this with its message, and is left as it is)."""
    check_threads(count)
    settings = load_settings()
    measured = {**_measured(settings), runtime: count}
    settings[MEASURED_THREADS] = measured
    save_settings(settings)
