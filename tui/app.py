"""The Textual application (placeholder until the app issue lands)."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Footer, Header

from engine.catalog import Catalog


class SmollmApp(App):
    TITLE = "smollm-tui"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, catalog: Catalog):
        super().__init__()
        self.catalog = catalog

    def compose(self) -> ComposeResult:
        yield Header()
        yield DataTable(id="catalog", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("id", "name", "params", "arch", "source")
        for e in self.catalog:
            table.add_row(e.id, e.name, e.params_label, e.architecture, e.source)
