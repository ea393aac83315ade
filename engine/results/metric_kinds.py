"""What kind of figure a metric is: which direction is better, and whether it is a fraction
shown as a percentage. The one place every table, chart, flag and export asks.

lm-eval knows each metric's direction (a task's ``higher_is_better()``, the results file's
``higher_is_better`` table) and how it is aggregated over the samples. It does not say
"fraction" outright, so that is decided from its aggregation: a mean of per-sample scores
(acc, acc_norm, exact_match), an F1 or a Matthews correlation is a fraction in [0, 1] and
is shown x100 as a percentage; perplexities, bits per byte, BLEU/chrF/TER (already 0-100),
a mean of log-likelihoods and any metric where lower is better are shown as they are.

The kind is decided when a run is stored (evaluation, import) and kept with it, so a
user's own task keeps lm-eval's answer. A row stored before that (no kind kept) is read by
its metric's name: perplexities, bits per byte and TER are lower-is-better and not
percentages; anything else is the accuracy the tables always took it for.

Averages: "Avg." is the mean of a row's figures in the columns whose metric is a
percentage where higher is better (accuracies, exact match); perplexities and other
figures are never averaged with them, and the column is left out of a table that has no
such column.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class _WithKinds(Protocol):
    """A stored run (engine.results.runs.EvalRun, which imports this module) as seen here:
    the kinds kept with it."""

    @property
    def metric_kinds(self) -> Mapping[str, Mapping[str, bool]]: ...


UP = "↑"
DOWN = "↓"


@dataclass(frozen=True)
class MetricKind:
    """``higher_is_better``: which way is better; ``percent``: a fraction in [0, 1],
    stored as lm-eval gives it and shown x100."""

    higher_is_better: bool
    percent: bool

    @property
    def arrow(self) -> str:
        """↑ where higher is better, ↓ where lower is."""
        return UP if self.higher_is_better else DOWN

    @property
    def scale(self) -> float:
        """What a stored figure is multiplied by to be shown: 100 for a percentage."""
        return 100.0 if self.percent else 1.0

    @property
    def averaged(self) -> bool:
        """Whether "Avg." takes it: a percentage where higher is better."""
        return self.percent and self.higher_is_better

    def shown(self, value: float) -> float:
        """A stored figure in the unit tables show (percent, or as it is)."""
        return value * self.scale

    def as_dict(self) -> dict[str, bool]:
        return {"higher_is_better": bool(self.higher_is_better), "percent": bool(self.percent)}


PERCENT = MetricKind(higher_is_better=True, percent=True)
LOWER_AS_IS = MetricKind(higher_is_better=False, percent=False)
HIGHER_AS_IS = MetricKind(higher_is_better=True, percent=False)

# lm-eval aggregations (its registry names and function names) whose result is a fraction
# when the per-sample scores are 0/1 (or, for F1 and MCC, by definition).
FRACTION_AGGREGATIONS = frozenset(
    {"mean", "nanmean", "median", "f1", "f1_score", "matthews_corrcoef", "acc_all"}
)
# Metrics aggregated by a mean whose samples are not 0/1 scores.
_NOT_FRACTIONS = frozenset({"likelihood"})
# Higher is better, already in their own 0-100 scale.
_AS_IS_HIGHER = frozenset({"bleu", "chrf", "chrf++", "likelihood"})
# Lower is better (besides every name with "perplexity" in it).
_LOWER = frozenset({"bits_per_byte", "bpb", "ter", "brier_score"})


def base_name(metric: str) -> str:
    """'exact_match,strict-match' -> 'exact_match' (lm-eval's own metric name)."""
    return metric.partition(",")[0].strip().lower()


def kind_by_name(metric: str) -> MetricKind:
    """The kind read from a metric's name alone (rows stored before kinds were kept, or a
    metric lm-eval said nothing about)."""
    name = base_name(metric)
    if "perplexity" in name or "loss" in name or name in _LOWER:
        return LOWER_AS_IS
    if name in _AS_IS_HIGHER:
        return HIGHER_AS_IS
    return PERCENT


def decide(
    metric: str,
    higher_is_better: bool | None,
    aggregation: str | None,
    value: Any = None,
) -> MetricKind:
    """The kind of ``metric`` from what lm-eval knows of it: its direction (None: not
    said) and the name of its aggregation (None: not known, as in a results file without
    its task's config). A lower-is-better metric is never a percentage; a figure outside
    [-1, 1] is not a fraction whatever its aggregation."""
    by_name = kind_by_name(metric)
    higher = by_name.higher_is_better if higher_is_better is None else bool(higher_is_better)
    if not higher:
        return LOWER_AS_IS
    if aggregation is None:
        percent = by_name.percent
    else:
        percent = aggregation in FRACTION_AGGREGATIONS and base_name(metric) not in _NOT_FRACTIONS
    if percent and isinstance(value, (int, float)) and not isinstance(value, bool):
        percent = bool(-1.0 <= value <= 1.0)  # a numpy figure gives a numpy bool
    return MetricKind(higher, percent)


def kinds_for(
    metrics: Mapping[str, Any],
    higher_is_better: Mapping[str, Any],
    aggregations: Mapping[str, str | None],
) -> dict[str, dict[str, bool]]:
    """The kinds of a task's metrics as stored with its run: {metric: {"higher_is_better":
    .., "percent": ..}} for each metric that is not a standard error. ``higher_is_better``
    and ``aggregations`` are keyed by lm-eval's metric names (without the filter)."""
    out = {}
    for metric, value in metrics.items():
        if base_name(metric).endswith("_stderr"):
            continue
        name = base_name(metric)
        said = higher_is_better.get(name)
        out[metric] = decide(
            metric, said if isinstance(said, bool) else None, aggregations.get(name), value
        ).as_dict()
    return out


def parse_kinds(text: str | None) -> dict[str, dict[str, bool]]:
    """The stored JSON of a run's kinds; anything unreadable reads as none kept."""
    try:
        data = json.loads(text or "{}")
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(k): {"higher_is_better": v["higher_is_better"], "percent": v["percent"]}
        for k, v in data.items()
        if isinstance(v, dict)
        and isinstance(v.get("higher_is_better"), bool)
        and isinstance(v.get("percent"), bool)
    }


def metric_kind(run: _WithKinds, metric: str) -> MetricKind:
    """The kind of ``metric`` in ``run``: the one kept with the run at evaluation or import
    (lm-eval's answer), else read from the metric's name."""
    return kind_of_result(metric, run.metric_kinds)


def kind_of_result(metric: str, kinds: Mapping[str, Mapping[str, bool]]) -> MetricKind:
    """The kind of ``metric`` among the kinds a task's result carries (as metric_kind)."""
    kept = kinds.get(metric)
    if kept is not None and {"higher_is_better", "percent"} <= set(kept):
        return MetricKind(bool(kept["higher_is_better"]), bool(kept["percent"]))
    return kind_by_name(metric)
