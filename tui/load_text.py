"""How a model's load reads while it goes, in one place for the Chat and Evaluate screens
and the Arena's panels."""

from __future__ import annotations


def loading_text(stage: str, fraction: float | None = None, seconds: int = 0) -> str:
    """'loading · 37% · 41 s · <stage>': the figures first, so that a narrow terminal cuts
    the words, not them."""
    parts = ["loading"]
    if fraction is not None:
        parts.append(f"{fraction:.0%}")
    if seconds:
        parts.append(f"{seconds} s")
    return " · ".join([*parts, stage])
