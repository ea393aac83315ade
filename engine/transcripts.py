"""Saving a chat transcript as Markdown and JSON in the app data dir."""

from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path

from engine.paths import data_dir
from engine.settings import Conversation, GenerationSettings


def transcripts_dir() -> Path:
    return data_dir() / "transcripts"


def save_transcript(model_id: str, conversation: Conversation,
                    settings: GenerationSettings, *, raw: bool = False,
                    now: float | None = None) -> tuple[Path, Path]:
    """Write <time>-<model>.md and .json; returns both paths."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", model_id)
    folder = transcripts_dir()
    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"{stamp}-{safe_id}"
    md_path, json_path = base.with_suffix(".md"), base.with_suffix(".json")
    lines = [f"# Chat with {model_id}", "", f"_{time.ctime(now)} · "
             f"{'raw completion' if raw else 'chat'}_", ""]
    if conversation.system:
        lines += ["**System:**", "", conversation.system, ""]
    for turn in conversation.turns:
        lines += [f"**{turn.role.capitalize()}:**", "", turn.content, ""]
    md_path.write_text("\n".join(lines), encoding="utf-8")
    record = {
        "model_id": model_id,
        "saved_at": now if now is not None else time.time(),
        "mode": "raw" if raw else "chat",
        "system": conversation.system,
        "turns": [dataclasses.asdict(t) for t in conversation.turns],
        "settings": dataclasses.asdict(settings),
    }
    json_path.write_text(json.dumps(record, indent=2), encoding="utf-8")
    return md_path, json_path
