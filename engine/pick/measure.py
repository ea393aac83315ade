"""The one background job that measures what Pick is missing: each configuration of the
unmeasured list that is on disk, cheapest first (by estimated memory), with a quick
evaluation of the chosen tasks and the decode test of `smollm-tui bench`
(engine.jobs.spec.JobSpec with ``configurations`` and ``bench``). When it ends, each of them
has every chosen task and a speed row, so the front is complete for what is on disk.

The ETA is rough and said so: this machine's measured runs scaled by estimated memory
(time per sample grows, and tok/s falls, about in proportion to the memory a model
takes); None when nothing is measured here yet to scale from.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.evaluation.decode_bench import NEW_TOKENS, RUNS
from engine.jobs.spec import JobSpec, job_spec
from engine.pick.candidates import load_precision
from engine.pick.missing import Unmeasured
from engine.records import EvalSpec
from engine.results.store import EvalRun, SpeedRun

if TYPE_CHECKING:
    from engine.jobs.store import Job
    from engine.pick.report import PickReport

QUICK_LIMIT = 100  # samples per task: a quick evaluation
LOAD_S = 10.0  # a fresh worker and a model load, twice per configuration (eval, bench)


@dataclass(frozen=True)
class MeasurePlan:
    spec: JobSpec | None  # None: nothing that is on disk is missing
    todo: list[Unmeasured]
    not_on_disk: list[Unmeasured]
    eta_s: float | None


def plan_measure(
    unmeasured: Sequence[Unmeasured],
    tasks: Sequence[str],
    *,
    evals: Sequence[EvalRun] = (),
    speeds: Sequence[SpeedRun] = (),
    catalog_path: str | None = None,
    include_path: str | None = None,
) -> MeasurePlan:
    """The job for ``unmeasured`` (cheapest first, as listed) on ``tasks``; ``evals`` and
    ``speeds`` are this machine's runs, for the ETA."""
    todo = [u for u in unmeasured if u.on_disk]
    later = [u for u in unmeasured if not u.on_disk]
    if not todo or not tasks:
        return MeasurePlan(None, todo, later, None)
    spec = job_spec(
        tuple(dict.fromkeys(u.model for u in todo)),
        EvalSpec(tasks=tuple(tasks), limit=QUICK_LIMIT, include_path=include_path),
        device=todo[0].device,
        catalog_path=catalog_path,
        configurations=tuple((u.model, u.runtime, load_precision(u.precision)) for u in todo),
        bench=True,
    )
    return MeasurePlan(spec, todo, later, eta_s(todo, len(tasks), evals, speeds))


def eta_s(
    todo: Sequence[Unmeasured],
    n_tasks: int,
    evals: Sequence[EvalRun],
    speeds: Sequence[SpeedRun],
) -> float | None:
    """Seconds the job will take, roughly (see the module); None with nothing to scale from."""
    per_sample = [
        r.time_per_sample_ms / r.peak_memory_mb
        for r in evals
        if r.status == "ok" and r.time_per_sample_ms and r.peak_memory_mb
    ]
    per_token = [1 / (s.tokens_per_s * s.peak_memory_mb) for s in speeds if s.peak_memory_mb]
    if not per_sample or not per_token:
        return None
    ms_per_sample_mb = statistics.median(per_sample)
    s_per_token_mb = statistics.median(per_token)
    total = 0.0
    for u in todo:
        total += 2 * LOAD_S
        total += n_tasks * QUICK_LIMIT * ms_per_sample_mb * u.estimate_mb / 1000
        total += (RUNS + 1) * NEW_TOKENS * s_per_token_mb * u.estimate_mb
    return total


def eta_text(seconds: float | None) -> str:
    if seconds is None:
        return "unknown until something is measured here"
    return f"about {max(1, round(seconds / 60))} min (rough)"


def queue_measure(
    report: PickReport, *, catalog_path: str | None = None, include_path: str | None = None
) -> tuple[MeasurePlan, Job | None]:
    """Plan the measuring job for ``report`` (this machine's) and queue it when there is
    something on disk to measure; the plan and the job queued (None: nothing to do)."""
    from engine.jobs import submit
    from engine.results.store import ResultsStore

    with ResultsStore(read_only=True) as store:
        evals = [r for r in store.eval_runs(status="ok") if r.machine in (None, report.machine)]
        speeds = store.speed_runs()
    plan = plan_measure(
        report.unmeasured,
        report.tasks,
        evals=evals,
        speeds=speeds,
        catalog_path=catalog_path,
        include_path=include_path,
    )
    if plan.spec is None:
        return plan, None
    return plan, submit(plan.spec)
