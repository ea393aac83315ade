"""The Evaluate screen with Pilot: a real evaluation of the fixture tasks on the tiny model
through the real worker, stored like the CLI stores it; cancel; a killed worker; history;
the saved task-folder setting; skipping cells already measured."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
from app_fixtures import make_app, results_shown
from fixtures.tasks.helpers import TASKS_DIR
from telemetry_fakes import ScriptedReader
from textual.widgets import Checkbox, DataTable, Input, RadioButton, Static

from engine import preferences
from engine.errors import UsageError
from engine.results.store import EvalRun, ResultsStore
from engine.settings import LoadOptions
from engine.telemetry import ReaderChain, Sampler
from tui.messages import EvalFinished, EvalProgressed
from tui.screens.catalog import CatalogScreen
from tui.screens.dialogs import InputScreen
from tui.screens.evaluate import EvaluateScreen
from tui.widgets.eval_form import parse_spec
from tui.widgets.eval_task_list import EvalTaskList


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
    screen = cls(
        app.catalog.get("tiny-llama"),
        LoadOptions("tiny-llama", catalog_path=str(tiny_catalog)),
        include_path=str(TASKS_DIR),
    )
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
        assert {r.id for r in screen.stored} == {r.id for r in rows.values()}
        assert "acc" in rows["fx_choice4"].metrics
        await results_shown(pilot)  # the history, read again after the run
        history = screen.query_one("#history", DataTable)
        assert history.row_count == 2
        assert "2 stored run(s)" in str(screen.query_one("#history-title", Static).render())

        # cancel mid-run: full runs of all three tasks, Esc at the first progress event
        await choose(pilot, screen, ["fx_choice4", "fx_yesno", "fx_choice2"], full=True)
        screen.progressed.clear()
        await pilot.press("enter")
        await asyncio.wait_for(screen.progressed.wait(), timeout=60)
        await pilot.press("escape")
        assert isinstance(app.screen, EvaluateScreen)  # Esc cancels, it does not leave
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.finished[-1].outcome == "cancelled"
        statuses = cells(results, 1)
        assert statuses[-1] == "cancelled" and len(statuses) < 3
        assert sorted(r.status for r in stored_rows()).count("cancelled") == 1
        await results_shown(pilot)
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


async def test_a_model_that_does_not_load_is_said_and_nothing_is_stored(tiny_catalog, tmp_path):
    """A failed load is the app's model state (as in chat), not a measured cell."""
    from tiny_models import overlay_text

    overlay = tmp_path / "gone.toml"
    gone = overlay_text({"gone-llama": tmp_path / "no-such-model"})
    overlay.write_text(tiny_catalog.read_text() + gone)
    app = make_app(overlay)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = WatchedEvaluate(
            app.catalog.get("gone-llama"),
            LoadOptions("gone-llama", catalog_path=str(overlay)),
            include_path=str(TASKS_DIR),
        )
        app.push_screen(screen)
        await pilot.pause()
        await choose(pilot, screen, ["fx_yesno", "fx_choice2"], limit="2")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        [finished] = screen.finished
        assert finished.outcome == "failed" and "no-such-model" in (finished.message or "")
        progress = str(screen.query_one("#progress-text", Static).render())
        assert progress.startswith("failed:") and "no-such-model" in progress
        # the model was never measured: no failed rows in the results or the store
        assert screen.query_one("#results", DataTable).row_count == 0
        with ResultsStore() as store:
            assert store.eval_runs() == []


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
    with pytest.raises(UsageError, match="few-shot"):
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


# ---- the task-folder setting -------------------------------------------------------------


def listed(screen) -> list[str]:
    return [o.value for o in screen.query_one(EvalTaskList)._options]


async def set_folders_in_dialog(pilot, text: str) -> None:
    await pilot.press("f")
    dialog = pilot.app.screen
    assert isinstance(dialog, InputScreen)
    dialog.query_one(Input).value = text
    dialog.query_one(Input).focus()
    await pilot.press("enter")
    await pilot.pause()


async def test_task_folder_dialog_lists_the_folders_tasks_and_keeps_them(tiny_catalog, tmp_path):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        options = LoadOptions("tiny-llama", catalog_path=str(tiny_catalog))
        screen = EvaluateScreen(app.catalog.get("tiny-llama"), options)
        app.push_screen(screen)
        await pilot.pause()
        assert "fx_yesno" not in listed(screen) and listed(screen)[0] == "arc_easy"

        # Esc in the dialog changes nothing
        await pilot.press("f")
        assert isinstance(app.screen, InputScreen)
        await pilot.press("escape")
        assert app.screen is screen and preferences.task_folders() == []

        await set_folders_in_dialog(pilot, str(TASKS_DIR))
        assert app.screen is screen
        assert listed(screen)[:3] == ["fx_choice2", "fx_choice4", "fx_yesno"]
        assert listed(screen)[3] == "arc_easy"
        prompts = {o.value: str(o.prompt) for o in screen.query_one(EvalTaskList)._options}
        assert "local task" in prompts["fx_yesno"]
        info = str(screen.query_one("#task-info", Static).render())
        assert "fx_choice2" in info and f"local task from {TASKS_DIR}" in info
        assert preferences.task_folders() == [str(TASKS_DIR)]
        assert any("3 local task(s) from 1 saved folder" in n.message for n in app._notifications)

        # a bad folder: the dialog says why and stays open with the text; nothing saved
        typed = f"{TASKS_DIR}{os.pathsep}{tmp_path / 'nope'}"
        await set_folders_in_dialog(pilot, typed)
        dialog = app.screen
        assert isinstance(dialog, InputScreen) and dialog.query_one(Input).value == typed
        problem = str(dialog.query_one("#problem", Static).render())
        assert "does not exist" in problem and "nope" in problem
        assert preferences.task_folders() == [str(TASKS_DIR)]
        await pilot.press("escape")
        assert app.screen is screen and "fx_yesno" in listed(screen)

        # a new screen (and the eval command) sees the saved folder
        await pilot.press("escape")
        second = EvaluateScreen(app.catalog.get("tiny-llama"), options)
        app.push_screen(second)
        await pilot.pause()
        assert listed(second)[:3] == ["fx_choice2", "fx_choice4", "fx_yesno"]
        # the dialog opens with the saved folder; emptied, it clears the setting
        await pilot.press("f")
        assert app.screen.query_one(Input).value == str(TASKS_DIR)
        await pilot.press("escape")
        await set_folders_in_dialog(pilot, "")
        assert preferences.task_folders() == [] and "fx_yesno" not in listed(second)


async def test_a_vanished_saved_folder_is_a_warning_not_an_error(tiny_catalog, tmp_path):
    folder = tmp_path / "gone"
    folder.mkdir()
    preferences.set_task_folders([str(folder), str(TASKS_DIR)])
    folder.rmdir()
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = open_screen(app, tiny_catalog, cls=EvaluateScreen)
        await pilot.pause()
        assert "fx_yesno" in listed(screen)
        notes = [n.message for n in app._notifications]
        assert any(str(folder) in n and "press f" in n for n in notes), notes


# ---- skipping what is already measured ---------------------------------------------------


def measured(task: str, limit: int) -> EvalRun:
    now = time.time()
    return EvalRun(
        model_id="tiny-llama",
        precision="fp32",
        device="cpu",
        task=task,
        status="ok",
        started=now - 5,
        ended=now,
        num_fewshot=0,
        limit=limit,
        samples=limit,
        metrics={"acc": 0.5, "acc_stderr": 0.1},
        time_per_sample_ms=10.0,
        peak_memory_mb=100.0,
        model_size_mb=1.0,
    )


async def test_cells_already_measured_are_skipped_unless_rerun_is_ticked(tiny_catalog):
    with ResultsStore() as store:
        store.add_eval(measured("fx_yesno", 3))
        store.add_eval(measured("fx_choice4", 8))  # another limit: not the same cell
    board = [{"ram_total_mb": 7619.6, "ram_used_mb": 2000.0 + 10 * i} for i in range(400)]
    sampler = Sampler(ReaderChain([("jtop", lambda: ScriptedReader(board))]))
    app = make_app(tiny_catalog, telemetry=sampler)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = open_screen(app, tiny_catalog)
        await pilot.pause()
        results = screen.query_one("#results", DataTable)
        progress = screen.query_one("#progress-text", Static)

        await choose(pilot, screen, ["fx_choice4", "fx_yesno"], limit="3")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.finished[-1].outcome == "done"
        assert cells(results, 0) == ["fx_yesno", "fx_choice4"]
        assert cells(results, 1) == ["skipped", "ok"]
        assert "already measured" in cells(results, 2)[0]
        summary = str(progress.render())
        assert "1 of 1 task(s) ok" in summary and "1 skipped (already measured)" in summary
        ran = [r for r in stored_rows() if r.limit == 3]
        assert sorted(r.task for r in ran) == ["fx_choice4", "fx_yesno"]  # one new row
        new = next(r for r in ran if r.task == "fx_choice4")
        assert new.precision == "fp32" and new.device == "cpu"
        # the load is marked on the System charts, and the sampler gave the run its peak
        assert any(mark.text.startswith("loaded tiny-llama") for mark in sampler.marks())
        assert new.peak_board_mb is not None and new.peak_board_mb >= 2000.0

        # nothing left to run: a clear message, no evaluation
        screen.progressed.clear()
        await choose(pilot, screen, ["fx_yesno", "fx_choice4"], limit="3")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.finished[-1].outcome == "done"
        assert "re-run measured" in (screen.finished[-1].message or "")
        assert not screen.progressed.is_set()
        assert cells(results, 1) == ["skipped", "skipped"]
        assert "2 skipped" in str(progress.render())
        assert len(stored_rows()) == 3  # two stored before, one measured above

        # ticked: measured again
        screen.query_one("#rerun", Checkbox).value = True
        await choose(pilot, screen, ["fx_yesno"], limit="3")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert cells(results, 0) == ["fx_yesno"] and cells(results, 1) == ["ok"]
        assert "skipped" not in str(progress.render())
        assert [r.task for r in stored_rows() if r.limit == 3].count("fx_yesno") == 2


async def test_nothing_left_to_run_says_so_without_loading_the_model(tiny_catalog):
    with ResultsStore() as store:
        store.add_eval(measured("fx_yesno", 3))
        store.add_eval(measured("fx_choice4", 3))
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = open_screen(app, tiny_catalog)
        await pilot.pause()
        await choose(pilot, screen, ["fx_yesno", "fx_choice4"], limit="3")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.finished[-1].outcome == "done"
        # No worker was started and nothing was loaded.
        assert app.session._client is None and app.session.state == "none"
        assert "the model was not loaded" in (screen.finished[-1].message or "")
        assert cells(screen.query_one("#results", DataTable), 1) == ["skipped", "skipped"]
        assert "2 skipped" in str(screen.query_one("#progress-text", Static).render())
        assert "loads (auto) when you run" in str(screen.query_one("#status", Static).render())
        assert len(stored_rows()) == 2
