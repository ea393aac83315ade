"""Saving a chat transcript as Markdown and JSON in the app data dir."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

from engine.paths import data_dir, make_private_dir, write_private_text
from engine.settings import Conversation, GenerationSettings


def transcripts_dir() -> Path:
    return data_dir() / "transcripts"


def save_transcript(model_id: str, conversation: Conversation,
                    settings: GenerationSettings, *, raw: bool = False,
                    now: float | None = None) -> tuple[Path, Path]:
    """Write <time>-<model>.md and .json, readable by their owner only; returns both
    paths."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", model_id)
    make_private_dir(data_dir())  # first, so that the folders it creates are private too
    folder = make_private_dir(transcripts_dir())
    # Not with_suffix: an id with dots ("qwen2.5-0.5b") would lose its end.
    md_path, json_path = folder / f"{stamp}-{safe_id}.md", folder / f"{stamp}-{safe_id}.json"
    lines = [f"# Chat with {model_id}", "", f"_{time.ctime(now)} · "
             f"{'raw completion' if raw else 'chat'}_", ""]
    if conversation.system:
        lines += ["**System:**", "", conversation.system, ""]
    for turn in conversation.turns:
        lines += [f"**{turn.role.capitalize()}:**", "", turn.content, ""]
    write_private_text(md_path, "\n".join(lines))
    record = {
        "model_id": model_id,
        "saved_at": now if now is not None else time.time(),
        "mode": "raw" if raw else "chat",
        "system": conversation.system,
        "turns": [dataclasses.asdict(t) for t in conversation.turns],
        "settings": dataclasses.asdict(settings),
    }
    write_private_text(json_path, json.dumps(record, indent=2))
    return md_path, json_path
