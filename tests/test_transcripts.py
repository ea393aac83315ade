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
    md, _ = save_transcript("org/model v1", Conversation().add("user", "x"),
                            GenerationSettings(), now=1_700_000_000)
    assert md.name.endswith("-org_model_v1.md") and md.parent.name == "transcripts"
