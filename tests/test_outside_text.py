"""Outside text (names and notes from a catalog overlay, paths, error messages, task names
from an imported results file) with markup, ANSI escapes and control characters, through
every place the app shows it, with notifications on. Each check reads what the terminal
shows: the text literally, control characters as visible symbols (ESC as ␛), nothing
interpreted. Unescaped markup raises MarkupError (the app stops) or vanishes; unescaped
ESC reaches the terminal as a live escape sequence."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from app_fixtures import make_app, notes, results_shown, screen_text
from fixtures.tasks.helpers import TASKS_DIR
from textual.widgets import DataTable, Static

from engine import preferences
from engine.results.store import EvalRun, ResultsStore
from tui.safe_text import visible
from tui.screens.catalog import CatalogScreen
from tui.screens.chat import ChatScreen
from tui.screens.compare import CompareScreen
from tui.screens.details import DetailsScreen
from tui.screens.dialogs import InputScreen
from tui.screens.evaluate import EvaluateScreen
from tui.widgets.transcript import Notice

MARKUP = "[b]Bold[/b] [/] [link=https://x]L[/link]"
ESCAPES = "\x1b[31mred\x1b[0m\x07"
# What the terminal must show for them: the same text; ESC and BEL as control pictures.
MARKUP_SHOWN = ("[b]Bold[/b]", "[/]", "[link=https://x]L[/link]")
ESCAPES_SHOWN = "␛[31mred␛[0m␇"
# A folder name carrying both (no spaces: the checks look for it unbroken).
HOSTILE_DIR = "dir[/]x[b]y\x1b[2Jz"
HOSTILE_DIR_SHOWN = "dir[/]x[b]y␛[2Jz"


def entry(model_id: str, **fields) -> str:
    values = {
        "name": model_id,
        "family": "Test",
        "affiliation": "tests",
        "params": 3_300_000,
        "released": "2026-01",
        "architecture": "llama",
        "kind": "causal",
        "context_length": 2048,
        "license": "apache-2.0",
        "prompt_format": "chat-template",
        "trust_remote_code": False,
        "tags": ["instruct"],
        "facts_from": ["tests"],
    } | fields
    lines = ["[[model]]", f"id = {json.dumps(model_id)}"]
    lines += [f"{key} = {json.dumps(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n\n"


@pytest.fixture
def hostile_overlay(tmp_path: Path) -> tuple[Path, Path]:
    """An overlay whose free-text fields carry markup and escapes: an unavailable model,
    and a local model whose folder (a hostile name) does not exist."""
    missing = tmp_path / HOSTILE_DIR / "model"
    path = tmp_path / "hostile.toml"
    path.write_text(
        entry(
            "hostile-gone",
            name=f"Gone {MARKUP} {ESCAPES}",
            source="unavailable",
            unavailable_reason=f"withdrawn {MARKUP} {ESCAPES}",
            affiliation=f"aff {ESCAPES}",
            license=f"lic {MARKUP}",
            tags=["instruct", "[/]tag"],
            notes=f"notes {MARKUP} {ESCAPES}",
        )
        + entry(
            "hostile-local",
            name=f"Local {MARKUP} {ESCAPES}",
            source="local",
            path=str(missing),
            notes=f"notes {MARKUP}",
        )
    )
    return path, missing


def assert_shown(app, *fragments: str) -> str:
    text = screen_text(app)
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    assert "\x1b" not in text and "\x07" not in text, text
    return text


async def select(pilot, words: str) -> None:
    await pilot.press("slash", *words, "enter")
    await pilot.pause()


async def test_catalog_details_and_notices_show_overlay_text_literally(hostile_overlay):
    overlay, _ = hostile_overlay
    app = make_app(overlay)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await select(pilot, "hostile-gone")
        # the table row and the details panel beside it
        assert_shown(app, "Gone", *MARKUP_SHOWN, ESCAPES_SHOWN, "notes", "withdrawn")
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        shown = assert_shown(app, *MARKUP_SHOWN, ESCAPES_SHOWN, "[/]tag")
        for words in (
            "aff ␛[31mred",
            "lic [b]Bold[/b]",
            "Unavailable: withdrawn [b]Bold[/b]",
            "notes [b]Bold[/b]",
        ):
            assert words in shown, (words, shown)
        await pilot.press("escape")

        for key, words in (
            ("c", "cannot be run: withdrawn"),
            ("d", "is not downloaded from the Hub: withdrawn"),
            ("x", "can be deleted here"),
        ):
            app.clear_notifications()
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, CatalogScreen)
            assert any(words in n for n in notes(app)), notes(app)
            assert_shown(app, *MARKUP_SHOWN, ESCAPES_SHOWN)


async def test_a_load_error_naming_a_hostile_path_is_shown_literally(hostile_overlay):
    """The chat screen's load error: the path of a missing local model folder."""
    overlay, missing = hostile_overlay
    app = make_app(overlay)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await select(pilot, "hostile-local")
        await pilot.press("c")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ChatScreen) and app.session.state == "none"
        [note] = [n for n in app._notifications if n.title == "Could not load the model"]
        assert visible(str(missing)) in note.message and "does not exist" in note.message
        # title bar (model name), status line, transcript notice and the notification
        assert_shown(
            app,
            "Chat · Local [b]Bold[/b]",
            ESCAPES_SHOWN,
            HOSTILE_DIR_SHOWN,
            "not loaded: the local model path",
        )
        path = visible(str(missing))
        assert path in str(screen.query_one("#status", Static).render())
        assert path in str(screen.query_one(Notice).render())


@pytest.fixture
def short_tmp():
    """A folder with a short path: the Evaluate screen shows a task folder's path in a line
    of its own width, and pytest's tmp_path under several test processes (`popen-gw1/`)
    pushed the part this test looks for past the line's end."""
    path = Path(tempfile.mkdtemp(prefix="smollm-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def test_evaluate_shows_folders_and_errors_literally(hostile_overlay, short_tmp):
    overlay, missing = hostile_overlay
    tmp_path = short_tmp
    tasks = tmp_path / "tasks" / HOSTILE_DIR  # "[/]" makes it two folders deep
    shutil.copytree(TASKS_DIR, tasks)
    gone = tmp_path / f"gone-{HOSTILE_DIR}"
    gone.mkdir(parents=True)
    preferences.set_task_folders([str(gone), str(tasks)])
    gone.rmdir()
    app = make_app(overlay)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await select(pilot, "hostile-local")
        await pilot.press("e")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, EvaluateScreen)
        # the vanished saved folder is named in a warning; the task line names the folder
        assert any("no longer exists" in n and visible(str(gone)) in n for n in notes(app))
        shown = assert_shown(
            app, "Evaluate · Local [b]Bold[/b]", f"gone-{HOSTILE_DIR_SHOWN}", "local task from"
        )
        assert shown.count(HOSTILE_DIR_SHOWN) >= 2, shown  # the warning and the task line

        # a folder typed into the task-folder dialog that does not exist: said in the dialog
        await pilot.press("f")
        assert isinstance(app.screen, InputScreen)
        await pilot.press("home", "ctrl+k", *"/nowhere/[/]x[b]y", "enter")
        await pilot.pause()
        assert isinstance(app.screen, InputScreen)
        assert_shown(app, "task folder /nowhere/[/]x[b]y does not exist")
        await pilot.press("escape")

        # running: the model's folder is missing; the error names it, everywhere it shows
        app.clear_notifications()
        await pilot.press("space", "enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        [note] = [n for n in app._notifications if n.title == "Evaluation stopped"]
        assert visible(str(missing)) in note.message
        assert_shown(app, HOSTILE_DIR_SHOWN, "failed:", "the local model path")
        progress = str(screen.query_one("#progress-text", Static).render())
        assert visible(str(missing)) in progress


async def test_stored_task_names_and_errors_are_shown_literally(hostile_overlay):
    """A results file imported from elsewhere can name its tasks anything."""
    overlay, _ = hostile_overlay
    task = f"task{HOSTILE_DIR}"
    with ResultsStore() as store:
        for status, acc, error in (("ok", 0.5, None), ("failed", None, f"boom {MARKUP}")):
            store.add_eval(
                EvalRun(
                    model_id="hostile-local",
                    precision="fp32" if acc else "int8",
                    device="cpu",
                    task=task,
                    status=status,
                    started=1.0,
                    ended=2.0,
                    limit=10,
                    num_fewshot=0,
                    samples=10 if acc else 0,
                    metrics={"acc": acc} if acc else {},
                    error=error,
                    source="import:results_x.json",
                )
            )
    app = make_app(overlay)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("m")
        await results_shown(pilot)
        assert isinstance(app.screen, CompareScreen)
        table = app.screen.query_one("#matrix", DataTable)
        # The task's name shown literally, then its metric's direction.
        assert [str(c.label) for c in table.columns.values()][2] == (
            task.replace("\x1b", "␛") + " ↑"
        )
        assert_shown(app, f"task{HOSTILE_DIR_SHOWN}")
        await pilot.press("escape")

        await select(pilot, "hostile-local")
        await pilot.press("enter")  # the details list every stored run
        await results_shown(pilot)
        assert isinstance(app.screen, DetailsScreen)
        assert_shown(app, f"task{HOSTILE_DIR_SHOWN}"[:20])
        await pilot.press("escape", "e")
        await results_shown(pilot)
        assert isinstance(app.screen, EvaluateScreen)  # its history table
        assert_shown(app, "boom [b]Bold[/b]", f"task{HOSTILE_DIR_SHOWN}"[:12])
