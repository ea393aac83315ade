"""The Evaluate screen's history: the model's stored runs, newest first, and the title line
above them (which says while the results store is being read, or why it cannot be)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from engine.results.health import StoreUnavailable
from engine.results.store import EvalRun
from tui.safe_text import visible
from tui.store_reads import READING
from tui.widgets.eval_tables import history_cells
from tui.widgets.table_fill import fill

HISTORY_ROWS = 200


def newest(runs: list[EvalRun]) -> list[EvalRun]:
    return sorted(runs, key=lambda r: (r.ended, r.id or 0), reverse=True)[:HISTORY_ROWS]


def fill_history(table: DataTable, runs: list[EvalRun]) -> None:
    fill(table, (history_cells(run) for run in runs))


def history_title(
    model_name: str, runs: list[EvalRun] | None, problem: StoreUnavailable | None = None
) -> Text:
    """``runs`` None: not read yet."""
    title = Text(f"History of {visible(model_name)}: ", style="bold")
    if runs is None:
        return title.append(READING, style="not bold dim")
    if problem is not None:
        title.append(
            f"the results store is unavailable ({problem.reason}): "
            "`smollm-tui doctor` says what to do",
            style="not bold yellow",
        )
    title.append(
        f"{len(runs)} stored run(s)" if runs else "" if problem else "nothing stored yet",
        style="not bold",
    )
    return title
