"""Rows that arrive in a message are drawn at their own widths (tui.widgets.table_fill):
the Evaluate screen's history once showed "2026" for "2026-11-30 17:04" after a run."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from tui.widgets.table_fill import fill

WHEN = "2026-11-30 17:04"


class Table(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("when", "task")


async def test_columns_fit_their_cells_before_the_table_is_next_drawn():
    app = Table()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(DataTable)
        await pilot.pause()  # drawn empty, at the headers' widths
        fill(table, [(Text(WHEN), Text("fx_choice2"))], ["run-1"])
        # Before DataTable's own idle-time measuring: a repaint now draws these widths.
        widths = [column.content_width for column in table.ordered_columns]
        assert widths == [len(WHEN), len("fx_choice2")]
        await pilot.pause()
        assert table.get_row("run-1")[0].plain == WHEN


async def test_a_refill_with_fewer_rows_keeps_the_columns_as_wide():
    # As DataTable itself does: filtering the catalog does not make its columns jump.
    app = Table()
    async with app.run_test(size=(60, 8)) as pilot:
        table = app.query_one(DataTable)
        fill(table, [(Text(WHEN), Text("a much longer task name"))], ["1"])
        await pilot.pause()
        fill(table, [(Text("x"), Text("y"))], ["2"])
        assert [c.content_width for c in table.ordered_columns] == [
            len(WHEN),
            len("a much longer task name"),
        ]
        assert table.row_count == 1
