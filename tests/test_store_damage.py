"""A damaged results store: truncated, garbage, or broken pages behind a valid header.

Each command says so in one line that names the file and the `mv` that moves it aside;
the app still opens and chats; `doctor` runs PRAGMA quick_check; and the file's bytes are
exactly what they were (never migrated, written or deleted)."""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

import pytest
from app_fixtures import make_app, results_shown, rows_shown
from fixtures.tasks.helpers import TASKS_DIR
from textual.widgets import DataTable, Input, Static

from engine import doctor
from engine.errors import SmollmError
from engine.paths import results_db_path
from engine.results.health import StoreDamaged
from engine.results.store import EvalRun, ResultsStore, SpeedRun, ensure_writable
from engine.settings import LoadOptions

KINDS = ("truncated", "garbage", "broken-pages")


def make_damaged_store(kind: str, path: Path | None = None) -> Path:
    """A real store with rows (several pages), then damaged as ``kind``."""
    path = path or results_db_path()
    with ResultsStore(path) as store:
        for n in range(60):
            store.add_eval(
                EvalRun(
                    model_id=f"model-{n % 5}",
                    precision="fp32",
                    device="cpu",
                    task="boolq",
                    status="ok",
                    started=n,
                    ended=n + 1,
                    metrics={"acc": 0.5, "acc_stderr": 0.05},
                    error="x" * 400,
                )
            )
    data = path.read_bytes()
    page = int.from_bytes(data[16:18], "big")
    assert len(data) >= 6 * page  # room to break pages in the middle
    rng = random.Random(f"{kind}-11")
    if kind == "truncated":
        damaged = data[: len(data) // 2 + 123]
    elif kind == "garbage":
        damaged = rng.randbytes(len(data))
    else:  # page 1 (header and schema) intact, the pages after it overwritten
        damaged = data[:page] + rng.randbytes(len(data) - 2 * page) + data[-page:]
    path.write_bytes(damaged)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_one_line_naming(out, path: Path) -> None:
    assert out.returncode == 1, out.stderr + out.stdout
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert f"the results store {path} is damaged" in out.stderr
    assert f"mv {path} {path}.damaged-" in out.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_report_import_and_eval_say_so_and_leave_the_file_as_it_is(
    kind, cli_env, tiny_catalog, tmp_path
):
    path = make_damaged_store(kind)
    before = digest(path)
    results = tmp_path / "results_x.json"
    results.write_text('{"results": {"boolq": {"acc,none": 0.5}}, "date": 5}')

    report = cli(cli_env, "report")
    assert_one_line_naming(report, path)
    assert_one_line_naming(cli(cli_env, "import", str(results)), path)
    evaluated = cli(
        cli_env,
        "--catalog",
        str(tiny_catalog),
        "eval",
        "tiny-llama",
        "--tasks",
        "fx_yesno",
        "--limit",
        "2",
        "--include-path",
        str(TASKS_DIR),
        "--in-process",
    )
    assert_one_line_naming(evaluated, path)
    assert "loaded" not in evaluated.stdout  # refused before any model loads
    assert digest(path) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["results.db"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_engine_never_migrates_or_writes_a_damaged_store(kind, tmp_path):
    path = make_damaged_store(kind, tmp_path / "results.db")
    before = digest(path)
    for opening in (
        lambda: ResultsStore(path),
        lambda: ResultsStore(path, read_only=True),
        lambda: ensure_writable(path),
    ):
        with pytest.raises(StoreDamaged) as caught:
            opening()
        assert str(path) in str(caught.value)
    assert digest(path) == before


def test_doctor_runs_quick_check_and_says_how_to_move_it_aside():
    path = make_damaged_store("broken-pages")
    before = digest(path)
    check = doctor._results_store()
    assert check.status == doctor.PROBLEM
    assert str(path) in check.detail and "damaged" in check.detail
    assert check.fix.startswith(f"move it aside (a new store is started): mv {path} ")
    assert digest(path) == before


def test_doctor_on_a_sound_store():
    with ResultsStore() as store:
        store.add_eval(
            EvalRun(
                model_id="m",
                precision="fp32",
                device="cpu",
                task="boolq",
                status="ok",
                started=1,
                ended=2,
            )
        )
    check = doctor._results_store()
    assert check.status == doctor.OK and "quick_check ok, 1 evaluation(s)" in check.detail


def test_the_move_aside_command_restores_a_working_store(cli_env):
    """The command from the message, run as given, moves the file aside: the next run
    starts a new store and the damaged one is kept, unchanged."""
    path = make_damaged_store("garbage")
    before = digest(path)
    message = cli(cli_env, "report").stderr
    command = message.split("moved aside (a new, empty store is then started): ")[1].strip()
    subprocess.run(command, shell=True, check=True)
    [kept] = path.parent.glob("results.db.damaged-*")
    assert digest(kept) == before
    with ResultsStore() as store:
        assert store.eval_runs() == []
    assert cli(cli_env, "report").returncode == 2  # "no results stored yet"


def test_chat_speed_on_a_damaged_store_is_refused_not_written(tmp_path):
    path = make_damaged_store("broken-pages", tmp_path / "results.db")
    before = digest(path)
    with pytest.raises(SmollmError):
        with ResultsStore(path) as store:
            store.add_speed(
                SpeedRun(
                    model_id="m",
                    precision="fp32",
                    device="cpu",
                    prompt_tokens=1,
                    new_tokens=1,
                    tokens_per_s=1.0,
                )
            )
    assert digest(path) == before


@pytest.fixture
def resource_tracker_running():
    """As in test_app_evaluate: start multiprocessing's tracker before the app captures
    stderr, so that the worker can be spawned from inside the app."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


async def test_the_app_opens_chats_and_says_why_results_are_missing(
    tiny_catalog, resource_tracker_running
):
    from engine.memory.overview import overview
    from tui.screens.catalog import CatalogScreen
    from tui.screens.chat import ChatScreen
    from tui.screens.compare import CompareScreen
    from tui.screens.evaluate import EvaluateScreen
    from tui.widgets.eval_task_list import EvalTaskList
    from tui.widgets.transcript import ReplyTurn

    path = make_damaged_store("broken-pages")
    before = digest(path)
    app = make_app(tiny_catalog, overview_source=overview)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        catalog = app.screen
        assert isinstance(catalog, CatalogScreen) and len(catalog.rows) > 20
        notes = [n.message for n in app._notifications]
        assert sum(f"the results store {path} is damaged" in n for n in notes) == 1
        assert any(f"mv {path} " in n for n in notes)
        assert all(r.best_avg_accuracy is None and r.results_problem for r in catalog.rows)

        await pilot.press("m")  # Compare: empty, and why
        await results_shown(pilot)
        assert isinstance(app.screen, CompareScreen)
        assert app.screen.query_one("#matrix", DataTable).row_count == 0
        info = str(app.screen.query_one("#cell-info", Static).render())
        assert "results store is unavailable" in info and "doctor" in info
        await pilot.press("escape")

        # Evaluate: its history says why; a run is refused before the model loads
        app.push_screen(
            EvaluateScreen(
                app.catalog.get("tiny-llama"),
                LoadOptions("tiny-llama", catalog_path=str(tiny_catalog)),
                include_path=str(TASKS_DIR),
            )
        )
        await results_shown(pilot)
        screen = app.screen
        title = str(screen.query_one("#history-title", Static).render())
        assert "results store is unavailable" in title
        screen.query_one(EvalTaskList).select("fx_yesno")
        screen.query_one("#limit", Input).value = "2"
        screen.action_run()
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.session.info is None  # nothing was loaded
        assert any("damaged" in n.message and n.severity == "error" for n in app._notifications)
        await pilot.press("escape")

        # Chat works: a real reply from the tiny model; its speed is simply not kept
        await pilot.press("slash", *"tiny-llama", "enter", "c")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert isinstance(app.screen, ChatScreen) and app.session.state == "ready"
        app.screen.query_one("#set-max_new_tokens", Input).value = "8"
        await pilot.pause()
        await pilot.press(*"Hello", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query(ReplyTurn).last().text
    assert digest(path) == before


def test_a_store_that_cannot_be_opened_is_not_called_damaged(cli_env):
    """A file that cannot be read at all (here a symlink loop, which even root cannot
    open) is a permissions or file-system problem: no `mv`, and nothing is made."""
    path = results_db_path()
    path.parent.mkdir(parents=True)
    path.symlink_to(path.name)  # results.db -> results.db
    out = cli(cli_env, "report")
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert f"the results store {path} cannot be opened" in out.stderr
    assert "damaged" not in out.stderr and "mv " not in out.stderr
    from engine.catalog.entries import load_catalog
    from engine.memory.overview import overview

    rows = overview(load_catalog(None, use_user_overlay=False), "fp32", "cpu")
    assert rows and all("cannot be opened" in r.results_problem for r in rows)
    assert path.is_symlink() and sorted(p.name for p in path.parent.iterdir()) == [path.name]


async def test_a_damaged_store_is_told_once_though_its_mv_command_changes_each_second(tiny_catalog):
    """The message names a time-stamped `mv` (and SQLite's detail): two reads a second
    apart give two texts for one problem, and the user is told once."""
    from engine.results import health

    path = make_damaged_store("broken-pages")
    first = str(health.damaged(path, "database disk image is malformed"))
    later = first.replace(
        health.move_aside_command(path), health.move_aside_command(path, stamp="20990101-000000")
    )
    assert first != later
    app = make_app(tiny_catalog)
    async with app.run_test(size=(80, 24)) as pilot:
        app.store_problem(first)
        app.store_problem(later)
        await pilot.pause()
        told = [n.message for n in app._notifications if "is damaged" in n.message]
        assert told == [first]
