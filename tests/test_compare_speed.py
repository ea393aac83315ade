"""Compare's Speed view (key 6): the stored speed rows, model × runtime × precision ×
device, the device and precision filters, the chart, export, the empty state; Pilot on a
real results store, and snapshots at 80x24 and 120x40."""

from __future__ import annotations

import json

import pytest
from app_fixtures import FIXED_TIME, fill_results_store, make_app, notes, results_shown, steady
from textual.widgets import DataTable, Select, Static, Tabs

from engine.results.store import ResultsStore, SpeedRun
from tui.screens.compare import CompareScreen

SIZES = [(80, 24), (120, 40)]
IDS = ["80x24", "120x40"]


def speed_runs() -> list[SpeedRun]:
    def run(model, runtime, precision, tps, first, load, peak, bench=True, device="cpu", minutes=0):
        return SpeedRun(
            model,
            precision,
            device,
            38,
            128,
            tps,
            first,
            peak,
            settings={"bench": True} if bench else {},
            runtime=runtime,
            load_seconds=load,
            created=FIXED_TIME + minutes * 60,
        )

    return [
        run("smollm2-135m-instruct", "llama.cpp", "Q4_1", 117.3, 0.010, 0.21, 344.0),
        run("smollm2-135m-instruct", "transformers", "fp32", 15.2, 0.134, 16.4, 1180.0),
        run("smollm2-135m-instruct", "transformers", "int8", 9.1, 0.200, 18.0, 900.0, bench=False),
        run("pythia-160m", "transformers", "fp32", 12.4, 0.150, 3.1, 1420.0),
        run("pythia-160m", "transformers", "fp16", 40.5, 0.030, 2.0, 900.0, device="cuda"),
    ]


def fill_speed(runs=None) -> None:
    with ResultsStore() as store:
        for run in speed_runs() if runs is None else runs:
            store.add_speed(run)


def table_rows(screen) -> list[list[str]]:
    table = screen.query_one("#speed-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def open_speed(pilot) -> CompareScreen:
    await pilot.press("m")
    await results_shown(pilot)  # the store is read in a thread as the screen opens
    await pilot.press("6")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, CompareScreen)
    return screen


async def test_the_speed_tab_shows_each_configuration_and_follows_the_filters():
    fill_results_store()
    fill_speed()
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_speed(pilot)
        assert screen.query_one(Tabs).active == "speed"
        assert not screen.query_one("#matrix").display and screen.query_one("#speed-table").display
        rows = table_rows(screen)
        # fastest configuration first within a model; catalog names as the matrix shows them
        assert [r[1:5] for r in rows] == [
            ["llama.cpp", "Q4_1", "cpu", "117.3"],
            ["transformers", "fp32", "cpu", "15.2"],
            ["transformers", "int8", "cpu", "9.1"],
            ["transformers", "fp16", "cuda", "40.5"],
            ["transformers", "fp32", "cpu", "12.4"],
        ]
        assert rows[0][0] == "SmolLM2-135M-Inst…" and rows[0][5:] == ["10", "0.21", "344", "bench"]
        assert rows[2][-1] == "chat"
        info = str(screen.query_one("#speed-info", Static).render())
        assert "on llama.cpp Q4_1, cpu: 117.3 tok/s, first token 10 ms" in info
        assert "5 of 5 configuration(s)" in screen.sub_title

        # the device filter (its choices include what only speed rows have)
        screen.query_one("#f-device", Select).value = "cuda"
        await pilot.pause()
        assert [r[1:4] for r in table_rows(screen)] == [["transformers", "fp16", "cuda"]]
        screen.query_one("#f-device", Select).clear()
        screen.query_one("#f-precision", Select).value = "Q4_1"  # a llama.cpp quant type
        await pilot.pause()
        assert [r[2] for r in table_rows(screen)] == ["Q4_1"]
        screen.query_one("#f-precision", Select).value = "int8"
        await pilot.pause()
        assert [r[1:3] for r in table_rows(screen)] == [["transformers", "int8"]]

        await pilot.press("1")  # back to the matrix
        await pilot.pause()
        assert screen.query_one("#matrix").display and not screen.query_one("SpeedView").display


async def test_export_writes_the_speed_rows_too():
    fill_speed()  # speed only: no evaluation stored
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_speed(pilot)
        await pilot.press("x")
        await pilot.pause()
        names = sorted(p.name.split("-speed")[-1] for p in screen.last_export)
        assert names == [".csv", ".json", ".md"]
        by_suffix = {p.suffix: p for p in screen.last_export}
        rows = json.loads(by_suffix[".json"].read_text())
        assert {(r["runtime"], r["precision"]) for r in rows} >= {("llama.cpp", "Q4_1")}
        assert (
            "| smollm2-135m-instruct | llama.cpp | Q4_1 | cpu | 117.3 |"
            in by_suffix[".md"].read_text()
        )
        assert by_suffix[".csv"].read_text().startswith("model,runtime,precision,device,tok/s")
        assert any("compare-" in n and "-speed.csv" in n for n in notes(app))


async def test_the_empty_speed_view_says_how_to_measure():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_speed(pilot)
        assert table_rows(screen) == []
        info = str(screen.query_one("#speed-info", Static).render())
        assert "smollm-tui bench MODEL" in info
        await pilot.press("x")
        assert "Nothing to export yet." in notes(app)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_speed_view_snapshot(snap_compare, size):
    fill_results_store()
    fill_speed()

    async def show(pilot):
        await open_speed(pilot)
        await steady(pilot)

    assert snap_compare(make_app(), terminal_size=size, run_before=show)
