"""The prompt box of chat and the Arena: a line typed and Enter arriving together (tmux
send-keys, a paste into a terminal without bracketed paste, fast typing over a slow SSH
link) sends the whole line, as when typed key by key."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult

from tui.widgets.prompt_input import PromptInput


class PromptApp(App):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def compose(self) -> ComposeResult:
        yield PromptInput(id="prompt")

    def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        self.sent.append(message.text)
        message.prompt_input.clear()


def burst(app: App, text: str, *keys: str) -> None:
    """Post the keys as the terminal driver does when they arrive in one read: all at once,
    without waiting for any to be handled."""
    for char in text:
        app.post_message(events.Key(char if char != " " else "space", char))
    for key in keys:
        app.post_message(events.Key(key, "\r" if key == "enter" else None))


async def test_a_line_and_enter_in_one_burst_send_the_line():
    app = PromptApp()
    async with app.run_test() as pilot:
        burst(app, "How are you", "enter")
        await pilot.pause()
        await pilot.pause()
        assert app.sent == ["How are you"]
        assert app.query_one(PromptInput).text == ""


async def test_a_new_line_in_a_burst_lands_after_the_text_before_it():
    app = PromptApp()
    async with app.run_test() as pilot:
        burst(app, "one", "ctrl+j")
        burst(app, "two")
        await pilot.pause()
        await pilot.pause()
        assert app.query_one(PromptInput).text == "one\ntwo" and app.sent == []
        await pilot.press("enter")
        assert app.sent == ["one\ntwo"]
