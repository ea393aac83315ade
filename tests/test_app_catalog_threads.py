"""The catalog's rows are read in a thread: a slow disk or a locked results store never
freezes the screen, and what changes them (a chat reply's speed) shows without a restart.
Real rows (engine.memory.overview), a real SQLite store, the real worker process."""

from __future__ import annotations

import threading
from pathlib import Path

from app_fixtures import make_app, notes, rows_shown
from test_app_chat import open_chat, send
from textual.widgets import DataTable

from engine.memory.overview import overview
from engine.results.store import ResultsStore
from tui.screens.catalog import CatalogScreen, speed_cell
from tui.screens.help import HelpScreen


async def test_the_catalog_answers_keys_while_its_rows_are_read():
    """A read that takes as long as the test wants (a store locked by a job, a slow SD
    card): the screen is drawn and answers keys meanwhile, then shows the rows."""
    gate = threading.Event()
    asked: list[str] = []

    def slow_overview(catalog, precision, device, runtime="auto"):
        asked.append(precision)
        gate.wait(60)  # (only a safety net: the test opens the gate)
        return overview(catalog, precision, device, runtime=runtime)

    app = make_app(overview_source=slow_overview)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        assert screen.sub_title.endswith("reading the catalog…")
        table = screen.query_one(DataTable)
        assert table.row_count == 0
        await pilot.press("x")  # a delete never waits for a model not seen yet
        assert app.screen is screen
        assert "The catalog is still being read." in notes(app)
        await pilot.press("question_mark")  # the keys work
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "p")
        await pilot.pause()
        assert app.screen is screen and "precision fp32" in screen.sub_title

        gate.set()
        await rows_shown(pilot)
        assert table.row_count == len(app.catalog)
        assert screen.sub_title == (f"precision fp32 · runtime auto · {len(app.catalog)} models")
        # the rows shown are fp32's, read after the key was pressed
        assert asked[-1] == "fp32"
        assert [r.size_mb for r in screen.rows] == [
            r.size_mb for r in overview(app.catalog, "fp32", "auto", runtime="auto")
        ]


def speed_text(screen: CatalogScreen, model_id: str) -> str:
    table = screen.query_one(DataTable)
    return table.get_row(model_id)[7].plain


async def test_a_chat_replys_speed_reaches_the_store_and_the_catalog(tiny_catalog: Path):
    app = make_app(tiny_catalog, overview_source=overview)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        catalog = app.screen
        assert isinstance(catalog, CatalogScreen)
        assert speed_text(catalog, "tiny-llama") == "—"

        await open_chat(pilot, "tiny-llama")
        await send(pilot, "Hello there")
        await rows_shown(pilot)  # the speed row is written, then the rows read again
        with ResultsStore() as store:  # in the real SQLite store
            [speed] = store.speed_runs(model_id="tiny-llama")
        # the catalog knows it already, under the chat
        row = next(r for r in catalog.rows if r.entry.id == "tiny-llama")
        assert row.best_tokens_per_s == speed.tokens_per_s

        await pilot.press("escape")  # back to the catalog: its tok/s column
        await rows_shown(pilot)
        assert app.screen is catalog
        assert (
            speed_text(catalog, "tiny-llama") == speed_cell(speed.tokens_per_s, speed.runtime).plain
        )
