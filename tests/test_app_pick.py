"""The Pick screen (b on the catalog, or the command palette) on a real results store: its
table's front is the one `pick --json` gives, the limits typed change it, the estimates are
listed apart, Enter opens chat with that configuration; snapshots at 80x24 and 120x40."""

from __future__ import annotations

import json

import pytest
from app_fixtures import make_scripted_app, notes, results_shown, rows_shown, steady
from pick_fixtures import fill_pick_store
from textual.widgets import DataTable, Input

from tui.cli import main
from tui.screens.chat import ChatScreen
from tui.screens.pick import PickScreen

SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def fixed_machine(monkeypatch):
    """The default memory limit is what this machine has free now, and llama.cpp's rows of
    the estimates depend on llama-cpp-python being installed: both fixed for the tests."""
    monkeypatch.setattr("tui.screens.pick.usable_memory_mb", lambda device: 4000.0)
    monkeypatch.setattr("engine.runtimes.llamacpp.installed", lambda: True)


def table_rows(screen) -> list[list[str]]:
    table = screen.query_one("#frontier", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def open_pick(pilot) -> PickScreen:
    await rows_shown(pilot)
    await pilot.press("b")
    await results_shown(pilot)  # read in a thread as the screen opens
    screen = pilot.app.screen
    assert isinstance(screen, PickScreen)
    return screen


async def test_table_shows_the_front_of_pick_json_and_enter_opens_chat(capsys):
    fill_pick_store()
    assert main(["pick", "--json", "--max-memory", "4000"]) == 0
    data = json.loads(capsys.readouterr().out)
    app = make_scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_pick(pilot)
        rows = table_rows(screen)
        front = [r for r in rows if r[0].isdigit()]
        assert [r[1] for r in front] == [r["label"] for r in data["frontier"]]
        assert [r[0] for r in front] == [str(n) for n in range(1, len(front) + 1)]
        numbers = {r["label"]: n for n, r in enumerate(data["frontier"], 1)}
        dominated = {r[1]: r[5] for r in rows if r[0] == ""}
        assert dominated == {r["label"]: f"beaten by {numbers[r['by']]}" for r in data["dominated"]}
        left = {r[1]: r[5] for r in rows if r[0] == "-"}
        assert left == {"pythia-160m · transformers fp32": "no ARC-e, PIQA; no decode speed"}
        estimates = [r for r in rows if r[0] == "est."]
        assert len(estimates) == len(data["unmeasured"]) and all(
            r[2] == "—" and r[4].startswith("~") for r in estimates
        )
        # Enter on the second row of the front: the bundled model's Q4_1 file on llama.cpp
        assert front[1][1] == "SmolLM2-135M-Instruct · llama.cpp Q4_1"
        await pilot.press("down", "enter")
        await pilot.pause()
        chat = pilot.app.screen
        assert isinstance(chat, ChatScreen)
        assert chat.options.model_id == "smollm2-135m-instruct"
        assert (chat.options.runtime, chat.options.precision, chat.options.device) == (
            "llama.cpp",
            "int4",
            "cpu",
        )


async def test_limits_typed_change_the_front():
    fill_pick_store()
    app = make_scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_pick(pilot)
        assert len([r for r in table_rows(screen) if r[0].isdigit()]) == 3
        screen.query_one("#max-memory", Input).focus()
        await pilot.press(*"1000", "enter")
        await results_shown(pilot)
        front = [r[1] for r in table_rows(screen) if r[0].isdigit()]
        assert front == ["SmolLM2-135M-Instruct · llama.cpp Q4_1", "tiny-llama · transformers fp32"]
        assert screen.report is not None
        assert screen.report.choice.limits.max_memory_mb == 1000
        screen.query_one("#tasks", Input).value = ", ,"
        screen.query_one("#tasks", Input).focus()
        await pilot.press("enter")  # no task in it: said, and the table stays as it was
        assert "no tasks given" in notes(app)[-1]
        assert screen.report.choice.limits.max_memory_mb == 1000
        screen.query_one("#tasks", Input).value = ""
        await pilot.press("x")  # export: Markdown, as the other tables
        assert screen.last_export is not None
        text = screen.last_export.read_text()
        assert "| 1 | SmolLM2-135M-Instruct · llama.cpp Q4_1 | 51.0 | 117.3 | 344 |  |" in text
        assert str(screen.last_export) in notes(app)[-1]


async def test_an_empty_store_says_what_to_do():
    app = make_scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_pick(pilot)
        assert "nothing measured fits" in str(screen.query_one("#pick-info").render())
        await pilot.press("enter")  # an estimate: nothing to chat with
        assert isinstance(pilot.app.screen, PickScreen)


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_snapshot(snap_compare, size):
    fill_pick_store()

    async def opened(pilot):
        await open_pick(pilot)
        await steady(pilot)

    assert snap_compare(make_scripted_app(), terminal_size=size, run_before=opened)


async def test_the_command_palette_opens_pick():
    app = make_scripted_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        commands["Which configuration for this board"].callback()
        await results_shown(pilot)
        assert isinstance(app.screen, PickScreen)
