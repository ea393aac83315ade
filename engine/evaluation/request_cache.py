"""The request cache of a background job: lm-eval's answers kept per request, so that a job
killed in the middle of a task resumes without computing again what it already computed.

Keys are lm-eval's own (``lm_eval.api.model.hash_args``: the request type and its
arguments, the same key as ``--use_cache``), but lm-eval's key does not name the model, so
the file does: one SQLite file per model, revision, runtime, precision, device and batch
size (padding in a batch can move the last digits), under the job's folder. Answers are
stored as JSON, not pickles (a file on disk is not trusted to run code), and committed once
per chunk of requests in WAL mode, so a kill loses at most one chunk. Sampled generations
(do_sample) are never cached: each one is meant to differ.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.paths import PRIVATE_FILE_MODE, make_private_dirs, tighten
from engine.records import LoadInfo

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
MISSING = object()
_SIDECARS = ("-wal", "-shm")


def cache_file(directory: str | Path, info: LoadInfo, batch_size: int) -> Path:
    """The cache file for a model as loaded inside ``directory``."""
    runtime = info.runtime or "transformers"
    parts = [
        info.model_id,
        info.revision or "no-revision",
        runtime,
        info.precision,
        info.device,
        f"b{batch_size}",
    ]
    name = "__".join(_SAFE.sub("_", str(p)) or "_" for p in parts)
    return Path(directory) / f"{name}.sqlite"


def _cacheable(kind: str, request: Any) -> bool:
    if kind != "generate_until":
        return True
    args: tuple[Any, ...] = getattr(request, "args", ())
    options = args[1] if len(args) > 1 and isinstance(args[1], dict) else {}
    return not options.get("do_sample", False)


def _decode(kind: str, text: str) -> Any:
    """A stored answer, or MISSING when it is not what this request type returns."""
    try:
        value = json.loads(text)
    except ValueError:
        return MISSING
    if kind == "loglikelihood":
        if (
            isinstance(value, list)
            and len(value) == 2
            and _number(value[0])
            and isinstance(value[1], bool)
        ):
            return (float(value[0]), value[1])
        return MISSING
    if kind == "loglikelihood_rolling":
        return float(value) if _number(value) else MISSING
    return value if isinstance(value, str) else MISSING


def _number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and not (isinstance(value, float) and math.isnan(value))
    )


def _plain(value: Any) -> Any:
    """numpy scalars (what another runtime may answer) as Python numbers."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot keep a {type(value).__name__} in the request cache")


class RequestCache:
    """Answers by lm-eval request key, in one SQLite file. Used by one thread at a time
    (opened by the worker's request loop, used by its evaluation thread)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        # The answers are the prompts' scores and generations: private, like the data dir
        # it lives in (the job's folder and the jobs' cache/ folder 0700, the file 0600;
        # SQLite gives its -wal and -shm files the database file's mode).
        make_private_dirs(self.path.parent)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
        for file in (self.path, *(self.path.with_name(self.path.name + s) for s in _SIDECARS)):
            tighten(file)  # one made by an older version was readable by everyone
        self.db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS answers (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def key(kind: str, request: Any) -> str:
        from lm_eval.api.model import hash_args

        return hash_args(kind, request.args)

    def lookup(self, kind: str, requests: Sequence[Any]) -> list[Any]:
        """One answer per request, MISSING where there is none (or it is unusable)."""
        out: list[Any] = []
        for request in requests:
            if not _cacheable(kind, request):
                out.append(MISSING)
                continue
            row = self.db.execute(
                "SELECT value FROM answers WHERE key=?", (self.key(kind, request),)
            ).fetchone()
            out.append(MISSING if row is None else _decode(kind, row[0]))
        return out

    def store(self, kind: str, requests: Sequence[Any], answers: Sequence[Any]) -> None:
        """Keep the answers of ``requests`` (one commit)."""
        rows = []
        for request, answer in zip(requests, answers, strict=True):
            if _cacheable(kind, request):
                value = list(answer) if isinstance(answer, tuple) else answer
                rows.append((self.key(kind, request), json.dumps(value, default=_plain)))
        with self.db:
            self.db.executemany("INSERT OR REPLACE INTO answers (key, value) VALUES (?, ?)", rows)
