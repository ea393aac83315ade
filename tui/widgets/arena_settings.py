"""The Arena's generation settings: one column for both sides, and per-side overrides
(empty = the same as both). Checked by GenerationSettings.validate(), as everywhere."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from engine.errors import UsageError
from engine.settings import GenerationSettings
from tui.safe_text import plain
from tui.widgets.gen_controls import CONTROLS
from tui.widgets.gen_controls import _parse as parse_setting

Result = tuple[GenerationSettings, dict[str, Any], dict[str, Any]]
COLUMNS = ("both", "a", "b")


class ArenaSettingsScreen(ModalScreen[Result | None]):
    """Dismisses with (settings for both, A's overrides, B's overrides), or None on Esc."""

    DEFAULT_CSS = """
    ArenaSettingsScreen { align: center middle; }
    ArenaSettingsScreen > Vertical { width: 60; max-width: 100%; height: auto;
        max-height: 100%; border: thick $accent; background: $surface; padding: 0 1; }
    ArenaSettingsScreen Horizontal { height: 1; }
    ArenaSettingsScreen Label { width: 14; }
    ArenaSettingsScreen Input { width: 1fr; height: 1; border: none; padding: 0;
        margin: 0 1 0 0; }
    ArenaSettingsScreen Input.-invalid { background: $error 30%; }
    ArenaSettingsScreen .head { text-style: bold; }
    ArenaSettingsScreen #problem { color: $error; height: auto; }
    ArenaSettingsScreen .hint { color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "dismiss_none", "Cancel"),
        Binding("ctrl+s", "keep", "Keep", priority=True),
    ]

    def __init__(
        self, shared: GenerationSettings, overrides: tuple[dict, dict], names: tuple[str, str]
    ):
        super().__init__()
        self.shared, self.overrides, self.names = shared, overrides, names

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Generation settings", classes="head")
            with Horizontal():
                yield Label("")
                for title in ("both", *self.names):
                    yield Static(plain(title), classes="head", expand=True)
            for name, label in CONTROLS:
                with Horizontal():
                    yield Label(label)
                    value = getattr(self.shared, name)
                    yield Input(
                        "" if value is None else str(value), id=f"both-{name}", compact=True
                    )
                    for column, overrides in zip(("a", "b"), self.overrides, strict=True):
                        own = overrides.get(name)
                        yield Input(
                            "" if own is None else str(own),
                            id=f"{column}-{name}",
                            placeholder="same",
                            compact=True,
                        )
            yield Static(id="problem")
            yield Static("empty = same as both · enter or ctrl+s keep · esc cancel", classes="hint")

    def read(self) -> Result:
        """The values in the boxes, checked; raises UsageError naming the bad one."""
        shared: dict[str, Any] = {}
        sides: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
        for name, _ in CONTROLS:
            shared[name] = self._value("both", name, required=True)
            for column, side in zip(("a", "b"), sides, strict=True):
                own = self._value(column, name, required=False)
                if own is not _EMPTY:
                    side[name] = own
        settings = self.shared.with_values(**shared)
        for column, side in zip(self.names, sides, strict=True):
            try:
                settings.with_values(**side)
            except UsageError as exc:
                raise UsageError(f"{column}: {exc}") from exc
        return settings, sides[0], sides[1]

    def _value(self, column: str, name: str, required: bool) -> Any:
        box = self.query_one(f"#{column}-{name}", Input)
        box.remove_class("-invalid")
        if not required and not box.value.strip():
            return _EMPTY
        try:
            return parse_setting(name, box.value)
        except UsageError:
            box.add_class("-invalid")
            raise

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_keep()

    def action_keep(self) -> None:
        try:
            result = self.read()
        except UsageError as exc:
            self.query_one("#problem", Static).update(plain(str(exc)))
            return
        self.dismiss(result)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


_EMPTY = object()
