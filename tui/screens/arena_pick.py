"""Picking the Arena's two sides from the catalog: `a` marks the highlighted model at the
current precision; `a` on a second model (or on the same one after `p` changed the
precision: one model in two configurations) opens the Arena on the pair."""

from __future__ import annotations

from engine.catalog.entries import ModelEntry
from engine.chat.arena import SideConfig
from engine.errors import UsageError
from engine.settings import LoadOptions
from tui.app_api import SmollmAppApi


class ArenaPicker:
    """The app's one marked side. ``pick`` is what app._prepare calls once a model has
    passed its checks (runnable, on disk, consent, memory)."""

    def __init__(self, app: SmollmAppApi):
        self.app = app
        self.marked: tuple[ModelEntry, SideConfig] | None = None

    def marked_text(self) -> str | None:
        return None if self.marked is None else f"arena: {self.marked[1].label()} marked"

    def pick(self, entry: ModelEntry, options: LoadOptions) -> None:
        config = SideConfig.from_options(options)
        if self.marked is None:
            self.marked = (entry, config)
            self._refresh()
            self.app.notify(
                f"{config.label()} is the Arena's first side. Press a on the "
                "second model, or change the precision (p) and press a on the "
                "same one.",
                title="Arena",
                timeout=8,
                markup=False,
            )
            return
        first_entry, first = self.marked
        self.marked = None
        self._refresh()
        if first == config:
            self.app.notify(
                "Arena pick cleared (the same model and precision twice). For one "
                "model in two configurations, change the precision with p "
                "between the two presses of a.",
                timeout=8,
            )
            return
        self.open((first_entry, entry), (first, config))

    def open(
        self, entries: tuple[ModelEntry, ModelEntry], configs: tuple[SideConfig, SideConfig]
    ) -> None:
        from tui.screens.arena import ArenaScreen

        try:
            for config in configs:
                config.load_options(self.app.catalog_path)
        except UsageError as exc:
            self.app.notify(str(exc), severity="warning", markup=False)
            return
        self.app.push_screen(ArenaScreen(entries, configs))

    def _refresh(self) -> None:
        self.app.refresh_catalog()
