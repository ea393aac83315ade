"""One row of live facts per catalog model, for the catalog screen. Never imports torch.

Size and fit come from a measured run when there is one for (model, precision, device),
else from the estimate; the row says which. A results store that cannot be read (damaged,
too new) leaves the rows without results and says why in ``results_problem``: the
catalog, chat and downloads work without it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from engine import preferences
from engine.catalog.entries import Catalog, ModelEntry
from engine.memory import fit as memory
from engine.models.local_status import local_status
from engine.results.health import StoreUnavailable
from engine.results.matrix import accuracy_of
from engine.results.metric_kinds import metric_kind
from engine.results.store import EvalRun, ResultsStore, SpeedRun
from engine.runtimes import runtime_named
from engine.runtimes.choice import memory_runtime


@dataclass(frozen=True)
class ModelOverview:
    entry: ModelEntry
    size_mb: float | None  # in memory at the chosen precision (peak of the worker)
    on_disk: str  # yes | partial | no | bundled | local | n/a
    fit: str  # fits | tight | does not fit | unknown
    fit_measured: bool
    best_avg_accuracy: float | None  # percent
    last_tokens_per_s: float | None
    results_problem: str | None = None  # why stored results are unavailable, if they are
    # The context (tokens) the estimated size assumes: the working context, or the
    # model's own when shorter; and the estimate at the model's full context when longer.
    context_length: int | None = None
    full_context_mb: float | None = None
    # The fastest measured decode on this device, any precision, and its runtime.
    best_tokens_per_s: float | None = None
    best_speed_runtime: str | None = None


def overview(
    catalog: Catalog,
    precision: str,
    device: str = "auto",
    store: ResultsStore | None = None,
    working_context: int | None = None,
    runtime: str | None = None,
) -> list[ModelOverview]:
    """Rows for every catalog model at ``precision`` on ``device`` ("auto" allowed), sizes
    estimated at ``working_context`` tokens (default: the setting, see
    engine.preferences.working_context) on ``runtime`` (default: the default runtime; auto
    resolved per model: a model on llama.cpp is sized from its GGUF file, see
    engine.runtimes.llamacpp.memory)."""
    budget = memory.budget(device)
    problem = None
    working = working_context or preferences.working_context_or_default()
    try:
        evals, speeds = _results(store)
    except StoreUnavailable as exc:
        evals, speeds, problem = [], [], str(exc)
    evals_by_model: dict[str, list[EvalRun]] = defaultdict(list)
    for run in evals:
        evals_by_model[run.model_id].append(run)
    speeds_by_model: dict[str, list[SpeedRun]] = defaultdict(list)
    for speed in speeds:
        speeds_by_model[speed.model_id].append(speed)
    rows = []
    for entry in catalog:
        row = _row(
            entry,
            precision,
            device,
            budget,
            evals_by_model[entry.id],
            speeds_by_model[entry.id],
            working,
            runtime,
        )
        rows.append(replace(row, results_problem=problem) if problem else row)
    return rows


def _results(store: ResultsStore | None) -> tuple[list[EvalRun], list[SpeedRun]]:
    if store is not None:
        return store.eval_runs(status="ok"), store.speed_runs()
    with ResultsStore(read_only=True) as own:
        return own.eval_runs(status="ok"), own.speed_runs()


def _row(
    entry: ModelEntry,
    precision: str,
    device: str,
    budget: memory.Budget,
    evals: list[EvalRun],
    speeds: list[SpeedRun],
    working: int,
    runtime: str | None = None,
) -> ModelOverview:
    if entry.source == "unavailable":
        return ModelOverview(entry, None, "n/a", "unknown", False, None, None)
    runtime = memory_runtime(entry, runtime or runtime_named(None).name, precision)
    # llama.cpp's estimate caps the context at the model's own, read from its file.
    context = runtime_named(runtime).estimate_context(entry, working)
    estimate = memory.estimate(entry, precision, device, context_length=context, runtime=runtime)
    if estimate is None:  # llama.cpp has no file for this precision
        return _without_estimate(entry, precision, device, speeds, evals)
    full = None
    # The estimate at the model's full context when that may be longer: the catalog says
    # so, or the runtime caps the context itself (llama.cpp, from its file's header).
    if context >= working or entry.context_length > estimate.context_length:
        whole = memory.estimate(entry, precision, device, runtime=runtime)
        full = whole.total_mb if whole and whole.context_length > estimate.context_length else None
    context = estimate.context_length
    same = (estimate.precision, estimate.device, runtime)
    peaks = [r.peak_memory_mb for r in evals if (r.precision, r.device, r.runtime) == same]
    peaks += [s.peak_memory_mb for s in speeds if (s.precision, s.device, s.runtime) == same]
    measured = [p for p in peaks if p]
    size = max(measured) if measured else estimate.total_mb
    fit = "unknown"
    if budget.available_mb is not None:
        fit = memory.verdict(size, budget.available_mb)
    speed = [s.tokens_per_s for s in speeds if (s.precision, s.device, s.runtime) == same]
    here = [s for s in speeds if s.device == estimate.device]
    best = max(here, key=lambda s: s.tokens_per_s) if here else None
    return ModelOverview(
        entry=entry,
        size_mb=size,
        on_disk=_disk(entry),
        fit=fit,
        fit_measured=bool(measured),
        best_avg_accuracy=best_average(evals),
        last_tokens_per_s=speed[-1] if speed else None,
        context_length=context,
        full_context_mb=full,
        best_tokens_per_s=best.tokens_per_s if best else None,
        best_speed_runtime=best.runtime if best else None,
    )


def _without_estimate(
    entry: ModelEntry, precision: str, device: str, speeds: list[SpeedRun], evals: list[EvalRun]
) -> ModelOverview:
    """A row with no size and an unknown fit: llama.cpp has no file at ``precision``."""
    here = [s for s in speeds if s.device == memory.resolve(precision, device)[1]]
    best = max(here, key=lambda s: s.tokens_per_s) if here else None
    return ModelOverview(
        entry,
        None,
        _disk(entry),
        "unknown",
        False,
        best_average(evals),
        None,
        best_tokens_per_s=best.tokens_per_s if best else None,
        best_speed_runtime=best.runtime if best else None,
    )


def _disk(entry: ModelEntry) -> str:
    state = local_status(entry).state
    if entry.source in ("bundled", "local") and state == "yes":
        return entry.source
    return state


def best_average(runs: list[EvalRun]) -> float | None:
    """The best, over (precision, device, few-shot), of the average primary accuracy of the
    latest successful run per task, in percent: tasks read by a perplexity or another figure
    that is not a % (engine.results.metric_kinds) are left out, as Avg. leaves them."""
    latest: dict[tuple, dict[str, EvalRun]] = defaultdict(dict)
    for run in runs:  # oldest first: later runs replace earlier ones
        latest[(run.precision, run.device, run.num_fewshot)][run.task] = run
    best = None
    for by_task in latest.values():
        values = [v for v in (_averaged(r) for r in by_task.values()) if v is not None]
        if values:
            average = sum(values) / len(values)
            best = average if best is None else max(best, average)
    return best


def _averaged(run: EvalRun) -> float | None:
    value, _, metric = accuracy_of(run)
    return value if value is not None and metric_kind(run, metric).averaged else None
