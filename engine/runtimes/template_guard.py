"""Limits on rendering a model's chat template, for both runtimes.

A chat template is a Jinja program that comes with the model file: transformers renders
it with its own sandboxed environment (apply_chat_template), llama.cpp models through
engine.runtimes.llamacpp.tokenizer. Jinja's sandbox stops attribute tricks, not work: nested
``range()`` loops ran for ever, at 100 % CPU, their output growing by tens of MB a second.

``limited_render`` runs a render under a trace function that looks only at the template's
own code (Jinja compiles a template from a string to code named "<template>"): on each of
its lines it checks the process's memory, every few dozen the clock and the user's cancel,
and it stops the render with one line. The output is capped afterwards, so that a prompt of
hundreds of MB is never handed to the tokenizer.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any, Protocol

from engine.errors import UsageError
from engine.units import MB

_TEMPLATE_CODE = "<template>"  # the file name of code Jinja compiles from a string
_CHECK_EVERY = 64  # template lines between two looks at the clock and the cancel flag
MEMORY_LIMIT_MB = 256  # growth of the process during one render
OUTPUT_FLOOR = 2 * 2**20  # characters a prompt may always have, on top of its messages


def time_limit_s() -> float:
    """Seconds one render may take: SMOLLM_TUI_TEMPLATE_SECONDS, else 10. A normal chat
    template renders in milliseconds."""
    try:
        value = float(os.environ.get("SMOLLM_TUI_TEMPLATE_SECONDS", "10"))
    except ValueError:
        return 10.0
    return value if value > 0 else 10.0


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


class TemplateLimitError(UsageError):
    """The chat template ran past a limit: the model's template is broken or hostile."""


class TemplateStopped(UsageError):
    """The user stopped the reply while its chat template was still rendering."""


def limited_render(
    render: Callable[[], str], *, cancel: CancelFlag | None = None, input_chars: int = 0
) -> str:
    """``render()`` (a template render), stopped with a TemplateLimitError past the time or
    memory limit, or a TemplateStopped when ``cancel`` is set. ``input_chars``: the size of
    the messages, which the output may hold several times over."""
    seconds = time_limit_s()
    guard = _Guard(seconds, cancel)
    previous = sys.gettrace()
    sys.settrace(guard.call)
    try:
        text = render()
    finally:
        sys.settrace(previous)
        guard.close()
    limit = OUTPUT_FLOOR + 4 * input_chars
    if len(text) > limit:
        raise TemplateLimitError(
            f"the model's chat template is broken: it wrote {len(text) / MB:.0f} MB for a "
            f"prompt of {input_chars:,} characters; chat with another model, or use raw "
            "completion"
        )
    return text


class _Guard:
    def __init__(self, seconds: float, cancel: CancelFlag | None):
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.cancel = cancel
        self.memory = _Memory()
        self.limit = self.memory.rss() + MEMORY_LIMIT_MB * MB
        self.lines = 0

    def call(self, frame: Any, event: str, arg: Any):
        """The global trace function: trace the template's own code, nothing else (the
        libraries around it run at full speed)."""
        if frame.f_code.co_filename == _TEMPLATE_CODE:
            return self.line
        return None

    def line(self, frame: Any, event: str, arg: Any):
        # An exception raised here goes up through the template's frame and ends the render.
        # Memory on every line: a string that doubles at each turn of a loop (ns.x ~ ns.x)
        # reaches GBs within forty lines.
        if self.memory.rss() > self.limit:
            raise TemplateLimitError(
                f"the model's chat template is broken: it took more than {MEMORY_LIMIT_MB} MB "
                "of memory to render; chat with another model, or use raw completion"
            )
        self.lines += 1
        if self.lines % _CHECK_EVERY == 0:
            self.check()
        return self.line

    def check(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise TemplateStopped("stopped while the chat template was still rendering")
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(
                f"the model's chat template is broken: it ran for more than "
                f"{self.seconds:g} s without finishing; chat with another model, or use raw "
                "completion"
            )

    def close(self) -> None:
        self.memory.close()


class _Memory:
    """This process's resident memory in bytes, read cheaply enough for every line: one
    pread of /proc/self/statm on a file kept open (psutil where there is no /proc)."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        try:
            self.fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self.fd = None

    def rss(self) -> int:
        if self.fd is not None:
            return int(os.pread(self.fd, 128, 0).split()[1]) * self.page
        import psutil

        return int(psutil.Process().memory_info().rss)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
