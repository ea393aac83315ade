"""Saved chat transcripts: file names keep the whole model id, the files hold the chat."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap

import pytest

from engine.chat.arena import SideTranscript, save_pair
from engine.chat.transcripts import save_transcript, transcripts_dir
from engine.settings import Conversation, GenerationSettings


def test_ids_with_dots_keep_their_end():
    chat = Conversation().add("user", "hi").add("assistant", "Hello!")
    md, js = save_transcript("qwen2.5-0.5b", chat, GenerationSettings(), now=1_700_000_000)
    assert md.name.endswith("-qwen2.5-0.5b.md") and js.name.endswith("-qwen2.5-0.5b.json")
    assert md.stem == js.stem
    assert "**Assistant:**\n\nHello!" in md.read_text()
    assert json.loads(js.read_text())["model_id"] == "qwen2.5-0.5b"


def test_unsafe_characters_become_underscores():
    md, _ = save_transcript(
        "org/model v1", Conversation().add("user", "x"), GenerationSettings(), now=1_700_000_000
    )
    assert md.name.endswith("-org_model_v1.md") and md.parent.name == "transcripts"


def test_two_saves_in_the_same_second_keep_both():
    """Saving twice within one second (two chats with one model, or save pressed twice)
    writes a second pair of files instead of overwriting the first."""
    first = Conversation().add("user", "first").add("assistant", "one")
    second = Conversation().add("user", "second").add("assistant", "two")
    md1, js1 = save_transcript("qwen2.5-0.5b", first, GenerationSettings(), now=1_700_000_000)
    md2, js2 = save_transcript("qwen2.5-0.5b", second, GenerationSettings(), now=1_700_000_000)
    assert (md1, js1) != (md2, js2) and md2.stem == js2.stem == md1.stem + "-2"
    assert (
        "first" in md1.read_text() and json.loads(js1.read_text())["turns"][0]["content"] == "first"
    )
    assert "second" in md2.read_text()


_FULL_DISK_SAVE = textwrap.dedent(
    """
    import resource, signal
    from engine.settings import Conversation, GenerationSettings
    from engine.chat.transcripts import save_failure, save_transcript
    chat = Conversation().add("user", "hi").add("assistant", "x" * 100_000)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG, as ENOSPC on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    try:
        save_transcript("qwen2.5-0.5b", chat, GenerationSettings())
    except OSError as exc:
        print(save_failure(exc))
    """
)


def test_a_save_on_a_full_disk_says_so_and_leaves_no_file(app_home):
    """A full disk (RLIMIT_FSIZE in a child) fails the save with one line naming the full
    disk; the .md that claim_names created empty is removed with the rest: no 0-byte file."""
    done = subprocess.run(
        [sys.executable, "-c", _FULL_DISK_SAVE], capture_output=True, text=True, check=True
    )
    line = done.stdout.strip()
    assert line.startswith("could not save the transcript: the disk holding "), done.stderr
    assert "is full; free some space" in line and "\n" not in line
    assert list(transcripts_dir().iterdir()) == []


def test_a_failed_arena_save_leaves_no_file(app_home, monkeypatch):
    """The json write failing after the .md was written (the disk filled between them)
    removes the .md too: the pair is saved whole or not at all."""
    import engine.chat.transcripts as transcripts

    real = transcripts.write_private_text
    calls = []

    def fill_on_second(path, text):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(path, text)

    monkeypatch.setattr(transcripts, "write_private_text", fill_on_second)
    side = Conversation().add("user", "hi").add("assistant", "hello")
    sides = [SideTranscript(n, {"model_id": "m"}, GenerationSettings(), side) for n in "AB"]
    with pytest.raises(OSError) as caught:
        save_pair(sides, blind=False)
    assert "the disk holding" in transcripts.save_failure(caught.value, "the pair")
    assert calls[0].suffix == ".md" and calls[1].suffix == ".json"
    assert list(transcripts_dir().iterdir()) == []
