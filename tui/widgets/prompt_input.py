"""Multi-line prompt: Enter sends, Ctrl+J (or Shift+Enter where the terminal reports it)
adds a line; a paste goes in whole (with tui.paste, whatever it holds)."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from tui.safe_text import visible

NEWLINE_KEYS = ("ctrl+j", "shift+enter", "alt+enter")


class PromptInput(TextArea):
    DEFAULT_CSS = """
    PromptInput { height: auto; min-height: 3; max-height: 8; border: round $accent; }
    """
    # Shown in the footer; the keys themselves are handled in _on_key, in the widget's own
    # queue, after the characters typed before them. (A priority binding runs as the app
    # receives the key: with a line and Enter arriving in one read, it ran before the
    # characters were inserted and sent nothing.)
    BINDINGS = [
        Binding("enter", "submit", "Send", show=True),
        Binding(",".join(NEWLINE_KEYS), "newline", "New line", show=True),
    ]

    @dataclass
    class Submitted(Message):
        prompt_input: PromptInput
        text: str

    def __init__(self, **kwargs) -> None:
        super().__init__(soft_wrap=True, show_line_numbers=False, tab_behavior="focus", **kwargs)

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter" or event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            if event.key == "enter":
                self.action_submit()
            else:
                self.action_newline()
            return
        await super()._on_key(event)

    async def _on_paste(self, event: events.Paste) -> None:
        """A paste goes in as one insert, its control characters (ESC of a copied colour
        code, say) shown as their visible symbols: a raw ESC in the input would reach the
        terminal when drawn. The text is sent as shown."""
        event.stop()
        event.prevent_default()
        if self.read_only:
            return
        result = self._replace_via_keyboard(visible(event.text), *self.selection)
        if result:
            self.move_cursor(result.end_location)
            self.focus()

    def action_submit(self) -> None:
        text = self.text
        if text.strip():
            self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        self.insert("\n")
