"""The Textual application: a thin shell that owns the shared parts and opens screens."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from engine.catalog import Catalog, ModelEntry
from engine.overview import ModelOverview, overview
from engine.settings import PRECISIONS, LoadOptions
from engine.worker.protocol import ReplyStats
from tui.screens.catalog import CatalogScreen
from tui.screens.chat import ChatScreen
from tui.screens.dialogs import ChoiceScreen
from tui.screens.help import HelpScreen
from tui.session import ModelSession


class SmollmApp(App):
    TITLE = "smollm-tui"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("ctrl+c", "quit", "Quit", show=False),
    ]

    def __init__(self, catalog: Catalog, *, catalog_path: str | None = None,
                 session: ModelSession | None = None, telemetry=None, device: str = "auto",
                 overview_source=overview):
        super().__init__()
        self.overview_source = overview_source
        self.catalog = catalog
        self.catalog_path = catalog_path
        self.session = session or ModelSession(catalog_path)
        self.telemetry = telemetry
        self.device = device
        self.precision = "auto"
        self._chat: ChatScreen | None = None

    def on_mount(self) -> None:
        self.push_screen(CatalogScreen())

    def on_unmount(self) -> None:
        self.session.close()
        if self.telemetry is not None:
            self.telemetry.stop()

    # ---- facts for the screens -----------------------------------------------------

    def model_overview(self) -> list[ModelOverview]:
        return self.overview_source(self.catalog, self.precision, self.device)

    def cycle_precision(self) -> None:
        self.precision = PRECISIONS[(PRECISIONS.index(self.precision) + 1) % len(PRECISIONS)]
        self.notify(f"Precision: {self.precision}", timeout=2)

    def record_chat_speed(self, options: LoadOptions, stats: ReplyStats) -> None:
        """Keep the reply's speed so the catalog shows the last measured tok/s."""

    # ---- actions opened from the catalog -------------------------------------------

    def show_details(self, entry: ModelEntry) -> None:
        from tui.screens.details import DetailsScreen

        row = next(r for r in self.model_overview() if r.entry.id == entry.id)
        self.push_screen(DetailsScreen(row))

    def open_chat(self, entry: ModelEntry) -> None:
        if entry.source == "unavailable":
            self.notify(f"{entry.name} cannot be run: {entry.unavailable_reason}",
                        severity="warning", markup=False)
            return
        options = LoadOptions(entry.id, precision=self.precision, device=self.device,
                              catalog_path=self.catalog_path)
        self._confirm_fit(entry, options, self._push_chat)

    def _confirm_fit(self, entry: ModelEntry, options: LoadOptions, go) -> None:
        row = next(r for r in self.model_overview() if r.entry.id == entry.id)
        if row.fit != "does not fit":
            go(entry, options)
            return

        def answer(choice: str | None) -> None:
            if choice == "anyway":
                go(entry, options)
            elif choice == "int8":
                go(entry, LoadOptions(options.model_id, "int8", options.device,
                                      options.trust_remote_code, options.catalog_path))

        self.push_screen(ChoiceScreen(
            f"{entry.name} may not fit in memory",
            f"At {options.precision} it needs about {row.size_mb or 0:,.0f} MB, more than "
            "this machine has free. On a Jetson, running out of memory gets the model's "
            "worker killed (the app stays up). 8-bit needs about half.",
            [("int8", "Load in 8-bit"), ("anyway", "Load anyway"), ("cancel", "Cancel")],
        ), answer)

    def _push_chat(self, entry: ModelEntry, options: LoadOptions) -> None:
        if self._chat is None or self._chat.options != options:
            self._chat = ChatScreen(entry, options)
        self.push_screen(self._chat)

    def open_evaluate(self, entry: ModelEntry) -> None:
        self.notify("Evaluation is not available yet.", severity="warning")

    def start_download(self, entry: ModelEntry) -> None:
        self.notify("Downloads are not available yet.", severity="warning")

    def delete_model(self, entry: ModelEntry) -> None:
        self.notify("Deleting is not available yet.", severity="warning")

    def open_compare(self) -> None:
        self.notify("Comparison is not available yet.", severity="warning")

    def open_system(self) -> None:
        from tui.screens.system import SystemScreen

        if self.telemetry is None:
            self.notify("Telemetry is off in this session.", severity="warning")
            return
        self.push_screen(SystemScreen(self.telemetry))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Help", "Every key, per screen", self.action_help)
        yield SystemCommand("Cycle precision", "auto, fp32, fp16, bf16, int8, int4",
                            self._palette_precision)
        if isinstance(screen, CatalogScreen):
            for name, action, text in (
                ("Chat", "chat", "Chat with the selected model"),
                ("Evaluate", "evaluate", "Evaluate the selected model"),
                ("Download", "download", "Download the selected model"),
                ("Delete from disk", "delete", "Remove the selected model's files"),
                ("Compare results", "compare", "Side-by-side tables and charts"),
                ("System", "system", "Board memory, GPU load, power, temperatures"),
                ("Filter", "filter", "Filter the catalog"),
                ("Sort", "sort", "Sort by the next column"),
            ):
                yield SystemCommand(name, text, getattr(screen, f"action_{action}"))

    def _palette_precision(self) -> None:
        self.cycle_precision()
        if isinstance(self.screen, CatalogScreen):
            self.screen.reload()
