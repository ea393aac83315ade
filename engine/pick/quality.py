"""How good a configuration is on the chosen tasks: one number from their main metrics.

Each task is read by its main metric (engine.results.metrics.stored_primary), in its own
direction (higher_is_better). How the tasks' figures become one quality:

- every task higher-is-better (accuracies): the mean of the figures in percent, as the
  tables show them; higher is better;
- every task lower-is-better (perplexities): the mean of the raw figures; lower is better;
- the tasks mix directions or units (a percentage beside a BLEU score): a mean of ranks
  instead, because a percent and a perplexity do not add up. For each task a
  configuration scores the share of the other configurations it beats there (0 to 100;
  100 when it is alone), in that task's direction; the quality is the mean of those
  scores, higher is better, and labelled a rank score.

A configuration missing one of the tasks gets no quality: it is never averaged over fewer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from engine.results.metric_kinds import metric_kind
from engine.results.metrics import is_figure, stored_primary
from engine.results.store import EvalRun

QualityKind = Literal["percent", "lower", "rank"]


def higher_is_better(run: EvalRun, metric: str) -> bool:
    """Whether a bigger ``metric`` of ``run`` is better: lm-eval's answer kept with the run
    (engine.results.metric_kinds), else the metric's name (a perplexity is lower-is-better)."""
    return metric_kind(run, metric).higher_is_better


@dataclass(frozen=True)
class TaskFigure:
    """A configuration's figure on one task: the main metric's value, its direction."""

    task: str
    metric: str
    value: float
    higher_is_better: bool
    percent: bool = True  # a fraction shown as % (engine.results.metric_kinds)


def task_figure(run: EvalRun) -> TaskFigure | None:
    """The main metric of a successful run, or None when it has no usable figure."""
    metric = stored_primary(run.task, run.metrics, run.primary_metric)
    value = run.metrics.get(metric)
    if not is_figure(value):
        return None
    kind = metric_kind(run, metric)
    return TaskFigure(run.task, metric, float(value), kind.higher_is_better, kind.percent)


def quality_kind(directions: Sequence[bool], percents: Sequence[bool] = ()) -> QualityKind:
    """How the qualities of tasks with these directions (and, for higher-is-better ones,
    whether they are percentages) are formed (see the module)."""
    if all(directions) and all(percents):
        return "percent"
    if not any(directions):
        return "lower"
    return "rank"


def qualities(
    figures: Mapping[str, Mapping[str, TaskFigure]], tasks: Sequence[str]
) -> tuple[dict[str, float], QualityKind]:
    """The quality of each configuration (key -> task -> figure) that has every task, and
    how it was formed. Configurations missing a task are left out."""
    complete = {
        key: by_task for key, by_task in figures.items() if all(t in by_task for t in tasks)
    }
    figures_in = [by_task[t] for by_task in complete.values() for t in tasks]
    kind = quality_kind(
        [f.higher_is_better for f in figures_in] or [True], [f.percent for f in figures_in]
    )
    if kind != "rank":
        scale = 100.0 if kind == "percent" else 1.0
        means = {
            k: sum(f[t].value * scale for t in tasks) / len(tasks) for k, f in complete.items()
        }
        return means, kind
    return _rank_scores(complete, tasks), kind


def _rank_scores(
    complete: Mapping[str, Mapping[str, TaskFigure]], tasks: Sequence[str]
) -> dict[str, float]:
    others = len(complete) - 1
    scores: dict[str, float] = {}
    for key, mine in complete.items():
        total = 0.0
        for task in tasks:
            if others == 0:
                total += 100.0
                continue
            beaten = sum(
                1
                for other, theirs in complete.items()
                if other != key and _better(mine[task], theirs[task])
            )
            total += 100.0 * beaten / others
        scores[key] = total / len(tasks)
    return scores


def _better(a: TaskFigure, b: TaskFigure) -> bool:
    return a.value > b.value if a.higher_is_better else a.value < b.value


def oriented(quality: float, kind: QualityKind) -> float:
    """The quality turned so that bigger is better (for comparing)."""
    return -quality if kind == "lower" else quality
