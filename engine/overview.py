"""One row of live facts per catalog model, for the catalog screen. Never imports torch.

Size and fit come from a measured run when there is one for (model, precision, device),
else from the estimate; the row says which.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from engine import hub, memory
from engine.catalog import Catalog, ModelEntry
from engine.results.matrix import accuracy_of
from engine.results.store import EvalRun, ResultsStore, SpeedRun


@dataclass(frozen=True)
class ModelOverview:
    entry: ModelEntry
    size_mb: float | None  # in memory at the chosen precision (peak of the worker)
    on_disk: str  # yes | partial | no | bundled | local | n/a
    fit: str  # fits | tight | does not fit | unknown
    fit_measured: bool
    best_avg_accuracy: float | None  # percent
    last_tokens_per_s: float | None
    # The fastest measured decode on this device, any precision, and its runtime.
    best_tokens_per_s: float | None = None
    best_speed_runtime: str | None = None


def overview(catalog: Catalog, precision: str, device: str = "auto",
             store: ResultsStore | None = None) -> list[ModelOverview]:
    """Rows for every catalog model at ``precision`` on ``device`` ("auto" allowed)."""
    budget = memory.budget(device)
    owned = store is None
    store = store or ResultsStore()
    try:
        evals = store.eval_runs(status="ok")
        speeds = store.speed_runs()
    finally:
        if owned:
            store.close()
    evals_by_model: dict[str, list[EvalRun]] = defaultdict(list)
    for run in evals:
        evals_by_model[run.model_id].append(run)
    speeds_by_model: dict[str, list[SpeedRun]] = defaultdict(list)
    for speed in speeds:
        speeds_by_model[speed.model_id].append(speed)
    rows = []
    for entry in catalog:
        rows.append(_row(entry, precision, device, budget, evals_by_model[entry.id],
                         speeds_by_model[entry.id]))
    return rows


def _row(entry: ModelEntry, precision: str, device: str, budget: memory.Budget,
         evals: list[EvalRun], speeds: list[SpeedRun]) -> ModelOverview:
    if entry.source == "unavailable":
        return ModelOverview(entry, None, "n/a", "unknown", False, None, None)
    estimate = memory.estimate(entry, precision, device)
    same = (estimate.precision, estimate.device)
    peaks = [r.peak_memory_mb for r in evals if (r.precision, r.device) == same]
    peaks += [s.peak_memory_mb for s in speeds if (s.precision, s.device) == same]
    peaks = [p for p in peaks if p]
    size = max(peaks) if peaks else estimate.total_mb
    fit = "unknown"
    if budget.available_mb is not None:
        fit = memory.verdict(size, budget.available_mb)
    speed = [s.tokens_per_s for s in speeds if (s.precision, s.device) == same]
    here = [s for s in speeds if s.device == estimate.device]
    best = max(here, key=lambda s: s.tokens_per_s) if here else None
    return ModelOverview(
        entry=entry, size_mb=size, on_disk=_disk(entry), fit=fit, fit_measured=bool(peaks),
        best_avg_accuracy=best_average(evals),
        last_tokens_per_s=speed[-1] if speed else None,
        best_tokens_per_s=best.tokens_per_s if best else None,
        best_speed_runtime=best.runtime if best else None,
    )


def _disk(entry: ModelEntry) -> str:
    state = hub.local_status(entry).state
    if entry.source in ("bundled", "local") and state == "yes":
        return entry.source
    return state


def best_average(runs: list[EvalRun]) -> float | None:
    """The best, over (precision, device, few-shot), of the average primary accuracy of the
    latest successful run per task, in percent."""
    latest: dict[tuple, dict[str, EvalRun]] = defaultdict(dict)
    for run in runs:  # oldest first: later runs replace earlier ones
        latest[(run.precision, run.device, run.num_fewshot)][run.task] = run
    best = None
    for by_task in latest.values():
        values = [accuracy_of(r)[0] for r in by_task.values()]
        values = [v for v in values if v is not None]
        if values:
            average = sum(values) / len(values)
            best = average if best is None else max(best, average)
    return best
