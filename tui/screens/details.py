"""Details of one model, opened with Enter on the catalog. Its stored evaluations are read
from the results store in a thread (tui.store_reads) and added once they arrive."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.memory.overview import ModelOverview
from tui import messages as m
from tui.store_reads import StoreRead
from tui.widgets.model_details import details_renderable


class DetailsScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    DetailsScreen { align: center middle; }
    DetailsScreen > VerticalScroll { width: 80; max-width: 100%; height: auto;
        max-height: 90%; border: thick $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,enter,q", "app.pop_screen", "Close")]

    def __init__(self, row: ModelOverview):
        super().__init__()
        self.row = row
        self.store_read = StoreRead(self, "details-read", model_id=row.entry.id)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(details_renderable(self.row, full=True), id="details")

    def on_mount(self) -> None:
        self.store_read.request()

    def on_results_read(self, message: m.ResultsRead) -> None:
        with self.store_read.arrived():
            details = details_renderable(self.row, full=True, runs=message.runs)
            self.query_one("#details", Static).update(details)
