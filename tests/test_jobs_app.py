"""The app and background jobs, with Pilot: the Jobs screen (`j` and the palette), cancel and
resume from it, the memory meter, the chat warning and "in background" on Evaluate."""

from __future__ import annotations

import pytest
from app_fixtures import make_app, make_scripted_app
from fixtures.tasks.helpers import TASKS_DIR
from jobs_app_fixtures import fill_jobs, held_runner_lock
from textual.widgets import Checkbox, DataTable

from engine.jobs import JobSpec, JobStore
from engine.settings import LoadOptions
from tui.screens.evaluate import EvaluateScreen
from tui.screens.jobs import JobsScreen
from tui.widgets.memory_meter import meter_text


@pytest.fixture(autouse=True)
def runner_lock():
    """Held here, as a running runner would hold it: no real runner starts."""
    with held_runner_lock():
        yield


async def read_jobs(pilot) -> None:
    """Let the app's watch read the store, then show what it read."""
    app = pilot.app
    await app.workers.wait_for_complete()  # a read under way
    app.jobs_watch.poll()
    await app.workers.wait_for_complete()
    if isinstance(app.screen, JobsScreen):
        app.screen.show_jobs()
    await pilot.pause()


def notes(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


def cells(screen: JobsScreen) -> list[list[str]]:
    table = screen.query_one(DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_j_lists_every_job_newest_first_with_progress_and_eta():
    ids = fill_jobs()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        await pilot.press("j")
        await read_jobs(pilot)
        screen = app.screen
        assert isinstance(screen, JobsScreen)
        rows = cells(screen)
        assert [r[0] for r in rows] == [
            str(ids[s]) for s in ("queued", "running", "cancelled", "failed", "done")
        ]
        running = rows[1]
        assert running[1] == "running" and running[2].endswith(" 4%")  # 412/2376 of 1 of 4
        # the running task's 300 s, then three more cells at this one's pace: 300 s for the
        # 83 % left of it, so 363 s a cell
        assert running[3] == "23 min"
        assert running[4] == "qwen2.5-0.5b · arc_easy 412/2376"
        assert rows[4][4] == "3 ok, 1 oom, 0 failed" and rows[4][2].endswith("100%")
        assert "stopped without finishing" in rows[3][4]
        text = str(meter_text(app))
        assert "worker none  job 4 · qwen2.5-0.5b · arc_easy 412/2376" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, JobsScreen)


async def test_cancel_and_resume_from_the_screen():
    ids = fill_jobs()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.app.workers.wait_for_complete()
        app.action_jobs()
        await pilot.pause()
        await read_jobs(pilot)
        screen = app.screen
        await pilot.press("c")  # the newest: the queued job
        await app.workers.wait_for_complete()
        await pilot.press("down", "c")  # the running one: asked to stop
        await app.workers.wait_for_complete()
        await pilot.press("down", "down", "r")  # the failed one: queued again
        await app.workers.wait_for_complete()
        await pilot.press("up", "r")  # a cancelled one... is queued again too
        await app.workers.wait_for_complete()
        await pilot.press("down", "down", "c")  # the done one: nothing to cancel
        await read_jobs(pilot)
        with JobStore() as store:
            states = {j.id: (j.state, j.cancel_requested) for j in store.list()}
        assert states[ids["queued"]] == ("cancelled", False)
        assert states[ids["running"]] == ("running", True)
        assert states[ids["failed"]][0] == "queued"
        assert states[ids["cancelled"]][0] == "queued"
        assert states[ids["done"]][0] == "done"
        said = notes(app)
        assert f"Job {ids['queued']} cancelled." in said
        assert f"Cancelling job {ids['running']}: the running task stops within seconds." in said
        assert f"Job {ids['failed']} queued again: it continues where it stopped." in said
        assert f"Job {ids['done']} is done: nothing to cancel." in said
        assert screen.query_one(DataTable).row_count == 5


async def test_opening_chat_while_a_job_runs_warns_that_both_share_the_board():
    fill_jobs()
    app = make_scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await read_jobs(pilot)
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.pause()
        [warning] = [n for n in notes(app) if n.startswith("Job 4 is evaluating")]
        assert "qwen2.5-0.5b on this board: this chat shares its memory" in warning
        assert "the chat needs about" in warning and "the board has 7,620 MB" in warning


async def test_no_warning_without_a_running_job():
    app = make_scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await read_jobs(pilot)
        await pilot.press("c")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not [n for n in notes(app) if "is evaluating" in n]
        assert "job " not in str(meter_text(app))


async def test_in_background_queues_the_ticked_tasks_as_a_job(tiny_catalog):
    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = EvaluateScreen(
            app.catalog.get("tiny-llama"),
            LoadOptions(
                "tiny-llama", precision="fp32", device="cpu", catalog_path=str(tiny_catalog)
            ),
            include_path=str(TASKS_DIR),
        )
        app.push_screen(screen)
        await pilot.pause()
        await pilot.press("space", "down", "space")  # the first two tasks: local ones
        screen.query_one("#background", Checkbox).value = True
        await pilot.pause()
        screen.action_run()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not screen.running  # nothing runs in the app
        assert app.session.state == "none"  # and no model was loaded here
        with JobStore() as store:
            [job] = store.list()
        assert job.state == "queued"
        assert job.spec == JobSpec(
            models=("tiny-llama",),
            tasks=job.spec.tasks,
            limit=100,
            precision="fp32",
            device="cpu",
            include_path=job.spec.include_path,
            catalog_path=str(tiny_catalog),
        )
        assert len(job.spec.tasks) == 2 and str(TASKS_DIR) in job.spec.include_path
        assert any(
            n.startswith(f"Job {job.id} queued: it runs in the background") for n in notes(app)
        )


async def test_the_palette_offers_jobs():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        names = [c.title for c in app.get_system_commands(app.screen)]
        assert "Jobs" in names
        await pilot.pause()
