"""The results store: every evaluation and chat-speed run, in SQLite.

One file (engine.paths.results_db_path()), WAL so the app can read while a run writes,
schema version in PRAGMA user_version, forward migrations applied on open. This module
never imports torch: the UI reads the store directly. Library versions come from package
metadata, which is the same installation the worker runs.

Opened for writing (the default), the file is checked first (engine.results.health): a
damaged store is never migrated or written, it raises StoreDamaged. Opened with
``read_only=True`` (reports, Compare, the catalog) nothing is ever written, a missing
store reads as empty, and a store in a read-only folder can still be read.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import __version__
from engine.errors import is_disk_full
from engine.paths import PRIVATE_FILE_MODE, make_private_dir, results_db_path, tighten
from engine.results import health
from engine.results.runs import (
    EVAL_COLUMNS,
    LOCAL_BACKEND,
    SPEED_COLUMNS,
    EvalRun,
    SpeedRun,
    eval_from_row,
    eval_run_from_task,
    eval_values,
    library_versions,
)
from engine.results.schema import MIGRATIONS, SCHEMA_VERSION, migrate, schema_version
from engine.states import TASK_STATUSES, TaskStatus

# MIGRATIONS, SCHEMA_VERSION and migrate live in engine.results.schema, the runs and their
# columns in engine.results.runs; kept importable here.
__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "STATUSES",
    "LOCAL_BACKEND",
    "EvalRun",
    "ResultsStore",
    "SpeedRun",
    "add_many",
    "ensure_writable",
    "eval_run_from_task",
    "library_versions",
    "migrate",
]

STATUSES = TASK_STATUSES


def inserted_id(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just added (sqlite3 types it as optional)."""
    if cursor.lastrowid is None:
        raise sqlite3.DatabaseError("the insert gave no row id")
    return cursor.lastrowid


class ResultsStore:
    """Open the store (for writing: creating or migrating it; ``read_only``: as it is).
    Use as a context manager or call close(). Raises health.StoreUnavailable (damaged,
    read-only, too new) with one message naming the file and what to do."""

    def __init__(self, path: Path | str | None = None, *, read_only: bool = False):
        self.path = Path(path) if path is not None else results_db_path()
        self.read_only = read_only
        # The default store lives in the data dir, which is private (0700); a path given
        # by a caller keeps its folder's permissions.
        own_folder = path is None
        if read_only:
            self.db = _open_for_reading(self.path)
        else:
            self.db = _open_for_writing(self.path, own_folder)
        self.db.row_factory = sqlite3.Row

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """sqlite3 errors that mean damage or a read-only file -> one clear message."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if health.is_damage(exc):
                raise health.damaged(self.path, str(exc)) from exc
            if health.is_read_only_error(exc):
                why = health.not_writable_reason(self.path) or str(exc)
                raise health.read_only(self.path, why) from exc
            problem = health.unavailable(self.path, exc)  # locked elsewhere, a full disk
            if problem is not None:
                raise problem from exc
            raise

    # ---- evaluation runs -------------------------------------------------------------

    def add_eval(self, run: EvalRun) -> int:
        if run.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {run.status!r}")
        values = eval_values(run)
        with self._guard(), self.db:
            cursor = self.db.execute(
                f"INSERT INTO eval_runs ({', '.join(EVAL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(EVAL_COLUMNS))})",
                values,
            )
        return inserted_id(cursor)

    def add_evals(self, runs: Sequence[EvalRun]) -> list[int]:
        """Store several runs in one transaction: all of them, or none."""
        for run in runs:
            if run.status not in STATUSES:
                raise ValueError(f"status must be one of {STATUSES}, not {run.status!r}")
        sql = (
            f"INSERT INTO eval_runs ({', '.join(EVAL_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(EVAL_COLUMNS))})"
        )
        with self._guard(), self.db:
            return [inserted_id(self.db.execute(sql, eval_values(run))) for run in runs]

    def eval_runs(
        self,
        *,
        model_id: str | None = None,
        task: str | None = None,
        precision: str | None = None,
        device: str | None = None,
        status: TaskStatus | None = None,
        runtime: str | None = None,
    ) -> list[EvalRun]:
        """Runs matching the given fields, oldest first."""
        where, params = _where(
            model_id=model_id,
            task=task,
            precision=precision,
            device=device,
            status=status,
            runtime=runtime,
        )
        with self._guard():
            rows = self.db.execute(
                f"SELECT * FROM eval_runs{where} ORDER BY ended, id", params
            ).fetchall()
        return [eval_from_row(row) for row in rows]

    def has_result(
        self,
        *,
        model_id: str,
        task: str,
        precision: str,
        device: str,
        limit: int | None,
        num_fewshot: int | None,
        runtime: str = "transformers",
    ) -> bool:
        """Whether a successful run with these settings exists (for resuming a matrix run).
        ``num_fewshot`` None matches any few-shot count (the task's default was asked for)."""
        sql = (
            "SELECT 1 FROM eval_runs WHERE model_id=? AND task=? AND precision=? "
            "AND device=? AND runtime=? AND status='ok' AND limit_n IS ?"
        )
        params: list[Any] = [model_id, task, precision, device, runtime, limit]
        if num_fewshot is not None:
            sql += " AND num_fewshot=?"
            params.append(num_fewshot)
        with self._guard():
            return self.db.execute(sql + " LIMIT 1", params).fetchone() is not None

    # ---- chat speed runs -------------------------------------------------------------

    def add_speed(self, run: SpeedRun) -> int:
        row = dict(run.__dict__)
        row["settings"] = json.dumps(run.settings, sort_keys=True)
        row["app_version"] = run.app_version or __version__
        row["created"] = run.created or time.time()
        with self._guard(), self.db:
            cursor = self.db.execute(
                f"INSERT INTO speed_runs ({', '.join(SPEED_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(SPEED_COLUMNS))})",
                [row[c] for c in SPEED_COLUMNS],
            )
        return inserted_id(cursor)

    def speed_runs(
        self, *, model_id: str | None = None, runtime: str | None = None
    ) -> list[SpeedRun]:
        where, params = _where(model_id=model_id, runtime=runtime)
        with self._guard():
            rows = self.db.execute(
                f"SELECT * FROM speed_runs{where} ORDER BY created, id", params
            ).fetchall()
        out = []
        for row in rows:
            data = {k: row[k] for k in row.keys()}
            data["settings"] = json.loads(data["settings"] or "{}")
            out.append(SpeedRun(**data))
        return out


def _open_for_writing(path: Path, own_folder: bool) -> sqlite3.Connection:
    """Check, create (0600) or migrate the store; never touches a damaged file."""
    try:
        if own_folder:
            make_private_dir(path.parent)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if is_disk_full(exc):
            raise health.full(path, exc.strerror or str(exc)) from exc
        raise health.read_only(path, f"its folder cannot be made: {exc.strerror or exc}") from exc
    _check_once(path)  # StoreDamaged before anything is written
    if not path.exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
        except FileExistsError:
            pass  # another process made it first
        except OSError as exc:
            if is_disk_full(exc):
                raise health.full(path, exc.strerror or str(exc)) from exc
            raise health.read_only(
                path, health.not_writable_reason(path) or exc.strerror or str(exc)
            ) from exc
    for file in (path, *health.sidecars(path)):
        tighten(file)  # a store made by an older version was readable by everyone
    # check_same_thread off: the app writes from a worker thread; sqlite serialises.
    db = sqlite3.connect(path, timeout=10, check_same_thread=False)
    try:
        _use_wal(db)
        db.execute("PRAGMA foreign_keys=ON")
        migrate(db, path)
    except sqlite3.DatabaseError as exc:
        db.close()
        if health.is_damage(exc):
            raise health.damaged(path, str(exc)) from exc
        problem = health.unavailable(path, exc)  # locked by another process, a full disk
        if problem is not None:
            raise problem from exc
        why = health.not_writable_reason(path)
        if why is not None or health.is_read_only_error(exc):
            raise health.read_only(path, why or str(exc)) from exc
        raise health.unreadable(path, str(exc)) from exc
    except BaseException:
        db.close()
        raise
    return db


def _use_wal(db: sqlite3.Connection, wait_s: float = 10.0) -> None:
    """Switch the store to WAL. SQLite answers "database is locked" at once, without its
    busy wait, to a connection that switches while another is switching the same new file
    (the Arena's two sides storing their first replies): then the other has done it, which
    the next look says; a lock held longer is waited for as SQLite would (``wait_s``)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            time.sleep(0.01)  # the other connection is switching it: a moment


_CHECKED: set[str] = set()
_CHECKED_LOCK = threading.Lock()


def _check_once(path: Path) -> None:
    """health.check_file, once per file and process.

    Reading the header opens the file with a plain file descriptor, and closing any
    descriptor of a file drops every POSIX lock this process holds on it: SQLite's own locks
    of a connection already open here (a runner's heartbeat) would be lost, and with them
    writes to the WAL. So the file is checked before this process first opens it, not again;
    later damage is reported from SQLite's own errors (see ResultsStore._guard)."""
    key = str(path.resolve()) if path.exists() else str(path)
    with _CHECKED_LOCK:
        if key in _CHECKED:
            return
        health.check_file(path)
        if path.exists() and path.stat().st_size > 0:
            _CHECKED.add(key)


def _open_for_reading(path: Path) -> sqlite3.Connection:
    """A connection that never writes; a store not made yet reads as an empty one."""
    _check_once(path)
    if not path.exists() or path.stat().st_size == 0:
        db = sqlite3.connect(":memory:", check_same_thread=False)
        migrate(db)
        return db
    try:
        db = health.open_read_only(path)
    except sqlite3.DatabaseError as exc:
        raise health.unreadable(path, str(exc)) from exc
    try:
        schema_version(db, path)
    except BaseException:
        db.close()
        raise
    return db


def _where(**fields: Any) -> tuple[str, list[Any]]:
    pairs = [(k, v) for k, v in fields.items() if v is not None]
    if not pairs:
        return "", []
    return " WHERE " + " AND ".join(f"{k}=?" for k, _ in pairs), [v for _, v in pairs]


def add_many(store: ResultsStore, runs: Iterable[EvalRun]) -> list[int]:
    return [store.add_eval(run) for run in runs]


def ensure_writable(path: Path | str | None = None) -> Path:
    """Check, before any model loads, that a run's results can be stored: the store opens
    for writing (it is not damaged, not too new) and a write would go through (the file,
    its folder and the file system are writable). Raises health.StoreUnavailable with the
    one message to show; returns the store's path."""
    with ResultsStore(path) as store:
        why = health.not_writable_reason(store.path)
        if why is not None:
            raise health.read_only(store.path, why)
        try:
            # A real write that is rolled back: BEGIN IMMEDIATE alone succeeds on a
            # read-only file in WAL mode (its lock lives in the -shm file).
            store.db.execute("BEGIN IMMEDIATE")
            version = store.db.execute("PRAGMA user_version").fetchone()[0]
            store.db.execute(f"PRAGMA user_version={int(version)}")
        except sqlite3.DatabaseError as exc:
            if health.is_read_only_error(exc):
                raise health.read_only(store.path, "the file system refused a write") from exc
            problem = health.unavailable(store.path, exc)  # locked elsewhere, a full disk
            if problem is not None:
                raise problem from exc
            raise
        finally:
            store.db.rollback()
        return store.path
