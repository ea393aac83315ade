"""The blind vote: shown (and focused) when both hidden sides have answered."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from engine.results.arena import OUTCOME_LABELS

KEYS = (("a", "a"), ("b", "b"), ("t", "tie"), ("n", "both-bad"))


class VoteBar(Static, can_focus=True):
    DEFAULT_CSS = """
    VoteBar { display: none; height: 1; padding: 0 1; background: $warning 30%; }
    VoteBar.open { display: block; }
    VoteBar:focus { background: $warning 50%; }
    """
    BINDINGS = [
        Binding(key, f"vote('{outcome}')", OUTCOME_LABELS[outcome]) for key, outcome in KEYS
    ]

    @dataclass
    class Voted(Message):
        outcome: str

    def on_mount(self) -> None:
        text = Text("Which answer is better?  ", style="bold")
        for key, outcome in KEYS:
            text.append(f" {key} ", style="bold reverse")
            text.append(f" {OUTCOME_LABELS[outcome]}  ")
        self.update(text)

    def open(self) -> None:
        self.add_class("open")
        self.focus()

    def close(self) -> None:
        self.remove_class("open")

    @property
    def is_open(self) -> bool:
        return self.has_class("open")

    def action_vote(self, outcome: str) -> None:
        if self.is_open:
            self.post_message(self.Voted(outcome))
