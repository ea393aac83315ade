"""The Arena with Pilot and two real worker processes running the tiny model at two
precisions (fp32 and bf16): both stream, per-side settings, regenerate, Esc stops both,
save; one side's worker killed while the other goes on; blind order, vote and reveal with
the sides taking turns."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import stat
from pathlib import Path

from app_fixtures import make_app, rows_shown
from textual.widgets import Input, Static
from textual.worker import WorkerState

from engine.chat.arena import PairPlan, SideConfig
from engine.chat.transcripts import transcripts_dir
from engine.results.arena import votes
from engine.results.store import ResultsStore
from tui import messages as m
from tui.screens.arena import ArenaScreen
from tui.screens.catalog import CatalogScreen
from tui.widgets.arena_panel import ArenaPanel
from tui.widgets.arena_vote import VoteBar
from tui.widgets.transcript import ReplyTurn

TOGETHER = PairPlan(True, (15.0, 15.0), 8000.0)
APART = PairPlan(False, (15.0, 15.0), 20.0)


class WatchedPanel(ArenaPanel):
    """The real panel, telling the test when its reply's first chunk arrived. (Textual
    runs the panel's own handler too, after this one: each class in the MRO has its turn.)"""

    on_first_chunk = None  # set by a test: called with the panel

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.first_chunk = asyncio.Event()

    def on_reply_chunk(self, message: m.ReplyChunk) -> None:
        if not self.first_chunk.is_set():
            self.first_chunk.set()
            if WatchedPanel.on_first_chunk is not None:
                WatchedPanel.on_first_chunk(self)


class WatchedArena(ArenaScreen):
    panel_class = WatchedPanel


async def settle(pilot) -> None:
    """Wait until no worker is pending or running (a finished one may start the next)."""
    app = pilot.app
    while True:
        await pilot.pause()
        active = [w for w in app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)]
        if not active:
            await pilot.pause()
            return
        await app.workers.wait_for_complete(active)


async def open_arena(pilot, plan: PairPlan, rng=None) -> WatchedArena:
    app = pilot.app
    entry = app.catalog.get("tiny-llama")
    screen = WatchedArena(
        (entry, entry),
        (SideConfig("tiny-llama", "fp32"), SideConfig("tiny-llama", "bf16")),
        planner=lambda entries, configs: plan,
        rng=rng,
    )
    await app.push_screen(screen)
    await settle(pilot)
    return screen


def state_of(panel: ArenaPanel) -> str:
    return str(panel.query_one(".state", Static).render())


async def ask(pilot, text: str) -> None:
    await pilot.press(*text, "enter")
    await settle(pilot)


async def set_settings(pilot, values: dict[str, str]) -> None:
    await pilot.press("ctrl+g")
    await pilot.pause()
    for box_id, value in values.items():
        pilot.app.screen.query_one(f"#{box_id}", Input).value = value
    await pilot.press("ctrl+s")
    await pilot.pause()


async def test_both_stream_with_own_settings_regenerate_stop_and_save(tiny_catalog: Path):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_arena(pilot, TOGETHER)
        a, b = screen.panels
        assert a.session.state == b.session.state == "ready"  # both loaded at once
        assert a.session.client.pid != b.session.client.pid
        assert (a.session.info.dtype, b.session.info.dtype) == ("float32", "bfloat16")
        assert "bf16" in str(b.border_title) and "both at once" in str(
            screen.query_one("#plan", Static).render()
        )

        await set_settings(
            pilot, {"both-temperature": "0", "both-max_new_tokens": "6", "b-max_new_tokens": "4"}
        )
        assert isinstance(app.screen, WatchedArena)
        await ask(pilot, "Hello there")
        assert "6 tokens" in state_of(a) and "fp32 transformers" in state_of(a)
        assert "4 tokens" in state_of(b) and "bf16 transformers" in state_of(b)
        assert "tok/s" in state_of(a) and "peak" in state_of(a)
        for panel in (a, b):
            assert [t.role for t in panel.conversation.turns] == ["user", "assistant"]
            assert panel.conversation.turns[1].content == panel.query(ReplyTurn).last().text

        first = (a.conversation.turns[1].content, b.conversation.turns[1].content)
        await pilot.press("ctrl+r")  # greedy: the same replies again, still one exchange
        await settle(pilot)
        assert (a.conversation.turns[1].content, b.conversation.turns[1].content) == first
        assert len(a.query(ReplyTurn)) == len(b.query(ReplyTurn)) == 1

        # Esc stops both long replies at once.
        await set_settings(pilot, {"both-max_new_tokens": "2000", "b-max_new_tokens": ""})
        await pilot.press(*"Tell me everything", "enter")
        await asyncio.wait_for(asyncio.gather(a.first_chunk.wait(), b.first_chunk.wait()), 120)
        await pilot.press("escape")
        # Both stop between two tokens; the bound only keeps a broken stop from hanging.
        await asyncio.wait_for(settle(pilot), 90)
        for panel in (a, b):
            assert "stopped" in state_of(panel)
            assert int(state_of(panel).split(" tokens")[0]) < 2000
            assert len(panel.conversation.turns) == 4
        assert isinstance(app.screen, WatchedArena)  # Esc stopped, did not leave

        await pilot.press("ctrl+s")
        await settle(pilot)
        [saved] = sorted(transcripts_dir().glob("*-arena-*.json"))
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
        data = json.loads(saved.read_text())
        assert data["sides"]["b"]["config"]["loaded_precision"] == "bf16"
        assert data["sides"]["a"]["settings"]["max_new_tokens"] == 2000
        assert len(data["sides"]["a"]["turns"]) == 4 and len(data["sides"]["b"]["stats"]) == 2

        await pilot.press("escape")  # nothing running: back, and both workers end
        assert isinstance(app.screen, CatalogScreen)


async def test_one_side_killed_the_other_finishes_and_ctrl_r_reloads(tiny_catalog: Path):
    app = make_app(tiny_catalog)
    killed = []

    def kill_side_a(panel: ArenaPanel) -> None:
        if panel.id == "side-0" and not killed:
            killed.append(panel.session.client.pid)
            os.kill(panel.session.client.pid, signal.SIGKILL)

    WatchedPanel.on_first_chunk = kill_side_a
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await open_arena(pilot, TOGETHER)
            a, b = screen.panels
            await set_settings(pilot, {"both-max_new_tokens": "1500", "b-max_new_tokens": "30"})
            await ask(pilot, "Go on")
            assert killed and a.phase == "died" and a.session.state == "died"
            assert "killed, most likely out of memory" in state_of(a)
            assert "ctrl+r" in state_of(a)
            assert b.session.state == "ready" and "30 tokens" in state_of(b)
            assert len(b.conversation.turns) == 2 and len(a.conversation.turns) == 0

            await set_settings(pilot, {"both-max_new_tokens": "3", "b-max_new_tokens": ""})
            await ask(pilot, "Still there?")  # B alone answers; A says how to reload it
            assert len(b.conversation.turns) == 4 and "ctrl+r" in state_of(a)

            await pilot.press("ctrl+r")  # reloads the dead side only
            await settle(pilot)
            assert a.session.state == "ready" and a.session.client.pid != killed[0]
            assert len(b.conversation.turns) == 4

            await pilot.press("ctrl+r")  # regenerate: B answers again, A gets the question
            await settle(pilot)
            assert "3 tokens" in state_of(a) and "3 tokens" in state_of(b)
            assert len(b.conversation.turns) == 4 and len(a.conversation.turns) == 2
            assert len(a.query(ReplyTurn)) == 2  # the killed reply stays in A's history
    finally:
        WatchedPanel.on_first_chunk = None


async def test_blind_sides_take_turns_and_the_vote_is_stored_then_revealed(tiny_catalog: Path):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_arena(pilot, APART, rng=random.Random(7))
        first, second = screen.panels
        # One after the other: only the first side is loaded until its turn comes.
        assert (first.session.state, second.session.state) == ("ready", "none")
        assert "one after the other" in str(screen.query_one("#plan", Static).render())

        await pilot.press("ctrl+b")
        await settle(pilot)
        expected = list(screen.panels)
        random.Random(7).shuffle(expected)
        assert screen.shown == expected and screen.hidden
        a, b = screen.shown
        assert (str(a.border_title), str(b.border_title)) == ("A", "B")
        assert "tiny-llama" not in screen.sub_title

        await set_settings(pilot, {"both-temperature": "0", "both-max_new_tokens": "5"})
        await ask(pilot, "Which is best?")
        # The loaded side answered first and was unloaded for the other one.
        assert (first.session.state, second.session.state) == ("none", "ready")
        assert first.answered and second.answered
        assert "figures shown after the vote" in state_of(a)
        bar = screen.query_one(VoteBar)
        assert bar.is_open and bar.has_focus
        assert "tiny-llama" not in str(a.border_title) + str(b.border_title)

        await pilot.press("b")
        while not screen.voted:  # the key's message handled (it starts the store's thread)
            await pilot.pause()
        await settle(pilot)
        with ResultsStore() as store:
            [vote] = votes(store)
        assert vote.outcome == "b" and vote.prompt == "Which is best?" and vote.blind
        assert vote.player_a == f"tiny-llama · {a.config.precision} · transformers"
        assert vote.player_b == f"tiny-llama · {b.config.precision} · transformers"
        assert vote.settings_a["max_new_tokens"] == 5 and vote.reply_b == b.last_reply
        assert vote.config_b["loaded_precision"] == b.config.precision
        assert "tiny-llama" in str(a.border_title) and not screen.hidden
        assert not bar.is_open
        assert any("Vote stored" in str(n.title) for n in app._notifications)


async def test_the_catalog_picks_one_model_in_two_configurations(tiny_catalog: Path):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        await pilot.press("slash", *"tiny-llama", "enter")
        await pilot.press("a", "a")  # the same model and precision twice: the pick is cleared
        assert app.arena.marked is None and isinstance(app.screen, CatalogScreen)
        assert any("Arena pick cleared" in str(n.message) for n in app._notifications)

        await pilot.press("a")
        assert "arena: tiny-llama · auto marked" in app.screen.sub_title
        await pilot.press("p", "a")  # precision auto -> fp32, then the same model again
        await pilot.pause()
        await rows_shown(pilot)  # the open waits for fp32's rows
        screen = app.screen
        assert isinstance(screen, ArenaScreen)
        assert [c.label() for c in screen.configs] == ["tiny-llama · auto", "tiny-llama · fp32"]
        await settle(pilot)
        await pilot.press("escape")  # back; both workers end
        await pilot.pause()
        assert isinstance(app.screen, CatalogScreen) and app.arena.marked is None


async def test_a_bad_setting_is_refused_with_its_range_and_the_dialog_stays():
    from engine.settings import GenerationSettings
    from tui.widgets.arena_settings import ArenaSettingsScreen

    app = make_app()
    kept = []
    async with app.run_test(size=(80, 24)) as pilot:
        dialog = ArenaSettingsScreen(GenerationSettings(), ({}, {"seed": 5}), ("A", "B"))
        await app.push_screen(dialog, kept.append)
        await pilot.pause()
        dialog.query_one("#b-top_p", Input).value = "7"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "B: top_p must be in [0.01, 1.0]" in str(
            dialog.query_one("#problem", Static).render()
        )
        assert app.screen is dialog and not kept
        dialog.query_one("#b-top_p", Input).value = ""
        dialog.query_one("#a-max_new_tokens", Input).value = "9"
        await pilot.press("ctrl+s")
        await pilot.pause()
    [(shared, a, b)] = kept
    assert shared == GenerationSettings() and a == {"max_new_tokens": 9} and b == {"seed": 5}
