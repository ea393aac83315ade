"""A bracketed paste arrives as one Paste event, whatever it holds.

Textual's terminal parser (textual._xterm_parser, 8.x) reads a paste character by
character and, at an ESC inside it, starts reading an escape sequence: the characters
after it leave the paste and come out as one key event each. A 20 KB paste holding ESC
characters froze the chat for a minute, each key re-wrapping the input. PasteSafeParser
takes everything between the paste markers out before Textual's parser sees it and gives
it as one Paste event; what is outside a paste goes to Textual's parser unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from textual import events
from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser
from textual.message import Message

START, END = BRACKETED_PASTE_START, BRACKETED_PASTE_END
# A marker's characters arrive in one write of the terminal; the driver ticks every 0.1 s.
_HOLD_S = 0.05


class PasteSafeParser(XTermParser):
    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._pasted: str | None = None  # the text of a paste under way
        self._held = ""  # the start of a paste marker that a read cut in two
        self._held_at = 0.0

    def tick(self) -> Iterable[Message]:
        # What was held as a possible marker and got no more input is a key of its own
        # (Esc alone): on to Textual's parser, which times it out as usual.
        if self._held and time.monotonic() - self._held_at >= _HOLD_S:
            held, self._held = self._held, ""
            yield from super().feed(held)
        yield from super().tick()

    def feed(self, data: str) -> Iterable[Message]:
        if not data:  # the end of input
            if self._pasted is not None:
                yield self._paste_event(self._pasted)
                self._pasted = None
            if self._held:
                yield from super().feed(self._held)
                self._held = ""
            yield from super().feed(data)
            return
        data, self._held = self._held + data, ""
        while data:
            if self._pasted is None:
                start = data.find(START)
                if start < 0:
                    cut = _marker_start(data)
                    data, self._held = data[: len(data) - cut], data[len(data) - cut :]
                    self._held_at = time.monotonic()
                    if data:
                        yield from super().feed(data)
                    return
                if start:
                    yield from super().feed(data[:start])
                self._pasted, data = "", data[start + len(START) :]
                continue
            searched = max(0, len(self._pasted) - len(END) + 1)  # END may span two reads
            self._pasted += data
            end = self._pasted.find(END, searched)
            if end < 0:
                return
            text, data = self._pasted[:end], self._pasted[end + len(END) :]
            self._pasted = None
            yield self._paste_event(text)

    @staticmethod
    def _paste_event(text: str) -> events.Paste:
        # NUL removed as Textual does (Textual issue 1661).
        return events.Paste(text.replace("\x00", ""))


def _marker_start(data: str) -> int:
    """How many characters at the end of ``data`` may begin a paste marker."""
    for size in range(len(START) - 1, 0, -1):
        if data.endswith(START[:size]):
            return size
    return 0


def guard_pastes() -> None:
    """Make Textual's Linux drivers read input with PasteSafeParser. They build their
    parser from the name XTermParser in their module when the input thread starts."""
    from textual.drivers import linux_driver, linux_inline_driver

    for module in (linux_driver, linux_inline_driver):
        if getattr(module, "XTermParser", None) is XTermParser:
            setattr(module, "XTermParser", PasteSafeParser)  # noqa: B010 (mypy: not exported)
