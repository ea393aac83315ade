"""Generation settings and conversations: plain data, shared by the UI, the CLI and the worker."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

from engine.errors import UsageError

PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8", "int4")
DEVICES = ("auto", "cuda", "cpu")
# auto = llama.cpp for GGUF weights when llama-cpp-python is installed, else transformers.
# engine.runtimes lists the runtimes (and sits above this module); a test keeps these the
# same (tests/test_runtime_names.py).
RUNTIMES = ("auto", "transformers", "llama.cpp")


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling controls. temperature 0 means greedy decoding."""

    temperature: float = 0.7
    top_p: float = 0.9
    top_k: int = 50
    repetition_penalty: float = 1.1
    no_repeat_ngram_size: int = 0
    max_new_tokens: int = 256
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def validate(self) -> GenerationSettings:
        """Return self, or raise UsageError naming the setting and its allowed range."""
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UsageError(
                    f"{name} must be a number in [{low}, {high}] (got {_short(value)})"
                )
            if not low <= value <= high:  # also refuses nan
                raise UsageError(f"{name} must be in [{low}, {high}] (got {_short(value)})")
            if name in INTEGER_SETTINGS and not float(value).is_integer():
                raise UsageError(f"{name} must be a whole number in [{low}, {high}]")
        if self.seed is not None and (
            isinstance(self.seed, bool)
            or not isinstance(self.seed, int)
            or not 0 <= self.seed <= MAX_SEED
        ):
            raise UsageError(
                f"seed must be a whole number in [0, {MAX_SEED}] (got {_short(self.seed)})"
            )
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise UsageError("stop strings must be non-empty text")
        return self

    def with_values(self, **changes) -> GenerationSettings:
        return replace(self, **changes).validate()


# Seeds torch, random and llama.cpp all take (llama.cpp's is a 32-bit unsigned number).
MAX_SEED = 2**32 - 1


def _short(value: object) -> str:
    """A value for an error message, cut short: a 10,000-digit number stays one line."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (Python's 4,300-digit limit)
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


RANGES: dict[str, tuple[float, float]] = {
    "temperature": (0.0, 2.0),
    "top_p": (0.01, 1.0),
    "top_k": (0, 1000),
    "repetition_penalty": (1.0, 2.0),
    "no_repeat_ngram_size": (0, 10),
    "max_new_tokens": (1, 4096),
}
INTEGER_SETTINGS = ("top_k", "no_repeat_ngram_size", "max_new_tokens")

PRESETS: dict[str, GenerationSettings] = {
    "precise": GenerationSettings(temperature=0.0, top_p=1.0, top_k=0, repetition_penalty=1.1),
    "balanced": GenerationSettings(),
    "creative": GenerationSettings(temperature=1.0, top_p=0.95, top_k=100, repetition_penalty=1.05),
}

SETTING_NAMES = tuple(f.name for f in fields(GenerationSettings))


@dataclass(frozen=True)
class Turn:
    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Conversation:
    """A system prompt and the turns so far; the last turn is the user's new message."""

    system: str = ""
    turns: tuple[Turn, ...] = field(default_factory=tuple)

    def add(self, role: str, content: str) -> Conversation:
        return replace(self, turns=(*self.turns, Turn(role, content)))


@dataclass(frozen=True)
class LoadOptions:
    """What to load and how. ``catalog_path`` is the caller's overlay, so the worker sees
    the same catalog as the caller. ``runtime`` defaults to transformers, the default
    runtime, for callers that name none (tests, scripts); the app and the commands ask
    for "auto" unless told otherwise."""

    model_id: str
    precision: str = "auto"
    device: str = "auto"
    trust_remote_code: bool = False
    catalog_path: str | None = None
    runtime: str = "transformers"
    # CPU threads the runtime computes with; None = the `threads` setting, else the count
    # measured fastest, else every core this process may use (thread_count).
    threads: int | None = None
    # Set by engine.runtimes.loading.resolve_load, once, before a worker starts: the runtime named
    # (never auto), the threads counted and the file the runtime runs (llama.cpp's GGUF
    # file; None where the worker finds the weights itself).
    file: str | None = None
    resolved: bool = False

    def validate(self) -> LoadOptions:
        if self.precision not in PRECISIONS:
            raise UsageError(
                f"precision must be one of {', '.join(PRECISIONS)} (got '{self.precision}')"
            )
        if self.device not in DEVICES:
            raise UsageError(f"device must be one of {', '.join(DEVICES)} (got '{self.device}')")
        if self.runtime not in RUNTIMES:
            raise UsageError(f"runtime must be one of {', '.join(RUNTIMES)} (got '{self.runtime}')")
        if self.threads is not None:
            check_threads(self.threads)
        return self


def usable_cores() -> int:
    """The CPU cores this process may run on: its affinity (a container's, cgroup cpuset's
    or taskset's limit), else every core of the machine. A worker inherits the affinity."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # no sched_getaffinity (macOS) or not allowed
        count = 0
    return count or os.cpu_count() or 1


def threads_problem(value: object) -> str | None:
    """What is wrong with ``value`` as a thread count, or None: it must be a whole number
    from 1 to usable_cores(). More threads than cores only slows llama.cpp down: they take
    turns on the same cores at every step of every token."""
    cores = usable_cores()
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= cores:
        return (
            f"must be a whole number from 1 to {cores}, the CPU cores this process "
            f"may use, not {_short(value)}"
        )
    return None


def check_threads(value: object, name: str = "threads") -> int:
    """``value`` as a thread count, or a UsageError naming ``name`` (the option)."""
    problem = threads_problem(value)
    if problem:
        raise UsageError(f"{name} {problem}; leave it out to use every core")
    assert isinstance(value, int)
    return value


def parse_threads(text: str | None, name: str = "--threads") -> int | None:
    """A command-line thread count (None when not given), checked as check_threads does."""
    if text is None:
        return None
    try:
        value: object = int(text.strip())
    except ValueError:
        value = text
    return check_threads(value, name)
