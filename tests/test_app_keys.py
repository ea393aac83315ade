"""The catalog's keys (e, m, s) and the Evaluate screen driven only by keys, as a user
would: the task folder typed into its dialog, tasks ticked with space, the form filled by
typing, runs started with enter and ctrl+r, through the real worker."""

from __future__ import annotations

from app_fixtures import make_app, notes
from fixtures.tasks.helpers import TASKS_DIR
from test_system_screen import fixed_sampler
from textual.widgets import DataTable, Static

from engine import preferences
from engine.results.store import ResultsStore
from tui.screens.catalog import CatalogScreen
from tui.screens.compare import CompareScreen
from tui.screens.dialogs import InputScreen
from tui.screens.evaluate import EvaluateScreen
from tui.screens.system import SystemScreen


async def test_catalog_keys_open_evaluate_compare_and_system(tiny_catalog):
    app = make_app(tiny_catalog, telemetry=fixed_sampler())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"tiny-llama", "enter", "e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EvaluateScreen) and screen.entry.id == "tiny-llama"
        assert screen.options.model_id == "tiny-llama" and app.session.state == "none"
        await pilot.press("escape", "escape", "m")  # back, clear the filter, Compare
        await pilot.pause()
        assert isinstance(app.screen, CompareScreen)
        await pilot.press("escape", "s")
        await pilot.pause()
        assert isinstance(app.screen, SystemScreen)
        assert "loaded tiny-llama fp32" in str(app.screen.query_one("#marks", Static).render())
        await pilot.press("escape")
        assert isinstance(app.screen, CatalogScreen)


async def test_system_key_without_telemetry_says_so():
    app = make_app(telemetry=None)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("s")
        assert isinstance(app.screen, CatalogScreen)
        assert notes(app) == ["Telemetry is off in this session."]


def cells(table: DataTable, column: int) -> list[str]:
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def finish(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def test_evaluate_driven_by_keys(tiny_catalog):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"tiny-llama", "enter", "e")
        await pilot.pause()
        screen = app.screen
        results = screen.query_one("#results", DataTable)
        progress = screen.query_one("#progress-text", Static)

        # the task folder, typed into its dialog
        await pilot.press("f")
        assert isinstance(app.screen, InputScreen)
        await pilot.press(*str(TASKS_DIR), "enter")
        await pilot.pause()
        assert app.screen is screen and preferences.task_folders() == [str(TASKS_DIR)]

        # fx_choice2, fx_choice4, fx_yesno are listed first: tick the third, type the form
        await pilot.press("down", "down", "space", "tab", "tab")
        assert app.focused.id == "limit"
        await pilot.press("home", "ctrl+k", "0", "enter")  # a limit of 0 is refused
        assert any("at least 1" in n for n in notes(app)) and not screen.running
        await pilot.press("backspace", "3", "tab", "1", "enter")  # limit 3, 1-shot: run
        await finish(pilot)
        assert cells(results, 0) == ["fx_yesno"] and cells(results, 1) == ["ok"]
        with ResultsStore() as store:
            [row] = store.eval_runs(model_id="tiny-llama")
        assert (row.task, row.limit, row.samples, row.num_fewshot, row.precision) == (
            "fx_yesno",
            3,
            3,
            1,
            "fp32",
        )

        # full, chosen on the radio buttons, started with ctrl+r
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused.id == "mode"
        await pilot.press("down", "enter", "ctrl+r")
        await finish(pilot)
        with ResultsStore() as store:
            rows = store.eval_runs(model_id="tiny-llama")
        assert [(r.task, r.limit, r.samples) for r in rows] == [
            ("fx_yesno", 3, 3),
            ("fx_yesno", None, 18),
        ]

        # again: already measured, so skipped; ticking re-run measured runs it again
        await pilot.press("ctrl+r")
        await finish(pilot)
        assert cells(results, 1) == ["skipped"] and "1 skipped" in str(progress.render())
        await pilot.press("tab", "tab", "tab", "space", "ctrl+r")
        await finish(pilot)
        assert cells(results, 1) == ["ok"]
        with ResultsStore() as store:
            assert [r.limit for r in store.eval_runs(model_id="tiny-llama")] == [3, None, None]
