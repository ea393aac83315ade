"""The catalog screen with Pilot: filter, sort, precision, details, help, bad text."""

from __future__ import annotations

from pathlib import Path

from app_fixtures import make_app, rows_shown
from textual.widgets import DataTable

from tui.screens.catalog import CatalogScreen
from tui.screens.details import DetailsScreen
from tui.screens.help import HelpScreen


async def test_catalog_lists_every_model_and_filters():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        screen = app.screen
        assert isinstance(screen, CatalogScreen)
        assert screen.query_one(DataTable).row_count == len(app.catalog)
        await pilot.press("slash", *"pythia")
        await pilot.pause()
        assert {r.entry.id for r in screen.visible_rows} == {
            "pythia-70m-deduped",
            "pythia-160m",
            "pythia-410m",
        }
        await pilot.press("escape")
        assert screen.query_one(DataTable).row_count == len(app.catalog)


async def click_header(pilot, key: str) -> None:
    table = pilot.app.screen.query_one(DataTable)
    x = 0
    for column in table.columns.values():
        if column.key.value == key:
            break
        x += column.get_render_width(table)
    await pilot.click(DataTable, offset=(x + 1, 0))
    await pilot.pause()


async def test_letters_that_reach_the_hidden_filter_show_it():
    # Letters typed while the app starts can land in the filter before the table has the
    # focus: the rows vanish, so the filter must be on screen, saying Esc clears it.
    from textual.widgets import Input

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        box = app.screen.query_one("#filter", Input)
        assert not box.display
        box.value = "ecx"
        await pilot.pause()
        assert box.display and app.screen.query_one(DataTable).row_count == 0
        await pilot.press("escape")
        assert not box.display and box.value == ""
        assert app.screen.query_one(DataTable).row_count == len(app.catalog)


async def test_sort_by_keys_and_header_clicks():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        screen = app.screen
        await pilot.press("o", "o")  # o sorts by the next column: model name, then params
        params = [r.entry.params for r in screen.visible_rows]
        assert params == sorted(params) and params != [r.entry.params for r in screen.rows]
        await click_header(pilot, "params")  # the same column again: reversed
        assert [r.entry.params for r in screen.visible_rows] == sorted(params, reverse=True)
        await pilot.press("o")  # next column: arch
        archs = [r.entry.architecture for r in screen.visible_rows]
        assert archs == sorted(archs)
        await click_header(pilot, "name")
        names = [r.entry.name.lower() for r in screen.visible_rows]
        assert names == sorted(names)
        assert [str(n.message) for n in app._notifications][-1] == ("Sorted by model (ascending)")


async def test_precision_cycles_and_sizes_follow():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        screen = app.screen
        before = screen.visible_rows[0].size_mb
        await pilot.press("p")
        assert app.precision == "fp32"
        await pilot.press("p", "p", "p")
        assert app.precision == "int8"
        await rows_shown(pilot)  # read again for int8
        assert screen.visible_rows[0].size_mb < before
        assert "precision int8" in screen.sub_title


async def test_details_help_and_unavailable_model():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
        await pilot.press("escape", "question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        screen = app.screen
        await pilot.press("slash", *"merino", "enter", "c")
        await pilot.pause()
        assert isinstance(app.screen, CatalogScreen)
        notes = [n.message for n in app._notifications]
        assert any("cannot be run" in n and "weights" in n for n in notes), notes
        assert screen.visible_rows[0].entry.id == "merino"


async def test_markup_and_control_characters_in_names_are_shown_literally(tmp_path: Path):
    overlay = tmp_path / "bad.toml"
    overlay.write_text(r"""
[[model]]
id = "opt-125m"
name = "[bold]Bold[/] [link=x]y[/link] \u001b[31mred"
notes = "[/] closes nothing"
""")
    app = make_app(overlay)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        await pilot.press("slash", *"opt-125", "enter")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        cell = table.get_row_at(0)[0]
        assert cell.plain == "[bold]Bold[/] [link=x]y[/link] \u241b[31mred"
        await pilot.press("enter")
        assert isinstance(app.screen, DetailsScreen)
