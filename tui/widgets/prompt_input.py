"""Multi-line prompt: Enter sends, Ctrl+J (or Shift+Enter where the terminal reports it)
adds a line."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class PromptInput(TextArea):
    DEFAULT_CSS = """
    PromptInput { height: auto; min-height: 3; max-height: 8; border: round $accent; }
    """
    BINDINGS = [
        Binding("enter", "submit", "Send", show=True, priority=True),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", "New line", show=True,
                priority=True),
    ]

    @dataclass
    class Submitted(Message):
        prompt_input: PromptInput
        text: str

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus",
                         **kwargs)

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        self.insert("\n")
