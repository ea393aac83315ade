"""The Compare screen with Pilot, on a store filled with fixed runs: tabs, filters,
statuses, references, the chart's column, export; reached with `m` and driven by keys
and clicks as a user would."""

from __future__ import annotations

from app_fixtures import fill_results_store, make_app, results_shown
from textual.widgets import DataTable, Select, Static, Tabs

from engine.paths import data_dir
from tui.screens.catalog import CatalogScreen
from tui.screens.compare import CompareScreen


def matrix_text(screen) -> dict[str, list[str]]:
    """Model label -> the row's cells as plain text."""
    table = screen.query_one("#matrix", DataTable)
    return {
        str(table.get_row_at(i)[0]): [str(c) for c in table.get_row_at(i)[1:]]
        for i in range(table.row_count)
    }


def header(screen) -> list[str]:
    return [str(c.label) for c in screen.query_one("#matrix", DataTable).columns.values()]


async def open_compare(pilot) -> CompareScreen:
    await pilot.press("m")
    await results_shown(pilot)  # the store is read in a thread as the screen opens
    screen = pilot.app.screen
    assert isinstance(screen, CompareScreen)
    return screen


async def choose(pilot, name: str, words: str) -> None:
    """Open a filter with a click and type to pick the option (its prompt: any)."""
    await pilot.click(f"#f-{name}")
    await pilot.press(*words, "enter")
    await pilot.pause()


async def test_accuracy_matrix_statuses_flags_and_tabs():
    fill_results_store()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        assert header(screen) == ["Model", "Params", "ARC-e ↑", "BoolQ ↑", "PIQA ↑", "Avg ↑"]
        rows = matrix_text(screen)
        # latest ok run per cell (the later cancelled ARC-e run does not hide it);
        # 30.0 is 13.5 points (13.5 standard errors) under the published 43.5: flagged
        assert rows["pythia-160m"] == ["162M", "30.0 !", "55.0", "62.5", "49.2"]
        assert rows["opt-125m"] == ["125M", "43.5", "—", "failed", "43.5"]
        assert rows["TinyLlama_v1.1"] == ["1.1B", "oom", "—", "73.0", "73.0"]

        await pilot.press("2")
        assert screen.metric == "time" and app.screen.query_one(Tabs).active == "time"
        assert matrix_text(screen)["pythia-160m"][1:4] == ["40.0", "55.5", "40.0"]
        await pilot.press("3")
        assert matrix_text(screen)["TinyLlama_v1.1"][3] == "2.34"  # 2400 MB in GB
        await pilot.press("4")
        assert matrix_text(screen)["opt-125m"][1] == "478"
        await pilot.press("1", "a")  # acc -> acc_norm
        assert screen.accuracy_metric == "acc"
        await pilot.press("a")
        assert screen.accuracy_metric == "acc_norm"
        assert matrix_text(screen)["pythia-160m"][1] == "28.0"
        assert "acc_norm" in screen.sub_title
        await pilot.press("escape")
        assert isinstance(app.screen, CatalogScreen)


async def test_cell_details_references_and_markup_in_errors():
    fill_results_store()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        info = screen.query_one("#cell-info", Static)
        await pilot.press("down", "right", "right")  # pythia-160m, ARC-e
        line = str(info.render())
        assert "30.0 ± 1.0" in line and "published 43.5" in line and "-13.5" in line
        assert "3 standard errors" in line
        await pilot.press("up", "right", "right")  # opt-125m, PIQA: failed, error with markup
        assert "failed: [bold]boom[/] dataset piqa broke" in str(info.render())
        await pilot.press("r")
        assert matrix_text(screen)["pythia-160m"][1:4] == ["30.0 (43.5) !", "55.0", "62.5 (62.7)"]


async def test_filters_change_the_matrix():
    fill_results_store()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        precision = screen.query_one("#f-precision", Select)
        assert [str(o[0]) for o in precision._options[1:]] == ["fp32", "int8"]
        await choose(pilot, "precision", "int8")
        assert precision.value == "int8"
        assert list(matrix_text(screen)) == ["TinyLlama_v1.1"]
        assert header(screen) == ["Model", "Params", "PIQA ↑", "Avg ↑"]
        await choose(pilot, "precision", "precision")  # back to any
        await choose(pilot, "mode", "full")
        assert matrix_text(screen) == {"pythia-160m": ["162M", "55.0", "55.0"]}
        await choose(pilot, "mode", "mode")
        await choose(pilot, "fewshot", "0-shot")
        assert "TinyLlama_v1.1" in matrix_text(screen)  # its oom ARC-e run is 0-shot
        assert matrix_text(screen)["TinyLlama_v1.1"][1:] == ["oom", "—", "—", "—"]
        assert "7 of 8 run(s) match" in screen.sub_title
        await choose(pilot, "device", "cuda")  # every run is on cuda: nothing changes
        assert "7 of 8 run(s) match" in screen.sub_title
        await choose(pilot, "fewshot", "fewshot")
        assert "8 of 8 run(s) match" in screen.sub_title


async def test_export_writes_markdown_csv_and_json_and_shows_the_path():
    fill_results_store()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("x")
        md, csv_path, json_path = screen.last_export
        assert md.parent == data_dir() / "reports"
        assert [p.suffix for p in screen.last_export] == [".md", ".csv", ".json"]
        text = md.read_text()
        assert "#### 1. Model size (MB)" in text and "#### 2. Accuracy (%)" in text
        assert "| pythia-160m" in text and "30 !" in text and "oom" in text
        assert csv_path.read_text().startswith("table,Model,Parameters")
        assert '"metric": "memory"' in json_path.read_text()
        notes = [n.message for n in app._notifications]
        assert any(str(md) in n for n in notes), notes


async def test_empty_store_says_what_to_do():
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(pilot)
        assert screen.query_one("#matrix", DataTable).row_count == 0
        assert "No results stored yet" in str(screen.query_one("#cell-info", Static).render())
        await pilot.press("x")
        assert any("Nothing to export" in n.message for n in app._notifications)


async def test_key_5_shows_peak_board_memory():
    from dataclasses import replace

    from app_fixtures import fixed_eval_runs

    fill_results_store(
        [
            replace(r, peak_board_mb=None if r.peak_memory_mb is None else 5120.0)
            for r in fixed_eval_runs()
        ]
    )
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_compare(pilot)
        await pilot.press("5")
        assert screen.metric == "board" and app.screen.query_one(Tabs).active == "board"
        assert matrix_text(screen)["pythia-160m"] == ["162M", "5.00", "5.00", "5.00", "5.00"]
        assert matrix_text(screen)["TinyLlama_v1.1"][1] == "oom"
        assert "Peak board memory (GB)" in screen.sub_title


async def test_machine_filter_appears_with_imported_results_and_keeps_their_origin():
    """Results imported from a GPU server stand beside the board's; the machine filter
    (shown only when the store holds more than one machine) tells them apart, and the cell
    line says where an imported figure came from."""
    from dataclasses import replace

    from app_fixtures import fixed_eval_runs

    board = [replace(r, machine="orin-nano", backend="smollm-tui") for r in fixed_eval_runs()]
    server = replace(
        board[0],
        model_id="qwen2.5-0.5b",
        repo="Qwen/Qwen2.5-0.5B",
        machine="NVIDIA A100-SXM4-80GB",
        backend="lm-eval vllm",
        runtime="vllm",
        source="import:results_x.json",
        metrics={"acc": 0.6},
    )
    fill_results_store([*board, server])
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        machine = screen.query_one("#f-machine", Select)
        assert machine.display
        assert [str(o[0]) for o in machine._options[1:]] == ["NVIDIA A100-SXM4-80GB", "orin-nano"]
        assert "Qwen2.5-0.5B" in matrix_text(screen)
        await choose(pilot, "machine", "orin")
        assert machine.value == "orin-nano"
        assert "Qwen2.5-0.5B" not in matrix_text(screen)
        assert "8 of 9 run(s) match" in screen.sub_title
        await choose(pilot, "machine", "NVIDIA")
        assert list(matrix_text(screen)) == ["Qwen2.5-0.5B"]
        await pilot.click("#matrix", offset=(2, 1))  # back to the table, on its one row
        await pilot.press("right", "right")
        line = str(screen.query_one("#cell-info", Static).render())
        assert "60.0" in line and "NVIDIA A100-SXM4-80GB, lm-eval vllm" in line


async def test_no_machine_filter_when_every_result_is_from_this_machine():
    fill_results_store()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_compare(pilot)
        assert not screen.query_one("#f-machine", Select).display
