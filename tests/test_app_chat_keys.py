"""The chat screen's keys with Pilot and the real worker running a tiny model: a base
model starts in raw mode and the raw flag reaches the worker; ctrl+t, ctrl+g, ctrl+o,
ctrl+s (the saved files read back), ctrl+l; settings typed into the controls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_fixtures import make_app, notes, rows_shown
from textual.widgets import Input, Static, Switch
from tiny_models import overlay_text

from engine.chat.transcripts import transcripts_dir
from engine.results.store import ResultsStore
from tui.screens.chat import ChatScreen
from tui.screens.dialogs import TextEditScreen
from tui.widgets.gen_controls import GenerationControls
from tui.widgets.prompt_input import PromptInput
from tui.widgets.transcript import ReplyTurn, UserTurn


@pytest.fixture
def base_catalog(tiny_llama: Path, tmp_path: Path) -> Path:
    """`tiny-base`: the tiny Llama, tagged as a base model."""
    path = tmp_path / "base.toml"
    path.write_text(
        overlay_text({"tiny-base": tiny_llama}).replace('tags = ["instruct"]', 'tags = ["base"]')
    )
    return path


def context_line(screen: ChatScreen) -> str:
    return str(screen.query_one("#context", Static).render())


async def send(pilot, text: str) -> ReplyTurn:
    await pilot.press(*text, "enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()  # the reply's speed, stored in a thread
    return pilot.app.screen.query(ReplyTurn).last()


def last_speed():
    with ResultsStore() as store:
        return store.speed_runs()[-1]


async def test_chat_keys_with_a_base_model(base_catalog):
    app = make_app(base_catalog)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await rows_shown(pilot)
        await pilot.press("slash", *"tiny-base", "enter", "c")
        await pilot.pause()
        await app.workers.wait_for_complete()
        screen = app.screen
        assert isinstance(screen, ChatScreen) and app.session.state == "ready"
        # a base model continues text: raw mode from the start
        assert screen.raw and screen.query_one("#raw", Switch).value
        assert context_line(screen).endswith("raw completion")

        # ctrl+g hides the controls (wide terminal) and back in the prompt; again shows
        # them with the cursor in the first one; settings typed there apply
        controls = screen.query_one(GenerationControls)
        await pilot.press("ctrl+g")
        assert not controls.display and isinstance(app.focused, PromptInput)
        await pilot.press("ctrl+g")
        assert controls.display and app.focused.id == "set-temperature"
        await pilot.press("home", "ctrl+k", "0", "tab", "tab", "tab", "tab", "tab")
        assert app.focused.id == "set-max_new_tokens"
        await pilot.press("home", "ctrl+k", "4")
        assert (screen.settings.temperature, screen.settings.max_new_tokens) == (0.0, 4)

        # raw: the three tokens of the text go to the model as they are
        await pilot.press("ctrl+g")  # back to the prompt
        reply = await send(pilot, "The sea is")
        assert reply.text and last_speed().prompt_tokens == 3 and last_speed().new_tokens == 4
        assert context_line(screen).startswith("context 7 / 2048 tokens")

        # ctrl+t: chat mode, the same words inside the chat template (ctrl+l first: no
        # history in the prompt)
        await pilot.press("ctrl+t")
        assert not screen.raw and not screen.query_one("#raw", Switch).value
        assert context_line(screen).endswith("· chat")
        await pilot.press("ctrl+l")
        await send(pilot, "The sea is")
        default_system = last_speed().prompt_tokens
        assert default_system > 10, default_system

        # ctrl+o: a system prompt, typed into its editor and kept with ctrl+s; it replaces
        # the template's longer default one in what the worker reads
        await pilot.press("ctrl+o")
        assert isinstance(app.screen, TextEditScreen)
        await pilot.press(*"Answer like a pirate.", "ctrl+s")
        await pilot.pause()
        assert app.screen is screen and screen.conversation.system == "Answer like a pirate."
        assert "System prompt set." in notes(app)
        await pilot.press("ctrl+l")  # clears the conversation, keeps the system prompt
        await pilot.pause()
        assert not screen.query(ReplyTurn) and not screen.query(UserTurn)
        assert screen.conversation.turns == () and screen.conversation.system
        assert context_line(screen).startswith("context 0 / 2048")
        await send(pilot, "The sea is")
        assert last_speed().prompt_tokens < default_system
        await send(pilot, "Hi")

        # ctrl+s: the conversation as Markdown and JSON, as shown
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()  # the save runs in a thread
        [md] = transcripts_dir().glob("*-tiny-base.md")
        record = json.loads(md.with_suffix(".json").read_text())
        replies = [r.text for r in screen.query(ReplyTurn)]
        assert [str(u.render()) for u in screen.query(UserTurn)] == ["The sea is", "Hi"]
        assert record["mode"] == "chat" and record["system"] == "Answer like a pirate."
        assert [(t["role"], t["content"]) for t in record["turns"]] == [
            ("user", "The sea is"),
            ("assistant", replies[0]),
            ("user", "Hi"),
            ("assistant", replies[1]),
        ]
        assert record["settings"]["max_new_tokens"] == 4
        assert record["settings"]["temperature"] == 0.0
        text = md.read_text()
        assert " · chat_\n" in text and "**System:**\n\nAnswer like a pirate." in text
        assert text.count("**User:**") == 2 and text.count("**Assistant:**") == 2
        assert all(reply in text for reply in replies)
        assert any(str(md) in n for n in notes(app))

        await pilot.press("ctrl+l", "ctrl+s")
        assert notes(app)[-1] == "Nothing to save yet."

        # narrow: the controls start hidden and ctrl+g shows them
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert screen.has_class("-narrow") and not controls.display
        await pilot.press("ctrl+g")
        assert controls.display and isinstance(app.focused, Input)
        await pilot.press("ctrl+g")
        assert not controls.display and isinstance(app.focused, PromptInput)
