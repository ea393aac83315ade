"""Whether the results store can be used, and the one message that says why not.

A damaged store (truncated, not SQLite at all, or with broken pages) is never written to,
migrated, overwritten or deleted: the user's results may still be recoverable from it, so
the message names the file and the exact command that moves it aside. A store that cannot
be written (a read-only file, folder or file system) is checked before a run starts, so
that no measured work is lost at the end; it can still be read (see open_read_only).
"""

from __future__ import annotations

import os
import shlex
import sqlite3
import time
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote

from engine.errors import FailureKind, SmollmError, is_disk_full

SQLITE_HEADER = b"SQLite format 3\x00"
SIDECARS = ("-wal", "-shm", "-journal")


class StoreUnavailable(SmollmError):
    """The results store cannot be used as asked; the message names the file and the fix.
    ``reason`` is the short cause ("file is not a database", "its folder is read-only")."""

    def __init__(self, path: Path, reason: str, message: str):
        super().__init__(message)
        self.path = path
        self.reason = reason


class StoreDamaged(StoreUnavailable):
    """The file is not a readable SQLite database (truncated, garbage, broken pages)."""


class StoreReadOnly(StoreUnavailable):
    """The store (or its folder) cannot be written: a run's results would be lost."""


class StoreBusy(StoreUnavailable):
    """Another process held the store's write lock for longer than the busy timeout."""


class StoreFull(StoreUnavailable):
    """A write found no space left on the store's disk (or quota)."""

    kind: ClassVar[FailureKind] = "disk"


class StoreTooNew(StoreUnavailable):
    """The store was written by a newer smollm-tui with a schema this one does not know."""


class StoreUnreadable(StoreUnavailable):
    """The file cannot be opened at all (its permissions, an I/O error): not damage."""


def sidecars(path: Path) -> list[Path]:
    """The store's -wal, -shm and -journal files that exist: they belong with it."""
    return [Path(f"{path}{suffix}") for suffix in SIDECARS if Path(f"{path}{suffix}").exists()]


def move_aside_command(path: Path, stamp: str | None = None) -> str:
    """The shell command that moves the store and its sidecar files aside together (a
    stale -wal file beside a new store would be replayed into it)."""
    stamp = stamp or time.strftime("%Y%m%d-%H%M%S")
    target = f"{path}.damaged-{stamp}"
    moves = [(path, target)] + [
        (side, target + str(side)[len(str(path)) :]) for side in sidecars(path)
    ]
    return " && ".join(f"mv {shlex.quote(str(a))} {shlex.quote(str(b))}" for a, b in moves)


def damaged(path: Path, why: str) -> StoreDamaged:
    return StoreDamaged(
        path,
        why,
        (
            f"the results store {path} is damaged ({why}); it was left exactly as it is and "
            f"results are unavailable until it is moved aside (a new, empty store is then "
            f"started): {move_aside_command(path)}"
        ),
    )


def read_only(path: Path, why: str) -> StoreReadOnly:
    return StoreReadOnly(
        path,
        why,
        (
            f"the results store {path} cannot be written ({why}): nothing was run, so no "
            f"work is lost. Make it writable (chmod u+w {shlex.quote(str(path))} "
            f"{shlex.quote(str(path.parent))}) or set SMOLLM_TUI_HOME to a writable folder"
        ),
    )


def busy(path: Path, why: str) -> StoreBusy:
    return StoreBusy(
        path,
        why,
        (
            f"the results store {path} is locked by another process ({why}): another "
            f"smollm-tui (the app, an eval, a background job) or a sqlite3 shell is writing "
            f"to it; run this again when it has finished"
        ),
    )


def full(path: Path, why: str) -> StoreFull:
    return StoreFull(
        path,
        why,
        (
            f"the results store {path} cannot be written: no space left on its disk "
            f"({why}); free some space (or set SMOLLM_TUI_HOME to a folder on another disk) "
            f"and run this again"
        ),
    )


def too_new(path: Path, found: int, known: int) -> StoreTooNew:
    return StoreTooNew(
        path,
        f"schema {found}",
        (
            f"the results store {path} was written by a newer smollm-tui (schema {found}, this "
            f"one knows {known}): upgrade smollm-tui"
        ),
    )


def unreadable(path: Path, why: str) -> StoreUnreadable:
    return StoreUnreadable(
        path,
        why,
        (
            f"the results store {path} cannot be opened ({why}): check its permissions "
            f"(ls -l {shlex.quote(str(path))}) or set SMOLLM_TUI_HOME to a folder of your own"
        ),
    )


def header_problem(path: Path) -> str | None:
    """Why the file at ``path`` cannot be an SQLite database, from its first bytes alone;
    None when it may be one (or is empty: SQLite starts an empty file as a new store).
    A file that cannot be read at all raises StoreUnreadable."""
    if path.is_dir():
        return "a folder, not a file"
    try:
        with open(path, "rb") as handle:
            head = handle.read(100)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise unreadable(path, exc.strerror or str(exc)) from exc
    if not head:
        return None
    if not head.startswith(SQLITE_HEADER[: len(head)]) or len(head) < len(SQLITE_HEADER):
        return "file is not a database"
    if len(head) < 100:
        return "truncated: shorter than an SQLite header"
    return None


def integrity_problem(db: sqlite3.Connection) -> str | None:
    """PRAGMA quick_check: None when the file is sound, else the first problem found."""
    try:
        rows = db.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        if type(exc) is sqlite3.DatabaseError:  # SQLITE_CORRUPT, SQLITE_NOTADB
            return str(exc)
        raise
    found = [str(r[0]) for r in rows]
    if found == ["ok"]:
        return None
    return "; ".join(found[:2]).replace("\n", " ")[:300] or "quick_check found problems"


def is_damage(exc: BaseException) -> bool:
    """sqlite3 raises the base DatabaseError, exactly, for a corrupt or foreign file."""
    return type(exc) is sqlite3.DatabaseError


def is_read_only_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("readonly" in text or "read-only" in text)


def is_locked_error(exc: BaseException) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection held the lock past the timeout."""
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and (
        "database is locked" in text or "database table is locked" in text
    )


def unavailable(path: Path, exc: BaseException) -> StoreUnavailable | None:
    """The StoreUnavailable a write's error means when it is not the store's own fault
    (locked by another process, no space left), else None."""
    if is_locked_error(exc):
        return busy(path, str(exc))
    if is_disk_full(exc):
        return full(path, getattr(exc, "strerror", None) or str(exc))
    return None


def not_writable_reason(path: Path) -> str | None:
    """Why the store at ``path`` cannot be written, from the file system's permissions
    (read-only file, folder or mount); None when it can be."""
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is read-only"
    for file in (path, *sidecars(path)):
        if file.exists() and not os.access(file, os.R_OK | os.W_OK):
            return f"{file.name} is read-only"
    return None


def folder_writable(path: Path) -> bool:
    return os.access(path.parent, os.W_OK | os.X_OK)


def open_read_only(path: Path) -> sqlite3.Connection:
    """A connection that never writes the file nor leaves files beside it.

    Without a -wal file the database file holds every committed row, so it is read as
    immutable (a read-only WAL connection would otherwise create -wal and -shm files and
    leave them). With one, the -wal is read too (mode=ro). In a folder that cannot be
    written, WAL's -shm file cannot be made either: the file is then read as immutable
    (nothing can be writing it there)."""
    uri = f"file:{quote(str(path))}?mode=ro"
    if not Path(f"{path}-wal").exists():
        return _connect(uri + "&immutable=1")
    try:
        return _connect(uri)
    except sqlite3.OperationalError:
        if folder_writable(path):
            raise
    return _connect(uri + "&immutable=1")


def _connect(uri: str) -> sqlite3.Connection:
    db = sqlite3.connect(uri, uri=True, timeout=10, check_same_thread=False)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        db.close()
        raise
    return db


def check_file(path: Path) -> None:
    """Raise StoreDamaged if the existing file at ``path`` is not a sound SQLite database;
    reads only (a read-only connection never checkpoints a -wal file into the file)."""
    why = header_problem(path)
    if why is not None:
        raise damaged(path, why)
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        db = open_read_only(path)
    except sqlite3.DatabaseError as exc:
        if is_damage(exc):
            raise damaged(path, str(exc)) from exc
        raise unreadable(path, str(exc)) from exc
    try:
        why = integrity_problem(db)
    finally:
        db.close()
    if why is not None:
        raise damaged(path, why)
