"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO, TypeVar

from rich.console import Console

from engine.catalog.entries import Catalog, load_catalog
from engine.errors import UsageError
from tui.safe_text import visible

T = TypeVar("T")


def catalog_from(args: argparse.Namespace) -> Catalog:
    return load_catalog(getattr(args, "catalog", None))


def stdout_console() -> Console:
    return Console(highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def model_text(text: str, stream: TextIO | None = None) -> str:
    """Model output as it is written to ``stream`` (default stdout). On a terminal, control
    characters are shown as symbols (ESC as ␛; newline and tab kept), so that a reply cannot
    retitle the window or clear the screen; piped or redirected, it is the text exactly as
    the model wrote it, which is what a script asked for."""
    out = stream if stream is not None else sys.stdout
    try:
        on_terminal = out.isatty()
    except (AttributeError, ValueError):  # a closed or unusual stream: not a terminal
        on_terminal = False
    return visible(text) if on_terminal else text


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def check_range(
    option: str, value: float | None, low: float, high: float, *, hint: str = ""
) -> None:
    """A UsageError unless ``low <= value <= high`` (None passes; nan and inf do not)."""
    if value is not None and not low <= value <= high:  # nan compares False
        raise UsageError(
            f"{option} must be between {low:,} and {high:,} (got {_short(value)}){hint}"
        )


def _short(value: float) -> str:
    try:
        text = str(value)
    except ValueError:  # an int past Python's 4,300-digit limit for str()
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


class CtrlC:
    """While active (main thread only), Ctrl+C presses are counted instead of raising
    KeyboardInterrupt at whatever line happens to run, so a command winds down in order."""

    def __init__(self) -> None:
        self.presses = 0
        self._previous: Any = None

    def __enter__(self) -> CtrlC:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._press)
        return self

    def _press(self, signum: int, frame: Any) -> None:
        self.presses += 1

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def run_in_thread(work: Callable[[], T], *, name: str, on_ctrl_c: Callable[[int], bool]) -> T:
    """Run ``work()`` in a thread and wait until it has finished; what it raises is raised
    here. Each Ctrl+C meanwhile calls ``on_ctrl_c(n)`` (n = 1, 2, ...); when that returns
    True the wait ends at once with KeyboardInterrupt.

    The wait is on an Event, not Thread.join(): on CPython 3.11, once Ctrl+C has
    interrupted a join, the next join returns at once and is_alive() says False while the
    thread still runs, so a command would go on (and exit) with its work half done.
    """
    finished = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # raised again in the waiting thread
            outcome["error"] = exc
        finally:
            finished.set()

    with CtrlC() as ctrl_c:
        threading.Thread(target=target, name=name, daemon=True).start()
        handled = 0
        while not finished.wait(0.1):
            while handled < ctrl_c.presses:
                handled += 1
                if on_ctrl_c(handled):
                    raise KeyboardInterrupt
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
