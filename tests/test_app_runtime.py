"""The runtime in the app, with Pilot and the real worker: cycle it on the catalog, chat on
llama.cpp (the bundled GGUF), stop a reply, switch the chat to transformers and back;
the meter, the loading line, the stats line and the controls say which runtime answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from app_fixtures import make_app, rows_shown
from llama_support import BUNDLED, require_llama_cpp
from textual.widgets import Input, Static

from engine.results.store import ResultsStore
from tui import messages as m
from tui.screens.catalog import CatalogScreen
from tui.screens.chat import ChatScreen
from tui.widgets.conversation import ConversationView
from tui.widgets.memory_meter import meter_text
from tui.widgets.transcript import ReplyTurn

require_llama_cpp()


def stats_of(reply: ReplyTurn) -> str:
    return str(reply.query_one(".stats", Static).render())


def status_of(screen: ChatScreen) -> str:
    return str(screen.query_one("#status", Static).render())


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def set_control(pilot, screen: ChatScreen, name: str, value: str) -> None:
    screen.query_one(f"#set-{name}", Input).value = value
    await pilot.pause()


async def send(pilot, text: str) -> ReplyTurn:
    await pilot.press(*text, "enter")
    await settle(pilot)
    await pilot.app.workers.wait_for_complete()  # the reply's speed, stored in a thread
    return pilot.app.screen.query(ReplyTurn).last()


async def test_catalog_key_cycles_the_runtime(tiny_catalog: Path):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, CatalogScreen) and app.runtime == "auto"
        assert "runtime auto" in screen.sub_title
        seen = []
        for _ in range(3):
            await pilot.press("r")
            await pilot.pause()
            seen.append(app.runtime)
        assert seen == ["transformers", "llama.cpp", "auto"]
        assert "runtime auto" in screen.sub_title
        assert any("Runtime: llama.cpp" in str(n.message) for n in app._notifications)


async def test_chat_on_llamacpp_stop_and_switch_to_transformers(tiny_catalog: Path, monkeypatch):
    lines: list[str] = []  # every status line shown, the loading line among them
    shown = ChatScreen.set_status
    monkeypatch.setattr(
        ChatScreen,
        "set_status",
        lambda self, text, error=False: (lines.append(text), shown(self, text, error)),
    )
    chunk_seen = asyncio.Event()
    write_chunk = ConversationView.on_reply_chunk  # the chat's view writes each chunk

    async def on_reply_chunk(self, message: m.ReplyChunk) -> None:
        await write_chunk(self, message)
        chunk_seen.set()

    monkeypatch.setattr(ConversationView, "on_reply_chunk", on_reply_chunk)
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        await pilot.press("c")  # the bundled model, runtime auto
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ChatScreen)
        assert lines[0].startswith("loading · SmolLM2-135M bundled (auto, auto: llama.cpp), ")
        assert app.session.info.runtime == "llama.cpp"
        assert "Q4_1 on" in status_of(screen) and "llama.cpp" in status_of(screen)
        assert "ready · llama.cpp  smollm2-135m-instruct Q4_1 on cpu" in str(meter_text(app))
        ngram = screen.query_one("#set-no_repeat_ngram_size", Input)
        assert ngram.disabled
        assert "no-repeat n: off (llama.cpp has no no-repeat n-gram control)" in str(
            screen.query_one("#runtime-note", Static).render()
        )

        await set_control(pilot, screen, "temperature", "0")
        reply = await send(pilot, "What is the capital of France? Answer in one sentence.")
        assert reply.text == "The capital of France is Paris."
        assert "eos" in stats_of(reply) and stats_of(reply).endswith("llama.cpp")
        with ResultsStore() as store:
            [speed] = store.speed_runs(model_id=BUNDLED)
        assert (speed.runtime, speed.precision) == ("llama.cpp", "Q4_1")

        # Esc stops a long reply at once.
        await set_control(pilot, screen, "max_new_tokens", "3000")
        chunk_seen.clear()
        await pilot.press(*"Write a very long story about the sea.", "enter")
        await asyncio.wait_for(chunk_seen.wait(), 60)
        await pilot.press("escape")
        await settle(pilot)
        stats = stats_of(screen.query(ReplyTurn).last())
        assert "stopped" in stats and int(stats.split(" tokens")[0]) < 3000
        assert isinstance(app.screen, ChatScreen)

        # The other runtime: the same conversation goes on, on transformers.
        turns = len(screen.conversation.turns)
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert any(
            line.startswith("loading · SmolLM2-135M bundled (auto, transformers)") for line in lines
        )
        assert app.session.info.runtime == "transformers"
        assert status_of(screen).startswith("ready · transformers")
        assert "ready · transformers" in str(meter_text(app))
        assert not ngram.disabled
        await set_control(pilot, screen, "max_new_tokens", "5")
        await set_control(pilot, screen, "no_repeat_ngram_size", "2")
        reply = await send(pilot, "And of Italy?")
        assert "5 tokens" in stats_of(reply) and stats_of(reply).endswith("transformers")
        assert len(screen.conversation.turns) == turns + 2

        # ... and back: a no-repeat value set there goes back to 0, with the reason shown.
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.session.info.runtime == "llama.cpp" and ngram.disabled
        assert ngram.value == "0" and screen.settings.no_repeat_ngram_size == 0
        reply = await send(pilot, "And of Spain?")
        assert stats_of(reply).endswith("llama.cpp")


async def test_a_model_without_gguf_says_why_it_cannot_switch(tiny_catalog: Path):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"tiny-llama", "enter", "c")
        await settle(pilot)
        assert app.session.info.runtime == "transformers"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.session.info.runtime == "transformers"
        assert any(
            "Only transformers here: tiny-llama has no GGUF file" in str(n.message)
            for n in app._notifications
        )
