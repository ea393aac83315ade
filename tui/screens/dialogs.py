"""Small modal dialogs: a choice between buttons, a text editor, and a one-line input."""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static, TextArea

from tui.safe_text import plain

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 70; max-width: 95%; height: auto; max-height: 90%;
    border: thick $accent; background: $surface; padding: 1 2; }}
{name} .title {{ text-style: bold; margin: 0 0 1 0; }}
{name} Horizontal {{ height: auto; margin: 1 0 0 0; }}
{name} Button {{ margin: 0 1 0 0; }}
"""


class ChoiceScreen(ModalScreen[str | None]):
    """A question with a button per answer. Dismisses with the answer's key, or None on Esc."""

    DEFAULT_CSS = _CSS.format(name="ChoiceScreen")
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, title: str, body: str, choices: list[tuple[str, str]]):
        super().__init__()
        self.title_text, self.body, self.choices = title, body, choices

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self.title_text), classes="title")
            yield Static(plain(self.body))
            with Horizontal():
                for index, (key, label) in enumerate(self.choices):
                    yield Button(
                        label, id=f"choice-{key}", variant="primary" if index == 0 else "default"
                    )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss((event.button.id or "").removeprefix("choice-"))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class TextEditScreen(ModalScreen[str | None]):
    """Edit a piece of text (the system prompt). Ctrl+S keeps it, Esc drops the edit."""

    DEFAULT_CSS = (
        _CSS.format(name="TextEditScreen")
        + """
    TextEditScreen TextArea { height: 10; }
    """
    )
    BINDINGS = [
        Binding("escape", "dismiss_none", "Cancel"),
        Binding("ctrl+s", "keep", "Keep", priority=True),
    ]

    def __init__(self, title: str, text: str):
        super().__init__()
        self.title_text, self.text = title, text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self.title_text), classes="title")
            yield TextArea(self.text, soft_wrap=True, id="editor")
            yield Static("ctrl+s keep · esc cancel", classes="hint")

    def action_keep(self) -> None:
        self.dismiss(self.query_one("#editor", TextArea).text)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class InputScreen(ModalScreen[str | None]):
    """One line of text (the Evaluate screen's task folders). Enter keeps it, even empty;
    Esc dismisses with None. ``check(text)`` may return what is wrong with the text: it is
    shown in the dialog, which stays open so that the text can be corrected."""

    DEFAULT_CSS = (
        _CSS.format(name="InputScreen")
        + """
    InputScreen .hint { color: $text-muted; margin: 1 0 0 0; }
    InputScreen #problem { color: $error; height: auto; }
    """
    )
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(
        self,
        title: str,
        body: str,
        value: str,
        *,
        placeholder: str = "",
        check: Callable[[str], str | None] | None = None,
    ):
        super().__init__()
        self.title_text, self.body, self.value, self.placeholder = title, body, value, placeholder
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(plain(self.title_text), classes="title")
            yield Static(plain(self.body))
            yield Input(self.value, placeholder=self.placeholder, id="value")
            yield Static(id="problem")
            yield Static("enter keep · esc cancel", classes="hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        problem = self.check(event.value) if self.check is not None else None
        if problem:
            self.query_one("#problem", Static).update(plain(problem))
            return
        self.dismiss(event.value)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
