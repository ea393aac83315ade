"""An opener key (c, e, a, enter, d) pressed on the catalog before its first rows were read:
the line that says what will happen once they are, and the keys typed meanwhile.

The catalog (tui.screens.catalog) hands every key to ``OpenWait.key`` while an open waits,
so that nothing typed reaches the catalog's own keys (`s` would open System, `?` the help):
for the chat, the letters are the question (Enter sends it: it waits in the chat's queue
until the model is ready) and what follows it stays in the chat's input; for the other
screens the keys are only kept and shown, not replayed (Enter would close the details).
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.widgets import Static

from engine.catalog.entries import ModelEntry
from tui.app_api import TypedAhead
from tui.safe_text import plain

# What each opener does, said before the model's name and after it.
WHAT = {
    "chat": ("Chat with ", " opens"),
    "evaluate": ("Evaluate opens on ", ""),
    "details": ("The details of ", " open"),
    "arena": ("", " is marked for the Arena"),
    "download": ("d acts on ", ""),
}


class OpenWait(Static):
    DEFAULT_CSS = """
    OpenWait { display: none; height: auto; padding: 0 1; background: $warning 25%; }
    OpenWait.waiting { display: block; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.action: str | None = None  # the opener waiting, one of WHAT
        self.entry: ModelEntry | None = None  # the model it acts on
        self.question: str | None = None  # chat: sent with Enter
        self.typed = ""  # chat: the input after it; others: every key, Enter as ⏎

    @property
    def waiting(self) -> bool:
        return self.action is not None

    def start(self, action: str, entry: ModelEntry) -> None:
        self.action, self.entry, self.question, self.typed = action, entry, None, ""
        self.add_class("waiting")
        self.draw()

    def key(self, event: events.Key) -> bool:
        """Keep a key typed while the open waits; False for a key left to others (Escape,
        which cancels; ctrl+c; arrows and Tab)."""
        if event.key == "enter":
            if self.action != "chat":
                self.typed += "⏎"
            elif self.question is None and self.typed.strip():
                self.question, self.typed = self.typed, ""
            # (a second question would not wait in the chat either: it stays typed here)
        elif event.key == "backspace":
            self.typed = self.typed[:-1]
        elif event.is_printable and event.character:
            self.typed += event.character
        else:
            return False
        self.draw()
        return True

    def paste(self, text: str) -> None:
        self.typed += text
        self.draw()

    def take(self) -> tuple[str, ModelEntry, TypedAhead] | None:
        """The open to do now (the rows are in), and what was typed for it; hides the line."""
        if self.action is None or self.entry is None:
            return None
        done = (self.action, self.entry, TypedAhead(self.question, self.typed))
        self.action, self.entry, self.question, self.typed = None, None, None, ""
        self.remove_class("waiting")
        return done

    def describe(self) -> Text:
        """'Chat with SmolLM2 opens': what waits, for the line and for the notes after it."""
        before, after = WHAT[self.action or "chat"]
        text = Text(before)
        text.append_text(plain(self.entry.name if self.entry else "?", "bold"))
        text.append(after)
        return text

    def draw(self) -> None:
        line = self.describe()
        line.append(" once the catalog is read. ")
        if self.action == "chat":
            if self.question is not None:
                line.append("Question waiting: ", style="bold")
                line.append_text(plain(self.question))
                line.append(" · ")
            line.append("typing: " if self.question is None else "then: ", style="bold")
            line.append_text(plain(self.typed))
            line.append("▏")
            if self.question is None:
                line.append("  (enter sends it)", style="dim")
        elif self.typed:
            line.append("Typed meanwhile (not passed on): ", style="bold")
            line.append_text(plain(self.typed))
        line.append("  esc cancels", style="dim")
        self.update(line)
