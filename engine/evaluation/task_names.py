"""Which task names lm-eval will find, known before any model is loaded.

`eval` checks its task list with check_tasks() first, so a typo, a missing --include-path
or a task file that does not parse is one line and exit 2, instead of a model load and
"failed" rows. Neither lm_eval nor datasets is imported here. lm-eval's own index takes
seconds to build (it parses some 14,000 YAML files); the names of its built-in tasks are
read as words from those files instead (under a second, once per process): a name that is
no word of any of them is certainly not a task, and a name that is one is left for lm-eval
to judge, so a real task is never refused.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.evaluation.tasks import include_paths
from engine.task_registry import REGISTRY, lookup, suggest

# lm-eval's task files: *.yaml, plus files of any name they include (e.g. "_template_yaml").
_NOT_TASK_FILES = (
    ".py",
    ".pyc",
    ".md",
    ".json",
    ".jsonl",
    ".csv",
    ".tsv",
    ".txt",
    ".png",
    ".jpg",
    ".ipynb",
    ".sh",
    ".lark",
)
_IGNORED_DIRS = {"__pycache__", ".ipynb_checkpoints"}
_WORD = re.compile(r"[^\s'\",:\[\]{}#]+")
# A name on a task:/group:/tag: line, or an item of a list under one (for suggestions).
_NAME_LINE = re.compile(
    r"^[ \t]*(?:-[ \t]*)?['\"]?(?:task|group|tag)['\"]?:[ \t]*['\"]?([A-Za-z0-9_.()\-]+)"
    r"['\"]?[ \t]*$",
    re.MULTILINE,
)
_MAX_INCLUDE_DEPTH = 10


@dataclass(frozen=True)
class BuiltinTasks:
    words: frozenset[str]  # every word of lm-eval's task files: a superset of the task names
    names: tuple[str, ...]  # the names on task/group/tag lines, to suggest from


@dataclass
class LocalTasks:
    """The task files under the include paths, read as lm-eval reads them."""

    names: dict[str, Path] = field(default_factory=dict)  # task, group or tag -> its file
    broken: dict[Path, str] = field(default_factory=dict)  # file -> why it cannot be read
    mentions: dict[str, Path] = field(default_factory=dict)  # names in files not read


@functools.lru_cache(maxsize=1)
def builtin_tasks() -> BuiltinTasks | None:
    """The words and names of lm-eval's built-in task files; None without lm-eval."""
    try:
        spec = importlib.util.find_spec("lm_eval")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0]) / "tasks"
    words: set[str] = set()
    names: set[str] = set()
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _IGNORED_DIRS]
        for file in files:
            if file.endswith(_NOT_TASK_FILES):
                continue
            try:
                text = Path(folder, file).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            words.update(_WORD.findall(text))
            names.update(_NAME_LINE.findall(text))
    return BuiltinTasks(frozenset(words), tuple(sorted(names)))


def local_tasks(paths: Iterable[str]) -> LocalTasks:
    """Task, group and tag names defined under ``paths`` and the files lm-eval would skip
    (it skips a file it cannot parse without a word, so the task just seems unknown)."""
    found = LocalTasks()
    for folder in paths:
        for path in sorted(Path(folder).rglob("*.y*ml")):
            if any(part in _IGNORED_DIRS for part in path.parts) or not path.is_file():
                continue
            if path.suffix == ".yml":
                why = f"lm-eval reads only .yaml files: rename it to {path.stem}.yaml"
            elif path.suffix != ".yaml":
                continue
            else:
                try:
                    config = _read_config(path)
                except _Unreadable as exc:
                    why = str(exc)
                else:
                    for name in _names_of(config):
                        found.names.setdefault(name, path)
                    continue
            found.broken[path] = why
            for name in _NAME_LINE.findall(_text(path)):
                found.mentions.setdefault(name, path)
    return found


def check_tasks(names: Iterable[str], include_path: str | None) -> None:
    """Raise UsageError, before anything is loaded, for a task lm-eval will not find: the
    nearest names, or the task file that does not parse and why. A folder given with
    --include-path that does not exist is refused too (include_paths)."""
    paths = include_paths(include_path)
    unknown = [n for n in names if lookup(n) is None]
    if not unknown:
        return
    local = local_tasks(paths)
    unknown = [n for n in unknown if n not in local.names]
    for name in unknown:
        if name in local.mentions:
            path = local.mentions[name]
            raise UsageError(
                f"task '{name}' is in {path}, which lm-eval cannot read: {local.broken[path]}"
            )
    builtin = builtin_tasks()
    if builtin is None:  # no lm-eval here to ask: the run itself will say
        return
    for name in unknown:
        if name in builtin.words:
            continue
        known = [t.name for t in REGISTRY] + [*local.names, *local.mentions, *builtin.names]
        message = f"unknown task '{name}'.{suggest(name, list(dict.fromkeys(known)))}"
        if local.broken:
            path, why = next(iter(local.broken.items()))
            message += f" {len(local.broken)} task file(s) could not be read, e.g. {path}: {why}."
        if paths:
            message += f" Task folders searched: {', '.join(paths)}."
        else:
            message += " For your own tasks, add their folder with --include-path DIR."
        raise UsageError(message)


# ---- reading a task file as lm-eval does ------------------------------------------------


class _Unreadable(Exception):
    pass


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _read_config(path: Path, depth: int = 0) -> dict[str, Any]:
    """The file's settings with its includes merged, as lm-eval's load_yaml reads them
    (``!function`` tags are not resolved)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))
    try:
        with path.open("rb") as handle:
            config = yaml.load(handle, Loader=Loader)  # a SafeLoader: no objects made
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise _Unreadable(f"{where}{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise _Unreadable(str(exc).splitlines()[0]) from None
    except OSError as exc:
        raise _Unreadable(exc.strerror or str(exc)) from None
    if not isinstance(config, dict):
        raise _Unreadable("it does not hold task settings (a YAML mapping)")
    includes = config.pop("include", None)
    if includes is None:
        return config
    if depth >= _MAX_INCLUDE_DEPTH:
        raise _Unreadable("its includes nest too deep (or include each other)")
    merged: dict[str, Any] = {}
    for include in includes if isinstance(includes, list) else [includes]:
        other = Path(str(include))
        other = other if other.is_absolute() else path.parent / other
        if not other.is_file():
            raise _Unreadable(f"it includes {other}, which does not exist")
        try:
            merged.update(_read_config(other, depth + 1))
        except _Unreadable as exc:
            raise _Unreadable(f"its include {other} cannot be read: {exc}") from None
    merged.update(config)
    return merged


def _names_of(config: dict[str, Any]) -> list[str]:
    """The names lm-eval's index gives a file: its task or group, and its tags."""
    names: list[str] = []
    main = (
        config.get("group") if "group" in config and "class" not in config else config.get("task")
    )
    if isinstance(main, str):
        names.append(main)
    tags = config.get("tag")
    for tag in tags if isinstance(tags, list) else [tags]:
        if isinstance(tag, str):
            names.append(tag)
    return names
