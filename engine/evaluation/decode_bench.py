"""A fixed decode test, the same for every runtime × precision of a model, through the
worker: the same prompt, greedy, 128 new tokens, median of 3 runs after a warm-up.

Used by `smollm-tui bench`; results become speed rows in the results store, so the
catalog and Compare show each configuration side by side.
"""

from __future__ import annotations

import dataclasses
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine.catalog.entries import ModelEntry
from engine.errors import UsageError
from engine.records import LoadInfo
from engine.runtimes import runtime_named
from engine.runtimes.choice import TRANSFORMERS, available_runtimes, check_runtime
from engine.settings import Conversation, GenerationSettings, LoadOptions

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
NEW_TOKENS = 128
RUNS = 3
SETTINGS = GenerationSettings(
    temperature=0.0, top_p=1.0, top_k=0, repetition_penalty=1.0, max_new_tokens=NEW_TOKENS
)


@dataclass(frozen=True)
class BenchConfig:
    runtime: str
    precision: str  # as asked: auto, fp32, int8, ...


@dataclass(frozen=True)
class BenchResult:
    config: BenchConfig
    info: LoadInfo | None = None
    tokens_per_s: float | None = None  # median over the runs
    first_token_s: float | None = None  # median
    new_tokens: int = 0  # fewest new tokens of a run (the model may stop before 128)
    prompt_tokens: int = 0
    peak_memory_mb: float | None = None  # highest of the runs
    error: str | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled and self.tokens_per_s is not None


def plan(
    entry: ModelEntry, runtimes: list[str] | None = None, precisions: list[str] | None = None
) -> list[BenchConfig]:
    """Every runtime × precision to measure. Left out: each runtime the model can use here
    (transformers at its auto precision; llama.cpp for each GGUF file on disk)."""
    if runtimes:
        for runtime in runtimes:
            check_runtime(entry, runtime)
    else:
        runtimes = available_runtimes(entry)
    configs: list[BenchConfig] = []
    for runtime in dict.fromkeys(runtimes):
        chosen = precisions or runtime_named(runtime).default_precisions(entry)
        configs += [BenchConfig(runtime, p) for p in dict.fromkeys(chosen)]
    if not configs:
        raise UsageError(f"nothing to measure for {entry.id}")
    return configs


def measure(
    client: Any,
    options: LoadOptions,
    runs: int = RUNS,
    note: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
) -> BenchResult:
    """Load ``options`` in a fresh worker of ``client`` and time ``runs`` greedy replies
    after one warm-up. Failures become the result's error; a cancel (client.cancel())
    its ``cancelled``. ``stop`` is looked at between replies too: a cancel that lands
    between two requests has no request to stop."""
    from engine.events import Cancelled, Failed, Loaded, ReplyDone, WorkerDied

    config = BenchConfig(options.runtime, options.precision)
    say = note or (lambda text: None)
    info = None
    for event in client.load(options):
        if isinstance(event, Loaded):
            info = event.info
        elif isinstance(event, Cancelled):
            return BenchResult(config, cancelled=True)
        elif isinstance(event, (Failed, WorkerDied)):
            return BenchResult(config, error=event.message)
    assert info is not None
    say(
        f"loaded in {info.load_seconds:.1f} s; decoding {NEW_TOKENS} tokens, "
        f"1 warm-up + {runs} runs"
    )
    stats = []
    for index in range(runs + 1):
        if stop is not None and stop.is_set():
            return BenchResult(config, info, cancelled=True)
        final = None
        for event in client.generate(Conversation().add("user", PROMPT), SETTINGS):
            if isinstance(event, (ReplyDone, Cancelled, Failed, WorkerDied)):
                final = event
        if isinstance(final, Cancelled):
            return BenchResult(config, info, cancelled=True)
        if not isinstance(final, ReplyDone):
            return BenchResult(config, info, error=getattr(final, "message", "no reply"))
        if index:  # the first run warms up
            stats.append(final.stats)
            say(f"run {index}/{runs}: {final.stats.tokens_per_s:.1f} tok/s")
    firsts = [s.time_to_first_token_s for s in stats if s.time_to_first_token_s is not None]
    peaks = [s.peak_memory_mb for s in stats if s.peak_memory_mb is not None]
    return BenchResult(
        config,
        info,
        tokens_per_s=statistics.median(s.tokens_per_s for s in stats),
        first_token_s=statistics.median(firsts) if firsts else None,
        new_tokens=min(s.new_tokens for s in stats),
        prompt_tokens=stats[0].prompt_tokens,
        peak_memory_mb=max(peaks) if peaks else None,
    )


def speed_run(result: BenchResult, runs: int = RUNS):
    """The results-store row of a finished measurement."""
    from engine.results.store import SpeedRun

    info = result.info
    assert info is not None and result.tokens_per_s is not None
    settings = dataclasses.asdict(SETTINGS)
    # Kept where a row keeps its settings (not in its key): the speed a row shows is the
    # configuration's at the thread count it ran with, which the report can name.
    settings.update(bench="decode", runs=runs, threads=info.threads)
    return SpeedRun(
        model_id=info.model_id,
        precision=info.precision,
        device=info.device,
        device_name=info.device_name,
        prompt=PROMPT,
        prompt_tokens=result.prompt_tokens,
        new_tokens=result.new_tokens,
        tokens_per_s=result.tokens_per_s,
        time_to_first_token_s=result.first_token_s,
        peak_memory_mb=result.peak_memory_mb,
        settings=settings,
        runtime=info.runtime,
        load_seconds=info.load_seconds,
    )


def fastest_threads(results: list[BenchResult]) -> dict[str, tuple[int, dict[int, float]]]:
    """For each runtime measured on the CPU at several thread counts (`bench --threads
    sweep`): the fastest count, and each count's speed relative to the fastest of its own
    configuration, averaged over the configurations (so that a small quant and a large
    one weigh the same). A tie goes to fewer threads: they leave cores to the rest."""
    by_config: dict[tuple[str, str], dict[int, float]] = {}
    for r in results:
        if r.ok and r.info is not None and r.info.device == "cpu" and r.info.threads:
            key = (r.config.runtime, r.info.precision)
            by_config.setdefault(key, {})[r.info.threads] = float(r.tokens_per_s or 0.0)
    relative: dict[str, dict[int, list[float]]] = {}
    for (runtime, _precision), rates in by_config.items():
        if len(rates) < 2 or max(rates.values()) <= 0:
            continue
        top = max(rates.values())
        for count, rate in rates.items():
            relative.setdefault(runtime, {}).setdefault(count, []).append(rate / top)
    fastest: dict[str, tuple[int, dict[int, float]]] = {}
    for runtime, counts in relative.items():
        means = {count: statistics.mean(values) for count, values in sorted(counts.items())}
        best = max(means, key=lambda count: (means[count], -count))
        fastest[runtime] = (best, means)
    return fastest


__all__ = [
    "NEW_TOKENS",
    "PROMPT",
    "RUNS",
    "SETTINGS",
    "TRANSFORMERS",
    "BenchConfig",
    "BenchResult",
    "fastest_threads",
    "measure",
    "plan",
    "speed_run",
]
