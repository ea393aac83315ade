"""The Evaluate screen with Pilot: a real evaluation of the fixture tasks on the tiny model
through the real worker, stored like the CLI stores it; cancel; a killed worker; history."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from app_fixtures import make_app
from fixtures.tasks.helpers import TASKS_DIR
from textual.widgets import DataTable, Input, RadioButton, Static

from engine.results.store import EvalRun, ResultsStore
from engine.settings import LoadOptions
from tui.screens.catalog import CatalogScreen
from tui.screens.evaluate import EvalFinished, EvalProgressed, EvaluateScreen, parse_spec
from tui.widgets.eval_task_list import EvalTaskList


@pytest.fixture(autouse=True, scope="module")
def resource_tracker_running():
    """multiprocessing starts its resource tracker on the first spawn, passing it
    sys.stderr.fileno(); inside a running Textual app stderr is captured (fileno -1) and
    that start fails with "bad value(s) in fds_to_keep". Start it before the app does.
    (Reported to the lead: engine/worker/client.py should guard against this.)"""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


class WatchedEvaluate(EvaluateScreen):
    """The real screen, plus events a test can await instead of sleeping. (Textual calls
    the handlers of every class in the MRO, so the screen's own still run.)"""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.progressed = asyncio.Event()
        self.finished: list[EvalFinished] = []

    def on_eval_progressed(self, message: EvalProgressed) -> None:
        self.progressed.set()

    def on_eval_finished(self, message: EvalFinished) -> None:
        self.finished.append(message)


def open_screen(app, tiny_catalog, cls=WatchedEvaluate) -> EvaluateScreen:
    screen = cls(app.catalog.get("tiny-llama"),
                 LoadOptions("tiny-llama", catalog_path=str(tiny_catalog)),
                 include_path=str(TASKS_DIR))
    app.push_screen(screen)
    return screen


async def choose(pilot, screen, tasks, *, full=False, limit="8", fewshot=""):
    chooser = screen.query_one(EvalTaskList)
    chooser.deselect_all()
    for task in tasks:
        chooser.select(task)
    screen.query_one("#full" if full else "#quick", RadioButton).value = True
    screen.query_one("#limit", Input).value = limit
    screen.query_one("#fewshot", Input).value = fewshot
    chooser.focus()
    await pilot.pause()


def stored_rows() -> list[EvalRun]:
    with ResultsStore() as store:
        return store.eval_runs(model_id="tiny-llama")


def cells(table: DataTable, column: int) -> list[str]:
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def test_run_stores_each_task_shows_results_and_history_then_cancel(tiny_catalog):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = open_screen(app, tiny_catalog)
        await pilot.pause()
        assert "fx_choice4" in [o.value for o in screen.query_one(EvalTaskList)._options]
        await choose(pilot, screen, ["fx_choice4", "fx_yesno"], limit="8", fewshot="1")
        await pilot.press("enter")  # enter in the chooser runs the ticked tasks
        await pilot.pause()
        assert screen.running
        await app.workers.wait_for_complete()
        await pilot.pause()

        assert [f.outcome for f in screen.finished] == ["done"]
        results = screen.query_one("#results", DataTable)
        assert cells(results, 0) == ["fx_choice4", "fx_yesno"]
        assert cells(results, 1) == ["ok", "ok"]
        assert all(" ± " in c for c in cells(results, 2))
        # stored exactly as the CLI stores it: model, settings, figures, versions
        rows = {r.task: r for r in stored_rows()}
        assert set(rows) == {"fx_choice4", "fx_yesno"}
        for row in rows.values():
            assert row.status == "ok" and row.limit == 8 and row.samples == 8
            assert row.num_fewshot == 1 and row.precision == "fp32" and row.device == "cpu"
            assert row.time_per_sample_ms > 0 and row.peak_memory_mb > 0
            assert row.model_size_mb > 0 and row.lm_eval_version
        assert {r.id for r in screen.stored} == {
            r.id for r in rows.values()}
        assert "acc" in rows["fx_choice4"].metrics
        history = screen.query_one("#history", DataTable)
        assert history.row_count == 2
        assert "2 stored run(s)" in str(screen.query_one("#history-title", Static).render())

        # cancel mid-run: full runs of all three tasks, Esc at the first progress event
        await choose(pilot, screen, ["fx_choice4", "fx_yesno", "fx_choice2"], full=True)
        screen.progressed.clear()
        await pilot.press("enter")
        await asyncio.wait_for(screen.progressed.wait(), timeout=60)
        asked = time.monotonic()
        await pilot.press("escape")
        assert isinstance(app.screen, EvaluateScreen)  # Esc cancels, it does not leave
        await app.workers.wait_for_complete()
        took = time.monotonic() - asked
        await pilot.pause()
        assert took < 10, f"cancel took {took:.1f} s"
        assert screen.finished[-1].outcome == "cancelled"
        statuses = cells(results, 1)
        assert statuses[-1] == "cancelled" and len(statuses) < 3
        assert sorted(r.status for r in stored_rows()).count("cancelled") == 1
        assert history.row_count == 2 + len(statuses)
        assert app.session.state == "ready"  # the model stays loaded for the next run

        await pilot.press("escape")  # nothing running: back
        assert isinstance(app.screen, CatalogScreen)


async def test_killed_worker_gives_an_oom_row_and_the_next_run_reloads(tiny_catalog):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = open_screen(app, tiny_catalog)
        await pilot.pause()
        await choose(pilot, screen, ["fx_choice4", "fx_yesno"], full=True)
        await pilot.press("enter")
        await asyncio.wait_for(screen.progressed.wait(), timeout=60)
        # What the kernel's OOM killer does on the Jetson: SIGKILL to the worker.
        os.kill(app.session.client.pid, signal.SIGKILL)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.finished[-1].outcome == "died"
        [row] = stored_rows()
        assert row.status == "oom" and "out of memory" in row.error
        assert app.session.state == "died"
        assert "died" in str(screen.query_one("#status", Static).render())

        await choose(pilot, screen, ["fx_choice2"], limit="4")
        await pilot.press("enter")  # reloads the model in a fresh worker, then runs
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.finished[-1].outcome == "done"
        assert cells(screen.query_one("#results", DataTable), 1) == ["ok"]
        assert app.session.state == "ready"


async def test_form_errors_are_one_clear_message_and_nothing_runs(tiny_catalog):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = open_screen(app, tiny_catalog, cls=EvaluateScreen)
        await pilot.pause()
        await pilot.press("enter")
        await choose(pilot, screen, ["fx_yesno"], limit="0")
        await pilot.press("enter")
        notes = [n.message for n in app._notifications]
        assert any("tick at least one task" in n for n in notes), notes
        assert any("at least 1" in n for n in notes), notes
        assert not screen.running and app.session.state == "none"


def test_parse_spec():
    spec = parse_spec(["fx_yesno"], False, "", "", None)
    assert spec.limit == 100 and spec.num_fewshot is None and spec.include_path is None
    spec = parse_spec(["a", "b"], True, "5", "3", "/x")
    assert spec.limit is None and spec.num_fewshot == 3 and spec.tasks == ("a", "b")
    with pytest.raises(Exception, match="few-shot"):
        parse_spec(["a"], False, "5", "-1", None)


async def test_task_availability_and_details_are_shown(tiny_catalog):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = open_screen(app, tiny_catalog, cls=EvaluateScreen)
        await pilot.pause()
        chooser = screen.query_one(EvalTaskList)
        prompts = {o.value: str(o.prompt) for o in chooser._options}
        assert "local task" in prompts["fx_choice4"]
        assert "not cached" in prompts["arc_easy"]  # the test HF_HOME is empty
        chooser.highlighted = [o.value for o in chooser._options].index("mmlu")
        await pilot.pause()
        info = str(screen.query_one("#task-info", Static).render())
        assert "cais/mmlu" in info and "5-shot" in info and "needs network" in info
