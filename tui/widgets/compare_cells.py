"""Cells of the Compare screen's matrix and the detail line of one cell, as rich Text."""

from __future__ import annotations

from rich.text import Text

from engine.results.matrix import NOT_RUN, Cell, Matrix, Row
from engine.results.metrics import metric_label
from engine.results.store import LOCAL_BACKEND
from engine.task_registry import short_name
from tui.safe_text import plain

# digits per metric: accuracy %, ms, GB, MB, GB
DIGITS = {"accuracy": 1, "time": 1, "memory": 2, "size": 0, "board": 2}
STATUS_STYLE = {"oom": "bold red", "failed": "red", NOT_RUN: "dim"}


def number(value: float, metric: str) -> str:
    return f"{value:,.{DIGITS.get(metric, 1)}f}"


def cell_text(cell: Cell, metric: str, with_reference: bool = False) -> Text:
    """ok: the figure ('!' when 3 standard errors off the published one); oom / failed in
    red; not run as a dim dash."""
    if cell.status != "ok":
        label = "—" if cell.status == NOT_RUN else cell.status
        return Text(label, style=STATUS_STYLE.get(cell.status, ""), justify="right")
    if cell.value is None:
        return Text("—", style="dim", justify="right")
    text = Text(
        number(cell.value, metric), justify="right", style="bold yellow" if cell.flagged else ""
    )
    if with_reference and cell.reference is not None:
        text.append(f" ({number(cell.reference, metric)})", style="cyan")
    if cell.flagged:
        text.append(" !", style="bold yellow")
    return text


def average_text(row: Row, metric: str) -> Text:
    avg = row.average
    return Text("—" if avg is None else number(avg, metric), justify="right", style="bold")


def row_cells(row: Row, matrix: Matrix, with_reference: bool = False) -> list[Text]:
    return [
        plain(row.label),
        Text(row.params, justify="right"),
        *[cell_text(row.cells[t], matrix.metric, with_reference) for t in matrix.tasks],
        average_text(row, matrix.metric),
    ]


def cell_details(row: Row, task: str | None, matrix: Matrix) -> Text:
    """The line under the matrix: what the cursor's cell is, its reference and error."""
    text = plain(row.label, "bold")
    if task is None:
        avg = row.average
        text.append(
            f" · average over {sum(c.value is not None for c in row.cells.values())} task(s): "
        )
        text.append("—" if avg is None else number(avg, matrix.metric))
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
    text.append(number(cell.value, matrix.metric), style="bold")
    if cell.stderr is not None:
        text.append(f" ± {number(cell.stderr, matrix.metric)}")
    if cell.metric:
        text.append(f" ({metric_label(cell.metric)})", style="dim")
    if cell.backend and cell.backend != LOCAL_BACKEND:  # imported: say where from
        text.append(" · ")
        text.append_text(plain(f"{cell.machine or 'imported'}, {cell.backend}", "dim"))
    if cell.reference is not None:
        text.append(f" · published {number(cell.reference, matrix.metric)}")
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
