"""An Arena reply keeps its speed row and the board's peak memory, as a chat reply does
(both sides are the conversation view Chat uses): a real round of two real workers (the
tiny model at fp32 and bf16) taking turns, then the real results store read back."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_fixtures import make_app
from telemetry_fakes import ScriptedReader
from test_arena_app import APART, ask, open_arena, set_settings

from engine.results.store import ResultsStore
from engine.telemetry import ReaderChain, Sampler
from tui import messages as m
from tui.session import ModelSession


class EndedFirst(ModelSession):
    """The real session and worker; a reply's last message reaches the panel only once the
    worker has been ended after it, as when the sides take turns and the UI reads that
    message late: the model that answered is then no longer loaded."""

    def __init__(self, *args) -> None:
        super().__init__(*args)
        self.held: list[tuple] = []

    def generate(self, conversation, settings, raw, post):
        def hold(message):
            if isinstance(message, (m.ReplyFinished, m.ReplyFailed)):
                self.held.append((post, message))
            else:
                post(message)

        return super().generate(conversation, settings, raw, hold)

    def close(self) -> None:
        super().close()
        held, self.held = self.held, []
        for post, message in held:
            post(message)


async def test_both_sides_store_their_speed_row_with_the_boards_peak(
    tiny_catalog: Path, monkeypatch: pytest.MonkeyPatch
):
    # Side A (loaded first, so it answers first and is ended for B) reads its reply's end
    # after its worker is gone; side B is the plain session.
    kinds = iter([EndedFirst, ModelSession])
    monkeypatch.setattr("tui.screens.arena.ModelSession", lambda *args: next(kinds)(*args))
    board = [
        {"ram_total_mb": 7619.6, "ram_used_mb": 2000.0 + 100 * i, "gpu_load_pct": 10.0 * i}
        for i in range(40)
    ]
    app = make_app(
        tiny_catalog, telemetry=Sampler(ReaderChain([("jtop", lambda: ScriptedReader(board))]))
    )
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_arena(pilot, APART)
        a, b = screen.panels
        assert isinstance(a.session, EndedFirst) and type(b.session) is ModelSession
        await set_settings(pilot, {"both-temperature": "0", "both-max_new_tokens": "5"})
        await ask(pilot, "Hello there")
        assert a.answered and b.answered
        assert (a.session.state, b.session.state) == ("none", "ready")

        with ResultsStore() as store:
            rows = store.speed_runs(model_id="tiny-llama")
        assert sorted(row.precision for row in rows) == ["bf16", "fp32"]
        for row in rows:
            assert row.new_tokens == 5 and row.peak_memory_mb and row.peak_memory_mb > 0
            assert row.runtime == "transformers" and row.settings["max_new_tokens"] == 5
            # the board's peak during the reply, from the app's sampler
            assert row.peak_board_mb is not None and row.peak_board_mb >= 2000.0
            assert row.telemetry_source == "scripted"


async def test_two_replies_ending_at_once_on_a_new_store_both_keep_their_speed():
    """The sides of a pair that answers at once end together: both speed rows are kept,
    even in a results store that does not exist yet (two first opens at once would both
    create its tables, and the second would fail)."""
    from engine.records import LoadInfo, ReplyStats
    from engine.settings import GenerationSettings

    app = make_app()
    stats = ReplyStats(3, 9, 0.01, 117.3, 0.09, "eos", 344.0)
    async with app.run_test(size=(80, 24)) as pilot:
        for dtype in ("float32", "bfloat16"):
            info = LoadInfo(
                "tiny-llama",
                None,
                None,
                "causal",
                1,
                15.0,
                dtype,
                "cpu",
                "cpu",
                None,
                0.2,
                2048,
                True,
            )
            app.record_chat_speed(stats, GenerationSettings(), info=info)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not [n for n in app._notifications if "Results unavailable" in str(n.title)]
    with ResultsStore() as store:
        rows = store.speed_runs(model_id="tiny-llama")
    assert sorted(row.precision for row in rows) == ["bf16", "fp32"]
