"""Cells of the Compare screen's matrix, its column headers and the detail line of one
cell, as rich Text. Figures are in their metric's own unit (% for an accuracy, a
perplexity as it is: engine.results.metric_kinds), with its direction in the header."""

from __future__ import annotations

from rich.text import Text

from engine.results.matrix import NOT_RUN, Cell, Matrix, Row
from engine.results.metric_kinds import UP
from engine.results.metrics import metric_label
from engine.results.report import column_header
from engine.results.store import LOCAL_BACKEND
from engine.task_registry import short_name
from tui.safe_text import plain

# digits per metric: accuracy %, ms, GB, MB, GB; a score that is not a % (a perplexity)
DIGITS = {"accuracy": 1, "time": 1, "memory": 2, "size": 0, "board": 2}
AS_IS_DIGITS = 2
STATUS_STYLE = {"oom": "bold red", "failed": "red", NOT_RUN: "dim"}


def number(value: float, metric: str, percent: bool | None = None) -> str:
    """``value`` with the table's digits; a score that is not a percentage (``percent``
    False: 114.98 for a perplexity) with two."""
    digits = AS_IS_DIGITS if percent is False else DIGITS.get(metric, 1)
    return f"{value:,.{digits}f}"


def header_text(matrix: Matrix, task: str | None) -> Text:
    """A column's header: the task's short name with its direction in the accuracy table
    ('ARC-e ↑', 'fx_prose ↓'); None for the Avg column."""
    if task is None:
        return Text(f"Avg {UP}" if matrix.metric == "accuracy" else "Avg")
    return plain(column_header(matrix, task))


def cell_text(cell: Cell, metric: str, with_reference: bool = False) -> Text:
    """ok: the figure ('!' when 3 standard errors off the published one); oom / failed in
    red; not run as a dim dash."""
    if cell.status != "ok":
        label = "—" if cell.status == NOT_RUN else cell.status
        return Text(label, style=STATUS_STYLE.get(cell.status, ""), justify="right")
    if cell.value is None:
        return Text("—", style="dim", justify="right")
    text = Text(
        number(cell.value, metric, cell.percent),
        justify="right",
        style="bold yellow" if cell.flagged else "",
    )
    if with_reference and cell.reference is not None:
        text.append(f" ({number(cell.reference, metric, cell.percent)})", style="cyan")
    if cell.flagged:
        text.append(" !", style="bold yellow")
    return text


def average_text(row: Row, metric: str) -> Text:
    avg = row.average
    return Text("—" if avg is None else number(avg, metric), justify="right", style="bold")


def row_cells(row: Row, matrix: Matrix, with_reference: bool = False) -> list[Text]:
    """A row's cells; with an Avg cell when the table has that column (Matrix.has_average)."""
    return [
        plain(row.label),
        Text(row.params, justify="right"),
        *[cell_text(row.cells[t], matrix.metric, with_reference) for t in matrix.tasks],
        *([average_text(row, matrix.metric)] if matrix.has_average else []),
    ]


def cell_details(row: Row, task: str | None, matrix: Matrix) -> Text:
    """The line under the matrix: what the cursor's cell is, its reference and error."""
    text = plain(row.label, "bold")
    if task is None:
        if not matrix.has_average:
            return text.append(" · no average: no column is a % where higher is better")
        avg = row.average
        left_out = sum(c.value is not None and not c.averaged for c in row.cells.values())
        text.append(f" · average over {row.averaged_count()} task(s): ")
        text.append("—" if avg is None else number(avg, matrix.metric))
        if left_out:
            text.append(f" ({left_out} not in % left out)", style="dim")
        return text
    cell = row.cells[task]
    text.append(" · ")
    text.append_text(plain(short_name(task)))
    text.append(" · ")
    if cell.status == NOT_RUN:
        text.append("not run with these filters", style="dim")
        return text
    if cell.status != "ok":
        text.append(cell.status, style=STATUS_STYLE.get(cell.status, ""))
        if cell.error:
            text.append(": ")
            text.append_text(plain(cell.error.splitlines()[0][:300]))
        return text
    if cell.value is None:
        return text.append("no figure", style="dim")
    text.append(number(cell.value, matrix.metric, cell.percent), style="bold")
    if cell.stderr is not None:
        text.append(f" ± {number(cell.stderr, matrix.metric, cell.percent)}")
    if cell.metric:
        text.append(f" ({metric_label(cell.metric)})", style="dim")
    if cell.kind is not None and not cell.kind.higher_is_better:
        text.append(f" {cell.kind.arrow} lower is better", style="dim")
    if cell.backend and cell.backend != LOCAL_BACKEND:  # imported: say where from
        text.append(" · ")
        text.append_text(plain(f"{cell.machine or 'imported'}, {cell.backend}", "dim"))
    if cell.reference is not None:
        text.append(f" · published {number(cell.reference, matrix.metric, cell.percent)}")
        text.append(f" ({cell.reference_source})", style="dim")
        text.append(
            f" · difference {cell.difference:+.1f}", style="bold yellow" if cell.flagged else ""
        )
        if cell.flagged:
            text.append(" · more than 3 standard errors off", style="bold yellow")
    return text


def bar_labels(labels: list[str], width: int = 14) -> list[str]:
    """The chart's bar labels, at most ``width`` characters and told apart: one model in
    several configurations ('SmolLM2-135M-Instruct · llama.cpp Q4_1') keeps the end that
    differs ('SmolLM2-… Q4_1'), and labels still alike are numbered as the rows go."""
    short = [label if len(label) <= width else label[: width - 1] + "…" for label in labels]
    if len(set(short)) == len(short):
        return short
    kept = []
    for label in labels:
        tail = label.rsplit(" ", 1)[-1] if " " in label else ""
        if len(label) <= width or not tail or len(tail) > width // 2:
            kept.append(label[:width])
        else:
            kept.append(f"{label[: width - len(tail) - 2]}… {tail}")
    if len(set(kept)) == len(kept):
        return kept
    return [f"{n} {label}"[:width] for n, label in enumerate(labels, start=1)]
