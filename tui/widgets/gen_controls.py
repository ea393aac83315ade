"""Side panel of generation controls. Values are checked by GenerationSettings.validate(),
the same rules the CLI and the worker use; a bad value shows the allowed range."""

from __future__ import annotations

from dataclasses import dataclass, fields

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Select, Static, Switch

from engine.errors import UsageError
from engine.runtimes.choice import UNSUPPORTED
from engine.settings import PRESETS, GenerationSettings
from tui.safe_text import plain

# (field, label) in display order.
CONTROLS = (
    ("temperature", "temperature"),
    ("top_p", "top-p"),
    ("top_k", "top-k"),
    ("repetition_penalty", "repeat pen."),
    ("no_repeat_ngram_size", "no-repeat n"),
    ("max_new_tokens", "max tokens"),
    ("seed", "seed"),
)
_TYPES = {f.name: f.type for f in fields(GenerationSettings)}


def _parse(name: str, raw: str):
    raw = raw.strip()
    if name == "seed":
        if not raw:
            return None
        if not raw.isdigit():
            raise UsageError("seed must be a whole number >= 0, or empty for random")
        return int(raw)
    try:
        number = float(raw)
    except ValueError as exc:
        raise UsageError(f"{name} must be a number (got '{raw}')") from exc
    if "int" in str(_TYPES[name]):
        if not number.is_integer():
            raise UsageError(f"{name} must be a whole number")
        return int(number)
    return number


class GenerationControls(VerticalScroll):
    DEFAULT_CSS = """
    GenerationControls { width: 30; border-left: solid $panel-lighten-2; padding: 0 1; }
    GenerationControls Horizontal { height: 1; margin: 0 0 1 0; }
    GenerationControls Label { width: 12; }
    GenerationControls Input { border: none; height: 1; width: 1fr; padding: 0; }
    GenerationControls Input.-invalid { background: $error 30%; }
    GenerationControls Select { margin: 0 0 1 0; width: 1fr; }
    GenerationControls Switch { border: none; height: 1; padding: 0; }
    GenerationControls #problem { color: $error; height: auto; }
    GenerationControls #runtime-note { color: $text-muted; height: auto; }
    GenerationControls Input:disabled { color: $text-disabled; }
    GenerationControls .title { text-style: bold; margin: 0 0 1 0; }
    """

    @dataclass
    class Changed(Message):
        settings: GenerationSettings

    @dataclass
    class RawToggled(Message):
        raw: bool

    def __init__(self, settings: GenerationSettings, raw: bool, **kwargs):
        super().__init__(**kwargs)
        self.settings = settings
        self._raw = raw

    def compose(self) -> ComposeResult:
        yield Static("Generation", classes="title")
        with Horizontal():
            yield Label("raw mode")
            yield Switch(value=self._raw, id="raw")
        yield Select(
            [(name, name) for name in PRESETS],
            prompt="preset…",
            id="preset",
            allow_blank=True,
            compact=True,
        )
        for name, label in CONTROLS:
            with Horizontal():
                yield Label(label)
                value = getattr(self.settings, name)
                yield Input("" if value is None else str(value), id=f"set-{name}", compact=True)
        yield Static("", id="problem")
        yield Static("", id="runtime-note")

    def set_runtime(self, runtime: str) -> None:
        """Disable, with the reason shown, the controls ``runtime`` does not have; a value
        set there goes back to its default so nothing is ignored silently."""
        missing = UNSUPPORTED.get(runtime, {})
        defaults = GenerationSettings()
        notes, reset = [], {}
        for name, label in CONTROLS:
            box = self.query_one(f"#set-{name}", Input)
            why = missing.get(name)
            box.disabled = why is not None
            box.tooltip = why
            if why is not None:
                notes.append(f"{label}: off ({why})")
                if getattr(self.settings, name) != getattr(defaults, name):
                    reset[name] = getattr(defaults, name)
        self.query_one("#runtime-note", Static).update(plain("\n".join(notes)))
        if reset:
            settings = self.settings.with_values(**reset)
            self.show(settings)
            self._apply(settings)

    def set_raw(self, raw: bool) -> None:
        self.query_one("#raw", Switch).value = raw

    def on_switch_changed(self, event: Switch.Changed) -> None:
        event.stop()
        self.post_message(self.RawToggled(event.value))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value in PRESETS:
            self.show(PRESETS[event.value])
            self._apply(PRESETS[event.value])

    def show(self, settings: GenerationSettings) -> None:
        for name, _ in CONTROLS:
            value = getattr(settings, name)
            widget = self.query_one(f"#set-{name}", Input)
            with widget.prevent(Input.Changed):
                widget.value = "" if value is None else str(value)
                widget.remove_class("-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        name = (event.input.id or "").removeprefix("set-")
        problem = self.query_one("#problem", Static)
        try:
            settings = self.settings.with_values(**{name: _parse(name, event.value)})
        except UsageError as exc:
            event.input.add_class("-invalid")
            problem.update(plain(str(exc)))
            return
        event.input.remove_class("-invalid")
        problem.update("")
        self._apply(settings)

    def _apply(self, settings: GenerationSettings) -> None:
        self.settings = settings
        self.post_message(self.Changed(settings))
