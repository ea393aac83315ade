"""SVG snapshots of the Jobs screen at 80x24 and 120x40, on fixed jobs in each state
(baselines in tests/__snapshots__/test_jobs_snapshots)."""

from __future__ import annotations

import time

import pytest
from app_fixtures import make_app
from jobs_app_fixtures import fill_jobs, held_runner_lock

from tui.screens.jobs import JobsScreen

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def fixed_jobs_and_clock(monkeypatch):
    """Fixed jobs (no runner starts: the lock is held), and their times shown in UTC
    whatever the machine's zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    fill_jobs()
    with held_runner_lock():
        yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_jobs_screen(snap_compare, size):
    async def open_jobs(pilot):
        app = pilot.app
        await app.workers.wait_for_complete()  # the app's first read of the jobs
        await pilot.press("j")
        await pilot.pause()
        assert isinstance(app.screen, JobsScreen)
        app.screen.show_jobs()
        await pilot.press("down", "down", "down")  # the failed job: its error below
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=open_jobs)
