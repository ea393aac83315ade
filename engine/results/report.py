"""Matrices as Markdown (the seed report's table layout), CSV and JSON.

In the accuracy table each column's header carries its metric's direction (↑ higher is
better, ↓ lower is better) and its figures are in the metric's own unit (% for an
accuracy, a perplexity as it is: engine.results.metric_kinds); Avg. is over the % ↑
columns only, and absent when there is none.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from engine.paths import write_private_text
from engine.results.matrix import NOT_RUN, Cell, Matrix, comparisons
from engine.results.metric_kinds import UP
from engine.task_registry import short_name

FORMATS = ("md", "csv", "json")
LEGEND = (
    "oom: ran out of memory · failed: error (see `smollm-tui report --format json`) · "
    "-: not run · !: differs from the published figure by more than 3 standard errors · "
    "↑ higher is better, ↓ lower is better"
)


def number(value: float | None) -> str:
    """Six significant digits, as the seed report's tables print them; "-" for none."""
    return "-" if value is None else f"{value:.6g}"


def cell_text(cell: Cell) -> str:
    if cell.status == "ok":
        if cell.value is None:
            return "-"
        return number(cell.value) + (" !" if cell.flagged else "")
    return "-" if cell.status == NOT_RUN else cell.status


def column_header(matrix: Matrix, task: str) -> str:
    """'ARC-e ↑', 'fx_prose ↓' in the accuracy table; the short name elsewhere."""
    kind = matrix.column_kind(task)
    return short_name(task) if kind is None else f"{short_name(task)} {kind.arrow}"


def average_header(matrix: Matrix) -> str:
    return f"Avg. {UP}" if matrix.metric == "accuracy" else "Avg."


def _rows(matrix: Matrix) -> tuple[list[str], list[list[str]]]:
    with_avg = matrix.has_average
    header = ["Model", "Parameters", *[column_header(matrix, t) for t in matrix.tasks]]
    header += [average_header(matrix)] if with_avg else []
    body = []
    for row in matrix.rows:
        avg = row.average
        body.append(
            [
                row.label,
                row.params,
                *[cell_text(row.cells[t]) for t in matrix.tasks],
                *(["-" if avg is None else number(avg)] if with_avg else []),
            ]
        )
    return header, body


def markdown_table(matrix: Matrix) -> str:
    """One pipe table: text columns left-aligned, figures right-aligned, padded to width."""
    header, body = _rows(matrix)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    left = {0, 1}

    def line(cells: list[str]) -> str:
        return (
            "| "
            + " | ".join(
                c.ljust(w) if i in left else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = (
        "|"
        + "|".join(
            (":" + "-" * (w + 1)) if i in left else ("-" * (w + 1) + ":")
            for i, w in enumerate(widths)
        )
        + "|"
    )
    return "\n".join([line(header), rule, *[line(r) for r in body]])


def comparison_table(matrix: Matrix) -> str:
    pairs = comparisons(matrix)
    if not pairs:
        return ""
    lines = [
        "| Model | Task | Metric | Measured | ± | Published | Difference | Source |",
        "|:--|:--|:--|--:|--:|--:|--:|:--|",
    ]
    for row, task, cell in pairs:
        stderr = "-" if cell.stderr is None else number(cell.stderr)
        flag = " !" if cell.flagged else ""
        lines.append(
            f"| {row.label} | {short_name(task)} | {cell.metric} | "
            f"{number(cell.value)} | {stderr} | {number(cell.reference)} | "
            f"{cell.difference:+.3g}{flag} | {cell.reference_source} |"
        )
    return "\n".join(lines)


def metrics_line(matrix: Matrix) -> str:
    """'Metric per column: ARC-e acc, fx_gen exact_match (strict-match).' for accuracy.
    Where a column is not a percentage (a perplexity), the ones that are say so and the
    line says which columns Avg. takes: 'ARC-e acc %, fx_prose word_perplexity. Avg. over
    ARC-e only.'"""
    kinds = {t: matrix.column_kind(t) for t in matrix.tasks}
    mixed = any(k is not None and not k.percent for k in kinds.values())
    named = []
    for task in matrix.tasks:
        metric = matrix.column_metric(task)
        if metric is not None:
            percent = mixed and (kind := kinds[task]) is not None and kind.percent
            named.append(f"{short_name(task)} {metric}{' %' if percent else ''}")
    if not named:
        return ""
    line = f"Metric per column: {', '.join(named)}."
    if any(k is not None and not k.averaged for k in kinds.values()):
        taken = [short_name(t) for t, k in kinds.items() if k is not None and k.averaged]
        line += (
            f" Avg. over {', '.join(taken)} only."
            if taken
            else " No Avg.: no column is a % where higher is better."
        )
    return line


def to_markdown(matrices: list[Matrix], heading: str = "Evaluation Result") -> str:
    """The seed report's layout: a numbered '####' section per matrix."""
    parts = [f"### {heading}", LEGEND]
    for n, matrix in enumerate(matrices, start=1):
        parts.append(f"#### {n}. {matrix.title}\n{markdown_table(matrix)}")
        which = metrics_line(matrix)
        if which:
            parts.append(which)
        versus = comparison_table(matrix)
        if versus:
            parts.append(f"Measured against published figures:\n\n{versus}")
    return "\n\n".join(parts) + "\n"


def to_csv(matrices: list[Matrix]) -> str:
    """One CSV: a 'table' column names the matrix, then Model, Parameters, tasks, Avg."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for matrix in matrices:
        header, body = _rows(matrix)
        writer.writerow(["table", *header])
        for row in body:
            writer.writerow([matrix.title, *[c.removesuffix(" !") for c in row]])
    return out.getvalue()


def to_json(matrices: list[Matrix]) -> str:
    """Always valid JSON: a figure that is not finite (NaN, Infinity) is written as null."""
    return (
        json.dumps(
            finite([m.to_dict() for m in matrices]), indent=2, sort_keys=True, allow_nan=False
        )
        + "\n"
    )


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float inside it replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def render(matrices: list[Matrix], fmt: str) -> str:
    if fmt == "md":
        return to_markdown(matrices)
    if fmt == "csv":
        return to_csv(matrices)
    if fmt == "json":
        return to_json(matrices)
    raise ValueError(f"format must be one of {', '.join(FORMATS)}")


def write_reports(matrices: list[Matrix], folder: Path, stem: str) -> list[Path]:
    """Write the matrices as ``stem``.md, .csv and .json into ``folder`` (created);
    the paths written, in that order."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        path = folder / f"{stem}.{fmt}"
        write_private_text(path, render(matrices, fmt))  # results are the user's own
        paths.append(path)
    return paths
