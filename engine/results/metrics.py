"""Which lm-eval metric stands for a task in the tables, and how it is named there.

A registry task names its primary metric (acc, acc_norm, exact_match,strict-match). A
task the registry does not know (the user's own) is read by the first metric lm-eval
reports for it, with its filter: the order of lm-eval's results, which a run keeps in
its ``primary_metric`` column because its stored metrics are sorted by name.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeGuard

from engine.task_registry import lookup


def is_figure(value: Any) -> TypeGuard[float]:
    """A number a table can show: int or float, not bool, finite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def is_stderr(metric: str) -> bool:
    return metric.partition(",")[0].endswith("_stderr")


def first_reported(metrics: Mapping[str, Any]) -> str | None:
    """The first metric (not a standard error) with a number, in lm-eval's order."""
    for name, value in metrics.items():
        if not is_stderr(name) and is_figure(value):
            return name
    return None


def primary_of(task: str, metrics: Mapping[str, Any]) -> str | None:
    """The metric a run of ``task`` is read by: the registry's, else the first reported.
    ``metrics`` must be in lm-eval's order (a TaskResult's, or a results file's)."""
    info = lookup(task)
    if info is not None:
        return info.primary
    return first_reported(metrics)


def stored_primary(task: str, metrics: Mapping[str, Any], kept: str | None) -> str:
    """The primary metric of a stored run: the one kept with it; for rows stored before
    it was kept, the registry's, else acc, else the first by name."""
    if kept:
        return kept
    info = lookup(task)
    if info is not None:
        return info.primary
    if "acc" in metrics:
        return "acc"
    return first_reported(dict(sorted(metrics.items()))) or "acc"


def stderr_key(metric: str) -> str:
    """'acc' -> 'acc_stderr'; 'exact_match,strict-match' -> 'exact_match_stderr,strict-match'."""
    name, sep, filt = metric.partition(",")
    return f"{name}_stderr{sep}{filt}"


def metric_label(metric: str) -> str:
    """'exact_match,strict-match' -> 'exact_match (strict-match)'; 'acc' stays."""
    name, _, filt = metric.partition(",")
    return f"{name} ({filt})" if filt and filt != "none" else name


def metrics_of(task_results: dict[str, Any]) -> dict[str, Any]:
    """lm-eval's result dict for one task -> {"acc": .., "acc_stderr": ..}; the default
    filter's ",none" suffix is dropped, other filters keep theirs ("exact_match,strict-match")."""
    metrics: dict[str, Any] = {}
    for key, value in task_results.items():
        if key in ("alias", "name", "sample_len", "samples") or "," not in key:
            continue
        metric, _, filt = key.partition(",")
        label = metric if filt == "none" else key
        metrics[label] = value if isinstance(value, (int, float)) else None
    return metrics
