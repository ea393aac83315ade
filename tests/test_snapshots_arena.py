"""SVG snapshots of the Arena (mid-conversation, blind before the vote) and its leaderboard
at 80x24 and 120x40. Replies are scripted so that the figures do not vary; every
behavioural Arena test uses real workers (tests/test_arena_app.py)."""

from __future__ import annotations

import random

import pytest
from app_fixtures import ScriptedClient, make_app, steady
from textual.worker import WorkerState

from engine.chat.arena import PairPlan, SideConfig
from tui.screens.arena import ArenaScreen
from tui.screens.arena_board import ArenaBoardScreen

SIZES = [(80, 24), (120, 40)]
IDS = ["80x24", "120x40"]


class ScriptedSide(ScriptedClient):
    """The scripted client, loading at the precision it was asked for."""

    def load(self, options):
        from dataclasses import replace

        events = list(super().load(options))
        if options.precision == "int8":
            self.info = replace(self.info, quantization="int8", size_mb=190.4)
        yield from events[:-1]
        yield type(events[-1])(events[-1].request_id, self.info)


def arena_screen() -> ArenaScreen:
    from engine.catalog.entries import load_catalog

    entry = load_catalog(None, use_user_overlay=False).get("smollm2-135m-instruct")
    return ArenaScreen(
        (entry, entry),
        (SideConfig(entry.id, "fp32"), SideConfig(entry.id, "int8")),
        client_factory=ScriptedSide,
        rng=random.Random(1),
        planner=lambda entries, configs: PairPlan(True, (612.0, 310.0), 4480.0),
    )


async def settle(pilot) -> None:
    """Wait until no worker is pending or running (the memory plan starts the loads)."""
    while True:
        await pilot.pause()
        active = [
            w for w in pilot.app.workers if w.state in (WorkerState.PENDING, WorkerState.RUNNING)
        ]
        if not active:
            await pilot.pause()
            return
        await pilot.app.workers.wait_for_complete(active)


async def converse(pilot, blind: bool = False) -> None:
    await pilot.app.push_screen(arena_screen())
    await settle(pilot)
    if blind:
        await pilot.press("ctrl+b")
        await settle(pilot)
    await pilot.press(*"What is the capital of France?", "enter")
    await settle(pilot)
    # The round ends when both sides' last messages are handled, and the prompt takes the
    # focus back then: under load that came after the workers had ended.
    from tui.widgets.arena_vote import VoteBar
    from tui.widgets.prompt_input import PromptInput

    screen = pilot.app.screen
    for _ in range(500):  # pauses, each a turn of the message loop
        if screen.query_one(PromptInput).has_focus or screen.query_one(VoteBar).is_open:
            break
        await pilot.pause()
    await steady(pilot)  # the cursor as the picture has it, whenever the blink came


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_arena_mid_conversation(snap_compare, size):
    assert snap_compare(make_app(), terminal_size=size, run_before=converse)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_arena_blind_before_the_vote(snap_compare, size):
    async def blind(pilot):
        await converse(pilot, blind=True)
        pilot.app.clear_notifications()

    assert snap_compare(make_app(), terminal_size=size, run_before=blind)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_arena_leaderboard(snap_compare, size):
    from engine.results.arena import ArenaVote, add_vote
    from engine.results.store import ResultsStore

    fp32, int8, qwen = (
        "smollm2-135m-instruct · fp32 · transformers",
        "smollm2-135m-instruct · int8 · transformers",
        "qwen2.5-0.5b · fp16 · transformers",
    )
    with ResultsStore() as store:
        for a, b, outcome in (
            [(fp32, int8, "a")] * 3
            + [(int8, fp32, "tie")]
            + [(qwen, fp32, "a")] * 2
            + [(int8, qwen, "both-bad")]
        ):
            add_vote(store, ArenaVote("p", outcome, a, b, created=1_763_900_000.0))

    async def board(pilot):
        await pilot.app.push_screen(ArenaBoardScreen())
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await steady(pilot)  # the table's widths measured now, not whenever idle comes

    assert snap_compare(make_app(), terminal_size=size, run_before=board)
