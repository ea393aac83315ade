"""Rows of the Evaluate screen's tables: one stored run as Text cells (never markup)."""

from __future__ import annotations

import time

from rich.text import Text

from engine.results.matrix import accuracy_of
from engine.results.metric_kinds import metric_kind
from engine.results.store import EvalRun
from engine.task_registry import short_name
from tui.safe_text import plain

STATUS_STYLE = {"ok": "green", "oom": "bold red", "failed": "red", "cancelled": "yellow"}
RESULT_COLUMNS = ("task", "status", "metric ± stderr", "ms/sample", "peak MB", "board MB")
HISTORY_COLUMNS = (
    "when",
    "task",
    "status",
    "metric ± stderr",
    "precision",
    "samples",
    "shots",
    "ms/sample",
)


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def metric_text(run: EvalRun) -> Text:
    """'acc 42.00 ± 4.96' for a successful run ('word_perplexity 114.98 ↓' for a metric
    where lower is better); its error's first line otherwise."""
    if run.status != "ok":
        first = (run.error or "").splitlines()[0] if run.error else ""
        return plain(first[:120], "dim")
    value, stderr, metric = accuracy_of(run)
    if value is None:
        return Text("—", style="dim")
    text = Text(f"{metric.split(',')[0]} ", style="dim")
    text.append(f"{value:.2f}", style="bold")
    if stderr is not None:
        text.append(f" ± {stderr:.2f}")
    kind = metric_kind(run, metric)
    if not kind.higher_is_better:  # a perplexity: in its own unit, better when lower
        text.append(f" {kind.arrow}", style="dim")
    return text


def _number(value: float | None, fmt: str) -> Text:
    return Text("—" if value is None else format(value, fmt), justify="right")


def result_cells(run: EvalRun) -> list[Text]:
    return [
        plain(short_name(run.task)),
        status_text(run.status),
        metric_text(run),
        _number(run.time_per_sample_ms, ".1f"),
        _number(run.peak_memory_mb, ",.0f"),
        _number(run.peak_board_mb, ",.0f"),
    ]


def _samples(run: EvalRun) -> str:
    return f"quick {run.limit}" if run.limit is not None else "full"


def history_cells(run: EvalRun) -> list[Text]:
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.ended or run.started))
    shots = "—" if run.num_fewshot is None else str(run.num_fewshot)
    return [
        Text(when),
        plain(short_name(run.task)),
        status_text(run.status),
        metric_text(run),
        plain(f"{run.precision} {run.device}"),
        Text(_samples(run)),
        Text(shots, justify="right"),
        _number(run.time_per_sample_ms, ".1f"),
    ]
