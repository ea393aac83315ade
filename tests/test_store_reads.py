"""The screens that read the results store (Compare, Evaluate's history, the full details)
read it in a thread: while another process holds the store's SQLite file locked, they draw,
say they are reading, answer keys, and show the runs once the lock is released. A read
asked for while one is under way is followed by one more, never run beside it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from app_fixtures import (
    fill_results_store,
    make_app,
    notes,
    results_shown,
    rows_shown,
    screen_text,
)
from textual.widgets import DataTable, Static, Tabs
from textual.worker import WorkerState

from engine.paths import results_db_path
from engine.settings import LoadOptions
from tui import messages as m
from tui.screens.compare import CompareScreen
from tui.screens.details import DetailsScreen
from tui.screens.evaluate import EvaluateScreen
from tui.widgets.eval_task_list import EvalTaskList


@contextmanager
def store_locked() -> Iterator[None]:
    """Another connection holding the store's file exclusively (SQLite's exclusive locking
    mode, in a write transaction): a reader's open waits for it (up to SQLite's busy
    timeout, 10 s) and goes on once it is released. Readers of a WAL database are not held
    up by an ordinary writer; by this lock they are."""
    db = sqlite3.connect(results_db_path(), isolation_level=None)
    try:
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("BEGIN EXCLUSIVE")
        yield
        db.execute("COMMIT")
    finally:
        db.close()


@pytest.fixture
def stored():
    fill_results_store()


def model_labels(screen) -> list[str]:
    table = screen.query_one("#matrix", DataTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def text_of(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_compare_answers_keys_while_the_store_is_locked(stored):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        with store_locked():
            await pilot.press("m")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            assert "Reading the results store…" in text_of(screen, "#cell-info")
            assert "reading the results store…" in screen.sub_title
            await pilot.press("2")  # a tab
            assert screen.query_one(Tabs).active == "time"
            await pilot.press("x")  # export: nothing read yet
            assert any("Nothing to export yet: reading" in n for n in notes(app))
            await pilot.press("6")  # the speed view says so too
            assert "Reading the results store…" in text_of(screen, "#speed-info")
            await pilot.press("2")
            assert not screen.store_read.done and model_labels(screen) == []
        await results_shown(pilot)
        assert model_labels(screen) == ["opt-125m", "pythia-160m", "TinyLlama_v1.1"]
        assert screen.metric == "time"  # the tab chosen meanwhile is kept
        assert "8 of 8 run(s) match the filters" in screen.sub_title
        assert not [n for n in app._notifications if n.title == "Results unavailable"]


async def test_evaluate_history_is_read_while_the_chooser_answers_keys(stored):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        with store_locked():
            screen = EvaluateScreen(app.catalog.get("pythia-160m"), LoadOptions("pythia-160m"))
            app.push_screen(screen)
            await pilot.pause()
            assert "History of Pythia-160M: reading the results store…" in text_of(
                screen, "#history-title"
            )
            chooser = screen.query_one(EvalTaskList)
            assert chooser.highlighted == 0
            await pilot.press("down")
            assert chooser.highlighted == 1
            assert screen.query_one("#history", DataTable).row_count == 0
        await results_shown(pilot)
        assert "4 stored run(s)" in text_of(screen, "#history-title")
        assert screen.query_one("#history", DataTable).row_count == 4


async def test_full_details_add_the_stored_runs_once_read(stored):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        await pilot.press("slash", *"pythia-160m", "enter")
        await pilot.pause()
        with store_locked():
            await pilot.press("enter")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, DetailsScreen)
            assert "evaluations: reading the results store…" in screen_text(app)
        await results_shown(pilot)
        shown = screen_text(app)
        assert "reading" not in shown and "evaluations" in shown and "arc_easy" in shown
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailsScreen)


class CountingCompare(CompareScreen):
    """The real screen, counting the reads it is handed (Textual calls the handlers of
    every class in the MRO, so the screen's own still runs)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[m.ResultsRead] = []

    def on_results_read(self, message: m.ResultsRead) -> None:
        self.reads.append(message)


async def test_a_read_asked_for_during_a_read_follows_it(stored):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        screen = CountingCompare()
        with store_locked():
            app.push_screen(screen)
            await pilot.pause()
            await pilot.press("l", "escape")  # the Arena board and back: read again
            await pilot.pause()
            assert app.screen is screen
            running = [
                w
                for w in app.workers
                if w.node is screen and w.state in (WorkerState.PENDING, WorkerState.RUNNING)
            ]
            assert len(running) == 1  # not two reads side by side
        await results_shown(pilot)
        assert len(screen.reads) == 2 and screen.store_read.done
        assert model_labels(screen) == ["opt-125m", "pythia-160m", "TinyLlama_v1.1"]
