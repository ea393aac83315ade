"""Filling a DataTable whose rows arrive in a message (from a thread), with its columns
measured at once.

DataTable measures new rows' columns later, when it is idle, and keys its render caches on
a count that this measuring does not move (Textual 8.2). A screen repaint that comes between
the rows and that moment draws them at the old widths and keeps them so: after the first
run, the Evaluate screen's history showed "2026" for "2026-11-30 17:04". Measuring here, as
the rows go in, leaves the idle pass nothing to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable


def fill(
    table: DataTable, rows: Iterable[Sequence[object]], keys: Iterable[str] | None = None
) -> None:
    """Replace the table's rows (its columns stay) and widen each auto-width column to the
    widest of its label and cells; as DataTable does, a column never narrows on refill.
    Cells are rich Text (or plain strings without markup)."""
    rows = list(rows)
    row_keys: list[str | None] = list(keys) if keys is not None else [None] * len(rows)
    table.clear()
    columns = list(table.ordered_columns)
    widths = [column.label.cell_len for column in columns]
    for row, key in zip(rows, row_keys, strict=True):
        table.add_row(*row, key=key)
        for index, cell in enumerate(row[: len(columns)]):
            widths[index] = max(widths[index], _width(cell))
    for column, width in zip(columns, widths, strict=True):
        if column.auto_width:
            column.content_width = max(column.content_width, width)


def _width(cell: object) -> int:
    text = cell if isinstance(cell, Text) else Text(str(cell))
    return max((line.cell_len for line in text.split()), default=0)
