"""The prompt box of chat and the Arena: a line typed and Enter arriving together (tmux
send-keys, a paste into a terminal without bracketed paste, fast typing over a slow SSH
link) sends the whole line, as when typed key by key."""

from __future__ import annotations

import time

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


# ---- pastes ------------------------------------------------------------------------------

# A copied terminal log: colour codes, a lone ESC, 20 KB in all.
PASTED = ("\x1b[31mred\x1b[0m and plain \x1b text\n" * 700)[:20_000]


def feed_in_reads(parser, data: str, size: int = 4096) -> list:
    """Feed ``data`` as the Linux driver does, in reads of ``size`` characters."""
    out: list = []
    for start in range(0, len(data), size):
        out.extend(parser.feed(data[start : start + size]))
    return out


def test_a_paste_holding_esc_is_one_paste_event():
    """Textual's own parser broke such a paste into one key per character after each ESC;
    the markers are cut across reads here too (4096 does not divide the stream)."""
    from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START

    from tui.paste import PasteSafeParser

    stream = "ab" + BRACKETED_PASTE_START + PASTED + BRACKETED_PASTE_END + "c"
    for size in (4096, 7, 1):
        got = feed_in_reads(PasteSafeParser(), stream, size)
        assert [type(e).__name__ for e in got] == ["Key", "Key", "Paste", "Key"], size
        assert [getattr(e, "character", None) for e in got] == ["a", "b", None, "c"]
        assert got[2].text == PASTED


def test_the_app_reads_its_terminal_with_the_paste_safe_parser():
    from textual.drivers import linux_driver

    from tui.paste import PasteSafeParser, guard_pastes

    guard_pastes()
    assert linux_driver.XTermParser is PasteSafeParser


async def test_a_paste_goes_into_the_input_in_one_insert_esc_shown():
    from tui.safe_text import visible

    app = PromptApp()
    async with app.run_test() as pilot:
        prompt = app.query_one(PromptInput)
        inserts: list[str] = []
        real = prompt._replace_via_keyboard

        def counted(text, start, end):
            inserts.append(text)
            return real(text, start, end)

        prompt._replace_via_keyboard = counted  # type: ignore[method-assign]
        prompt.post_message(events.Paste(PASTED))
        await pilot.pause()
        assert len(inserts) == 1
        assert prompt.text == visible(PASTED) and "\x1b" not in prompt.text
        assert "␛[31mred␛[0m and plain ␛ text\n" in prompt.text
        await pilot.press("enter")
        await pilot.pause()
        assert app.sent == [visible(PASTED)]


def test_esc_alone_still_reaches_the_app_as_escape():
    """A lone ESC may be the start of a paste marker and is held back; with nothing after
    it, the driver's tick gives it to Textual's parser, which reports Esc as always."""
    from textual._xterm_parser import XTermParser

    from tui.paste import PasteSafeParser

    parser = PasteSafeParser()
    assert list(parser.feed("\x1b")) == []
    got: list = []
    deadline = time.monotonic() + 30
    while not got and time.monotonic() < deadline:  # ticks, as the driver's loop makes them
        got = list(parser.tick())
    assert [e.key for e in got] == ["escape"]
    assert isinstance(parser, XTermParser)
