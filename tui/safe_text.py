"""Showing untrusted text (model output, prompts, file contents, names) literally.

Text is never interpolated into markup. Control characters, ANSI escape sequences
included, are shown as their visible Unicode "control pictures" (ESC as ␛) so that
nothing a model prints can move the cursor or change the terminal.
"""

from __future__ import annotations

import re

from rich.text import Text

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\u2421" if code == 0x7F else chr(0x2400 + code)


def visible(text: str) -> str:
    """Replace control characters (not newline or tab) with visible symbols."""
    return _CONTROL.sub(_picture, text)


def plain(text: str, style: str = "") -> Text:
    """A Rich Text of untrusted text: no markup, controls made visible."""
    return Text(visible(text), style=style)
