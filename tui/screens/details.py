"""Details of one model, opened with Enter on the catalog."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from engine.overview import ModelOverview
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

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(details_renderable(self.row, full=True))
