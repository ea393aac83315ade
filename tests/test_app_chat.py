"""The chat screen with Pilot and the real worker process running a tiny model:
catalog -> chat -> send -> streamed reply -> stop -> regenerate -> a setting applied;
a killed worker; bad text shown literally."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
from pathlib import Path

from app_fixtures import make_app, make_scripted_app, rows_shown
from telemetry_fakes import ScriptedReader
from textual.widgets import Input, Static

from engine.results.store import ResultsStore
from engine.settings import LoadOptions
from engine.telemetry import ReaderChain, Sampler
from engine.telemetry.psutil_reader import PsutilReader
from tui import messages as m
from tui.screens.catalog import CatalogScreen
from tui.screens.chat import ChatScreen
from tui.session import ModelSession
from tui.widgets.prompt_input import PromptInput
from tui.widgets.transcript import Notice, QueuedTurn, ReplyTurn, UserTurn


class WatchedChat(ChatScreen):
    """The real chat screen, telling the test when the first chunk of a reply arrived and
    when a reply finished: the conversation view handled each message first, then it
    bubbled up here. (Textual runs the handler of every class in the MRO unless one
    prevents the default, so each of these runs the screen's own exactly once.)"""

    def __init__(self, *args, on_first_chunk=None) -> None:
        super().__init__(*args)
        self.first_chunk = asyncio.Event()
        self.replied = asyncio.Event()
        self.on_first_chunk = on_first_chunk

    async def on_reply_chunk(self, message: m.ReplyChunk) -> None:
        if not self.first_chunk.is_set():
            self.first_chunk.set()
            if self.on_first_chunk is not None:
                self.on_first_chunk()

    async def on_reply_finished(self, message: m.ReplyFinished) -> None:
        message.prevent_default()
        await super().on_reply_finished(message)
        self.replied.set()


class GatedSession(ModelSession):
    """The real session, client and worker; the end of a load (loaded or failed) reaches
    the screen only once the test opens ``gate``, as when the first load of the bundled
    model takes 16 s. The question is typed while the gate is shut."""

    def __init__(self, catalog_path: str) -> None:
        super().__init__(catalog_path)
        self.gate = threading.Event()

    def load(self, options, post):
        def gated(message):
            if isinstance(message, (m.ModelLoaded, m.LoadFailed)):
                self.gate.wait(120)
            post(message)

        return super().load(options, gated)


async def open_watched_chat(pilot, model_id: str, on_first_chunk=None) -> WatchedChat:
    app = pilot.app
    options = LoadOptions(model_id, catalog_path=app.catalog_path)
    screen = WatchedChat(app.catalog.get(model_id), options, on_first_chunk=on_first_chunk)
    await app.push_screen(screen)
    await pilot.pause()
    await app.workers.wait_for_complete()
    return screen


async def open_chat(pilot, model_id: str) -> ChatScreen:
    await rows_shown(pilot)
    await pilot.press("slash", *model_id, "enter", "c")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    return screen


async def send(pilot, text: str) -> ReplyTurn:
    await pilot.press(*text, "enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()  # the reply's speed, stored in a thread
    return pilot.app.screen.query(ReplyTurn).last()


def stats_of(reply: ReplyTurn) -> str:
    return str(reply.query_one(".stats", Static).render())


async def set_control(pilot, screen: ChatScreen, name: str, value: str) -> None:
    box = screen.query_one(f"#set-{name}", Input)
    box.value = value
    await pilot.pause()


async def test_send_stream_stop_regenerate_and_settings(tiny_catalog: Path):
    # A stepped sampler: a reply reads the board when it starts and when it ends.
    board = [
        {"ram_total_mb": 7619.6, "ram_used_mb": 2000.0 + 100 * i, "gpu_load_pct": 10.0 * i}
        for i in range(20)
    ]
    app = make_app(
        tiny_catalog, telemetry=Sampler(ReaderChain([("jtop", lambda: ScriptedReader(board))]))
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_chat(pilot, "tiny-llama")
        assert app.session.state == "ready" and app.session.info.model_id == "tiny-llama"

        await set_control(pilot, screen, "temperature", "0")
        await set_control(pilot, screen, "max_new_tokens", "12")
        reply = await send(pilot, "Hello there")
        assert reply.text and "12 tokens" in stats_of(reply) and "length" in stats_of(reply)
        with ResultsStore() as store:  # the reply's speed and the board's peaks are kept
            [speed] = store.speed_runs(model_id="tiny-llama")
        assert (speed.new_tokens, speed.precision, speed.device) == (12, "fp32", "cpu")
        assert (speed.peak_board_mb, speed.max_gpu_load_pct) == (2100.0, 10.0)
        assert speed.telemetry_source == "scripted" and speed.peak_memory_mb > 0
        assert [t.role for t in screen.conversation.turns] == ["user", "assistant"]
        assert screen.conversation.turns[1].content == reply.text
        assert "context " in str(screen.query_one("#context", Static).render())

        # Regenerate: greedy, so the same text comes back in a new reply; still one exchange.
        first = reply.text
        await pilot.press("ctrl+r")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(screen.query(ReplyTurn)) == 1
        assert screen.query(ReplyTurn).last().text == first
        assert len(screen.conversation.turns) == 2

        # A changed setting is applied to the next reply.
        await set_control(pilot, screen, "max_new_tokens", "3")
        reply = await send(pilot, "Again")
        assert "3 tokens" in stats_of(reply)

        # A bad value is refused with its range and does not change the settings.
        await set_control(pilot, screen, "top_p", "7")
        problem = str(screen.query_one("#problem", Static).render())
        assert "top_p must be in [0.01, 1.0]" in problem
        assert screen.settings.top_p == 0.9

        await pilot.press("escape")  # nothing running: back to the catalog
        assert isinstance(app.screen, CatalogScreen)


async def test_esc_stops_a_long_reply_at_once(tiny_catalog: Path):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_watched_chat(pilot, "tiny-llama")
        await set_control(pilot, screen, "max_new_tokens", "2000")
        await pilot.press(*"Tell me everything", "enter")
        await asyncio.wait_for(screen.first_chunk.wait(), 60)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        stats = stats_of(screen.query(ReplyTurn).last())
        assert "stopped" in stats
        assert int(stats.split(" tokens")[0]) < 2000
        assert isinstance(app.screen, WatchedChat)  # Esc stopped the reply, did not leave


async def test_killed_worker_is_reported_and_ctrl_r_reloads(tiny_catalog: Path):
    sampler = Sampler(ReaderChain([("psutil", PsutilReader)]))
    app = make_app(tiny_catalog, telemetry=sampler)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_watched_chat(
            pilot,
            "tiny-llama",
            on_first_chunk=lambda: os.kill(app.session.client.pid, signal.SIGKILL),
        )
        await set_control(pilot, screen, "max_new_tokens", "1500")
        await pilot.press(*"Go on", "enter")
        await asyncio.wait_for(screen.first_chunk.wait(), 60)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session.state == "died"
        assert any(
            "killed, most likely out of memory" in str(n.message) for n in app._notifications
        )
        assert "killed" in stats_of(screen.query(ReplyTurn).last())
        await pilot.press("ctrl+r")  # reload
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert app.session.state == "ready"
        await pilot.pause()
        # The System charts show the load, the death and the reload.
        assert [mark.text for mark in sampler.marks()] == [
            "loaded tiny-llama float32 on cpu",
            "unloaded tiny-llama float32 on cpu: the worker died",
            "loaded tiny-llama float32 on cpu",
        ]
        await set_control(pilot, screen, "max_new_tokens", "2")
        assert "2 tokens" in stats_of(await send(pilot, "Still there?"))


BAD = ["[bold]x[/]", "[/]", "[link=x]y[/link]", "\x1b[31mred\x1b[0m", "bell\x07 and nul\x00"]


async def test_bad_text_from_the_user_and_the_model_is_shown_literally():
    reply = " ".join(BAD)
    app = make_scripted_app()
    app.session._client_factory = lambda catalog_path=None: __import__(
        "app_fixtures"
    ).ScriptedClient(reply=reply)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_chat(pilot, "smollm2-135m-instruct")
        for text in [*BAD, "x" * 100_000]:
            screen.query_one("#prompt").insert(text)
            await pilot.press("enter")
            await pilot.pause()
            await app.workers.wait_for_complete()
        users = [str(u.render()) for u in screen.query(UserTurn)]
        assert users[0] == "[bold]x[/]" and users[2] == "[link=x]y[/link]"
        assert users[3] == "\u241b[31mred\u241b[0m" and users[4] == "bell\u2407 and nul\u2400"
        assert len(users[5]) == 100_000
        last = screen.query(ReplyTurn).last()
        assert last.text.strip() == reply.strip()
        assert isinstance(app.screen, ChatScreen)


# ---- a question typed while the model is loading ------------------------------------------


async def open_loading_chat(pilot, model_id: str, catalog: Path) -> WatchedChat:
    app = pilot.app
    screen = WatchedChat(
        app.catalog.get(model_id), LoadOptions(model_id, catalog_path=str(catalog))
    )
    await app.push_screen(screen)
    await pilot.pause()
    return screen


def status_of(screen: ChatScreen) -> str:
    return str(screen.query_one("#status", Static).render())


async def test_a_question_typed_while_loading_waits_and_goes_when_ready(tiny_catalog: Path):
    session = GatedSession(str(tiny_catalog))
    app = make_app(tiny_catalog, session=session)
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            screen = await open_loading_chat(pilot, "tiny-llama", tiny_catalog)
            await set_control(pilot, screen, "max_new_tokens", "5")
            await pilot.press(*"Hello there", "enter")
            await pilot.pause()
            # Still loading: the question is shown as waiting, the input is free.
            assert screen.model_loading and "loading" in status_of(screen)
            screen._load_started -= 12  # the loading line counts the seconds of a long load
            screen.show_loading()
            seconds = re.match(r"loading( · \d+%)? · (\d+) s · ", status_of(screen))
            assert seconds and int(seconds.group(2)) >= 12
            [queued] = screen.query(QueuedTurn)
            shown = str(queued.render())
            assert "Hello there" in shown and "waiting for the model to load" in shown
            assert screen.query_one(PromptInput).text == ""
            assert not screen.query(UserTurn) and not screen.query(ReplyTurn)
            assert not [n for n in app._notifications if "not ready" in str(n.message)]

            session.gate.set()  # the model is ready: the question goes by itself
            await asyncio.wait_for(screen.replied.wait(), 120)
            await pilot.pause()
            assert not screen.query(QueuedTurn)
            assert [u.content_text for u in screen.query(UserTurn)] == ["Hello there"]
            assert "5 tokens" in stats_of(screen.query(ReplyTurn).last())
            assert [t.role for t in screen.conversation.turns] == ["user", "assistant"]
            assert screen.conversation.turns[0].content == "Hello there"
            assert status_of(screen).startswith("ready") and not screen.model_loading
        finally:
            session.gate.set()


async def test_esc_withdraws_a_waiting_question_back_into_the_input(tiny_catalog: Path):
    session = GatedSession(str(tiny_catalog))
    app = make_app(tiny_catalog, session=session)
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            screen = await open_loading_chat(pilot, "tiny-llama", tiny_catalog)
            await set_control(pilot, screen, "max_new_tokens", "3")
            await pilot.press(*"Hi", "enter")
            await pilot.pause()
            assert len(screen.query(QueuedTurn)) == 1
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen  # Esc withdrew the question; it did not leave
            assert not screen.query(QueuedTurn)
            assert screen.query_one(PromptInput).text == "Hi"

            session.gate.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert "ready" in status_of(screen)
            assert not screen.query(ReplyTurn) and not screen.conversation.turns
            await pilot.press("enter")  # sent now, by the user
            await asyncio.wait_for(screen.replied.wait(), 120)
            await pilot.pause()
            assert [u.content_text for u in screen.query(UserTurn)] == ["Hi"]
            assert "3 tokens" in stats_of(screen.query(ReplyTurn).last())
        finally:
            session.gate.set()


async def test_a_failed_load_gives_the_waiting_question_back_and_says_why(tmp_path: Path):
    from tiny_models import overlay_text

    empty = tmp_path / "not-a-model"
    empty.mkdir()
    overlay = tmp_path / "broken.toml"
    overlay.write_text(overlay_text({"broken-model": empty}))
    session = GatedSession(str(overlay))
    app = make_app(overlay, session=session)
    async with app.run_test(size=(120, 40)) as pilot:
        try:
            screen = await open_loading_chat(pilot, "broken-model", overlay)
            await pilot.press(*"Are you there?", "enter")
            await pilot.pause()
            assert len(screen.query(QueuedTurn)) == 1
            session.gate.set()
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert not screen.model_loading and not screen.query(QueuedTurn)
            assert screen.query_one(PromptInput).text == "Are you there?"
            assert "not loaded" in status_of(screen)
            errors = [str(n.render()) for n in screen.query(Notice) if n.has_class("error")]
            shown = [
                str(n.message) for n in app._notifications if n.title == "Could not load the model"
            ]
            assert len(errors) == 1 and shown == [errors[0]] and errors[0]
            assert not screen.query(UserTurn) and not screen.conversation.turns
        finally:
            session.gate.set()
