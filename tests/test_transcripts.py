"""Saved chat transcripts: file names keep the whole model id, the files hold the chat."""

from __future__ import annotations

import json

from engine.settings import Conversation, GenerationSettings
from engine.transcripts import save_transcript


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
