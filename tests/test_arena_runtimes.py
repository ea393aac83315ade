"""The Arena on one model in two runtimes, with Pilot and two real workers: the bundled
SmolLM2-135M GGUF on transformers (the dequantized copy) and on llama.cpp (the Q4_1 file
as it is). Picked from the catalog as a user does; both answer the same prompt, each stats
line names its runtime, and Esc stops both."""

from __future__ import annotations

import asyncio

from app_fixtures import make_app, rows_shown
from llama_support import BUNDLED, require_llama_cpp
from test_arena_app import WatchedPanel, ask, set_settings, settle, state_of

from engine.memory.overview import overview
from tui.screens.arena import ArenaScreen
from tui.screens.catalog import CatalogScreen

require_llama_cpp()


async def test_the_bundled_model_on_both_runtimes_side_by_side(monkeypatch):
    monkeypatch.setattr(ArenaScreen, "panel_class", WatchedPanel)
    app = make_app(overview_source=overview)  # the real sizes, per runtime
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        await pilot.press("slash", *BUNDLED, "enter")
        await pilot.press("r")  # runtime auto -> transformers
        await pilot.pause()
        assert app.runtime == "transformers"
        await pilot.press("a")
        await pilot.press("r")  # -> llama.cpp, then the same model again
        await pilot.pause()
        assert app.runtime == "llama.cpp"
        await pilot.press("a")
        await pilot.pause()
        await rows_shown(pilot)  # each pick waits for its runtime's rows
        screen = app.screen
        assert isinstance(screen, ArenaScreen)
        assert [c.runtime for c in screen.configs] == ["transformers", "llama.cpp"]
        await settle(pilot)
        a, b = screen.panels
        assert (a.session.info.runtime, b.session.info.runtime) == ("transformers", "llama.cpp")
        assert b.session.info.dtype == "Q4_1"  # the GGUF file as it is
        # each side sized on its runtime: the Q4_1 file needs far less than fp32 weights
        need_t, need_l = screen.plan.needs
        assert need_t is not None and need_l is not None and need_l < need_t / 2

        await set_settings(pilot, {"both-temperature": "0", "both-max_new_tokens": "8"})
        await ask(pilot, "What is the capital of France?")
        assert "transformers" in state_of(a) and "llama.cpp" in state_of(b)
        for panel in (a, b):
            assert "tok/s" in state_of(panel)
            assert [t.role for t in panel.conversation.turns] == ["user", "assistant"]
            assert panel.conversation.turns[1].content.strip()

        await set_settings(pilot, {"both-max_new_tokens": "2000"})
        await pilot.press(*"Tell me a very long story", "enter")
        await asyncio.wait_for(asyncio.gather(a.first_chunk.wait(), b.first_chunk.wait()), 120)
        await pilot.press("escape")
        await asyncio.wait_for(settle(pilot), 90)
        for panel in (a, b):
            assert "stopped" in state_of(panel)
            assert len(panel.conversation.turns) == 4
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, CatalogScreen)
