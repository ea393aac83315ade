"""Which runtime runs a model: `auto` resolved, impossible choices refused with one line,
and the generation controls a runtime does not have. No torch, no llama_cpp import."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from engine.catalog.entries import ModelEntry
from engine.errors import SmollmError, UsageError
from engine.runtimes import DEFAULT, RUNTIMES, Runtime, runtime_named
from engine.runtimes.llamacpp import NAME as LLAMA_CPP
from engine.runtimes.reply import refuse_unsupported
from engine.runtimes.reply import unsupported_settings as _unsupported
from engine.runtimes.transformers import NAME as TRANSFORMERS
from engine.settings import GenerationSettings

__all__ = [
    "LLAMA_CPP",
    "SHORT",
    "TRANSFORMERS",
    "UNSUPPORTED",
    "auto_choice",
    "available_runtimes",
    "check_runtime",
    "check_settings",
    "memory_runtime",
    "next_runtime",
    "resolve_runtime",
    "runtime_expected",
    "unsupported_settings",
]

T = TypeVar("T")

# One-letter tags for narrow columns (the catalog's tok/s: "117 L", "35.2 T").
SHORT = {name: runtime.short for name, runtime in RUNTIMES.items()}

# Controls a runtime lacks, and why: shown disabled in the app, refused by the CLI.
UNSUPPORTED: dict[str, dict[str, str]] = {
    name: runtime.unsupported for name, runtime in RUNTIMES.items() if runtime.unsupported
}


def check_runtime(entry: ModelEntry, runtime: str, precision: str = "auto") -> None:
    """Refuse an explicit runtime that cannot work (for llama.cpp: not installed, not
    GGUF, not causal, no GGUF file on disk for ``precision``). auto is never refused."""
    if runtime == "auto":
        return
    runtime_named(runtime).check(entry, precision)


def auto_choice(entry: ModelEntry, ask: Callable[[Runtime], T]) -> tuple[Runtime, T] | None:
    """The first runtime auto prefers to the default for ``entry`` (best first, among
    those with a build of it whose library is installed here) that ``ask`` does not refuse
    with a UsageError (no file for it here: the next one runs that precision), with
    ``ask``'s answer; None when none is left but the default."""
    for candidate in sorted(RUNTIMES.values(), key=lambda r: -r.auto_priority):
        if candidate is DEFAULT:
            break
        if not (candidate.has_build(entry) and candidate.installed()):
            continue
        try:
            return candidate, ask(candidate)
        except UsageError:
            continue
    return None


def resolve_runtime(entry: ModelEntry, runtime: str, precision: str = "auto") -> str:
    """auto -> the usable runtime auto prefers: llama.cpp for GGUF weights when
    llama-cpp-python is installed and a GGUF file on disk serves ``precision`` (fp32 of the
    bundled Q4_1 model is transformers' job), else transformers. An explicit choice is
    checked (check_runtime) and returned."""
    if runtime == "auto":
        found = auto_choice(entry, lambda candidate: candidate.check(entry, precision))
        return found[0].name if found else DEFAULT.name
    check_runtime(entry, runtime, precision)
    return runtime


def runtime_expected(entry: ModelEntry, runtime: str, precision: str = "auto") -> str:
    """The runtime a load with ``runtime`` would take (auto resolved), for a label or a
    question asked before the load; a choice that cannot work stays as asked (the load
    itself says why, in full)."""
    try:
        return resolve_runtime(entry, runtime, precision)
    except SmollmError:
        return runtime


def memory_runtime(entry: ModelEntry, runtime: str, precision: str = "auto") -> str:
    """The runtime whose memory the catalog shows for ``entry``: auto resolved as a load
    resolves it; the runtime asked for when it has a build of the model (a GGUF file,
    downloaded or not), else the default (the only runtime that model has)."""
    if runtime == "auto":
        return resolve_runtime(entry, "auto", precision)
    asked = RUNTIMES.get(runtime)
    if asked is not None and asked.has_build(entry):
        return asked.name
    return DEFAULT.name


def available_runtimes(entry: ModelEntry) -> list[str]:
    """The runtimes ``entry`` can run on here, the default first."""
    out = []
    for runtime in RUNTIMES.values():
        try:
            runtime.check(entry)
        except UsageError:
            continue
        out.append(runtime.name)
    return out


def next_runtime(entry: ModelEntry, current: str) -> str:
    """The runtime after ``current`` among those ``entry`` can use here. Raises the
    UsageError that says why another runtime cannot run it when one is all there is."""
    runtimes = available_runtimes(entry)
    if len(runtimes) < 2:
        for runtime in RUNTIMES.values():
            runtime.check(entry)  # raises: that is why there is no other
    if current not in runtimes:
        return runtimes[0]
    return runtimes[(runtimes.index(current) + 1) % len(runtimes)]


def unsupported_settings(runtime: str, settings: GenerationSettings) -> list[str]:
    """Why each control set to a non-default value cannot work on ``runtime``."""
    return _unsupported(UNSUPPORTED.get(runtime, {}), settings)


def check_settings(runtime: str, settings: GenerationSettings) -> None:
    """Refuse, never silently ignore, a control the runtime does not have."""
    refuse_unsupported(UNSUPPORTED.get(runtime, {}), settings)
