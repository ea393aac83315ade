"""SVG snapshots of the Evaluate and Compare screens at 80x24 and 120x40, on a results
store filled with fixed runs (baselines in tests/__snapshots__/test_snapshots_eval)."""

from __future__ import annotations

import time

import pytest
from app_fixtures import fill_results_store, make_app, results_shown, steady
from fixtures.tasks.helpers import TASKS_DIR

from engine.settings import LoadOptions
from tui.screens.compare import CompareScreen
from tui.screens.evaluate import EvaluateScreen

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def fixed_store_and_clock(monkeypatch):
    """Fixed rows, and history times shown in UTC whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    fill_results_store()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_evaluate_task_chooser(snap_compare, size):
    async def open_evaluate(pilot):
        app = pilot.app
        app.push_screen(
            EvaluateScreen(
                app.catalog.get("pythia-160m"),
                LoadOptions("pythia-160m"),
                include_path=str(TASKS_DIR),
            )
        )
        await results_shown(pilot)
        await pilot.press("down", "space", "down", "down", "down", "space")
        await steady(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=open_evaluate)


def test_evaluate_task_folder_dialog(snap_compare):
    """The `f` dialog at the smallest size (nothing saved yet: the placeholder shows)."""

    async def open_dialog(pilot):
        app = pilot.app
        app.push_screen(EvaluateScreen(app.catalog.get("pythia-160m"), LoadOptions("pythia-160m")))
        await results_shown(pilot)
        await pilot.press("f")
        await steady(pilot)

    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=open_dialog)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_compare_accuracy(snap_compare, size):
    async def open_compare(pilot):
        pilot.app.push_screen(CompareScreen())
        await results_shown(pilot)
        await pilot.press("down", "right", "right")  # pythia-160m ARC-e: the flagged cell
        await steady(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=open_compare)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_compare_time_tab(snap_compare, size):
    async def open_compare(pilot):
        pilot.app.push_screen(CompareScreen())
        await results_shown(pilot)
        await pilot.press("2")
        await steady(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=open_compare)
