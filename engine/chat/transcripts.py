"""Saving a chat transcript as Markdown and JSON in the app data dir."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import time
from pathlib import Path

from engine.paths import data_dir, make_private_dir, write_private_text
from engine.settings import Conversation, GenerationSettings


def transcripts_dir() -> Path:
    return data_dir() / "transcripts"


def claim_names(folder: Path, base: str) -> tuple[Path, Path]:
    """``base``.md and .json in ``folder``, or base-2, base-3, ... where a save in the same
    second (another chat, the other arena side) already took them. The .md is created
    here (empty, 0600, O_EXCL), so that two saves at once cannot pick the same name."""
    for n in range(1, 1000):
        stem = base if n == 1 else f"{base}-{n}"
        md, js = folder / f"{stem}.md", folder / f"{stem}.json"
        if js.exists():
            continue
        try:
            fd = os.open(md, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        os.close(fd)
        return md, js
    raise OSError(f"too many transcripts named {base}-* in {folder}")


def save_transcript(
    model_id: str,
    conversation: Conversation,
    settings: GenerationSettings,
    *,
    raw: bool = False,
    now: float | None = None,
) -> tuple[Path, Path]:
    """Write <time>-<model>.md and .json, readable by their owner only; returns both
    paths."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    safe_id = re.sub(r"[^A-Za-z0-9._-]", "_", model_id)
    make_private_dir(data_dir())  # first, so that the folders it creates are private too
    folder = make_private_dir(transcripts_dir())
    lines = [
        f"# Chat with {model_id}",
        "",
        f"_{time.ctime(now)} · {'raw completion' if raw else 'chat'}_",
        "",
    ]
    if conversation.system:
        lines += ["**System:**", "", conversation.system, ""]
    for turn in conversation.turns:
        lines += [f"**{turn.role.capitalize()}:**", "", turn.content, ""]
    record = {
        "model_id": model_id,
        "saved_at": now if now is not None else time.time(),
        "mode": "raw" if raw else "chat",
        "system": conversation.system,
        "turns": [dataclasses.asdict(t) for t in conversation.turns],
        "settings": dataclasses.asdict(settings),
    }
    text = json.dumps(record, indent=2)
    # Not with_suffix: an id with dots ("qwen2.5-0.5b") would lose its end.
    md_path, json_path = claim_names(folder, f"{stamp}-{safe_id}")
    write_pair(md_path, json_path, "\n".join(lines), text)
    return md_path, json_path


def write_pair(md_path: Path, json_path: Path, markdown: str, record: str) -> None:
    """Write both files of a save (each atomically). When either write fails (a full disk,
    a folder made read-only) both are removed, the empty .md that claim_names made among
    them: a failed save leaves nothing behind, never an empty or half transcript."""
    try:
        write_private_text(md_path, markdown)
        write_private_text(json_path, record)
    except BaseException:
        for path in (md_path, json_path):
            with contextlib.suppress(OSError):
                path.unlink()
        raise


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_DENIED = (errno.EACCES, errno.EPERM, errno.EROFS)


def save_failure(exc: OSError, what: str = "the transcript") -> str:
    """One line for a save that failed, naming the cause the user can act on: a full disk
    or a folder that cannot be written."""
    where = str(transcripts_dir())
    if exc.errno in _FULL:
        why = f"the disk holding {where} is full; free some space"
    elif exc.errno in _DENIED:
        why = f"{where} cannot be written (its permissions, or a read-only disk)"
    else:
        why = f"{exc.strerror or exc} ({where})"
    return f"could not save {what}: {why}"
