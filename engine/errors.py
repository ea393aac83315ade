"""Errors a user can cause or fix. Each carries one message that says what to do next,
and a kind the caller can act on (an exit code, a hint, a retry)."""

from __future__ import annotations

import errno
from typing import ClassVar, Literal

# What went wrong, in one word a caller can act on. The worker's Failed events, the
# download queue's DownloadFailed and the UI's failure messages all use these.
FailureKind = Literal[
    "error",  # anything else: the message says what
    "usage",  # bad input from the user
    "oom",  # out of memory
    "bitsandbytes",  # 8-/4-bit asked for and bitsandbytes cannot run here
    "remote-code",  # the model runs its own code and the user has not allowed it
    "missing-model",  # the weights are not on disk
    "died",  # the worker process ended (made by the UI from WorkerDied)
    "unreachable",
    "offline",
    "not-found",
    "gated",
    "disk",  # no space left: a download, a results store, a report (is_disk_full)
]
# Failures the user fixes by asking differently: the command line exits with 2 for them.
_USAGE_KINDS: frozenset[FailureKind] = frozenset({"usage", "remote-code", "missing-model"})


class SmollmError(Exception):
    """Base of every error shown to the user as one message (no traceback without --debug)."""

    exit_code = 1
    kind: ClassVar[FailureKind] = "error"


class UsageError(SmollmError):
    """Bad input from the user: an unknown model, an invalid setting, a missing file."""

    exit_code = 2
    kind: ClassVar[FailureKind] = "usage"


class DiskFull(SmollmError):
    """A write found no space left (disk, quota or file-size limit): free space, retry."""

    kind: ClassVar[FailureKind] = "disk"


# Refusals of a load that every runtime shares (engine.runtimes.loading, the runtimes' loaders).


class ModelNotDownloaded(UsageError):
    """A hub model is not in the local Hugging Face cache (loading never downloads)."""

    kind: ClassVar[FailureKind] = "missing-model"


class RemoteCodeRefused(UsageError):
    """The model needs its repo's own Python code and the caller did not consent."""

    kind: ClassVar[FailureKind] = "remote-code"


class ModelUnavailable(UsageError):
    """The catalog marks the model as not runnable here."""


class LocalPathMissing(UsageError):
    """A local catalog entry points at a path that does not exist."""


class DeviceUnavailable(UsageError):
    """CUDA was asked for and the runtime sees no GPU."""


def is_oom(exc: BaseException) -> bool:
    """Out of memory, whatever raised it: MemoryError from the allocator on CPU, torch's
    OutOfMemoryError (or a subclass), or an error whose message says so (older torch,
    CUDA kernels, bitsandbytes)."""
    if isinstance(exc, MemoryError):
        return True
    if any(cls.__name__ == "OutOfMemoryError" for cls in type(exc).__mro__):
        return True
    return "out of memory" in str(exc).lower()


# A write refused for want of space: a full disk (ENOSPC), a used-up quota (EDQUOT) or a
# file-size limit (EFBIG). Not a permission problem: the fix is to free space.
_DISK_FULL_ERRNOS = frozenset(
    code for code in (getattr(errno, n, None) for n in ("ENOSPC", "EDQUOT", "EFBIG")) if code
)


def is_disk_full(exc: BaseException) -> bool:
    """A write that failed for want of space (an OSError, or SQLite's SQLITE_FULL)."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL_ERRNOS:
        return True
    return "database or disk is full" in str(exc)


def disk_full_message(where: object) -> str:
    """The one line for a write that found no space: what to do is free space."""
    return f"no space left to write {where}: free some disk space (or quota) and run it again"


def kind_of(exc: BaseException) -> FailureKind:
    """The one word for what ``exc`` means: our errors say it by their class; any other
    is out of memory, a full disk or an ``error``."""
    if isinstance(exc, SmollmError):
        return exc.kind
    if is_disk_full(exc):
        return "disk"
    return "oom" if is_oom(exc) else "error"


def exit_code_of(kind: FailureKind | None) -> int:
    """The command line's exit status for a failure of this kind: 2 = ask differently."""
    return 2 if kind in _USAGE_KINDS else 1
