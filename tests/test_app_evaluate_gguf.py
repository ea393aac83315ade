"""The Evaluate screen on a GGUF model: it runs on the runtime chosen for chat (llama.cpp
for the bundled file), says so, and stores the row with runtime and quant type."""

from __future__ import annotations

from app_fixtures import make_app
from llama_support import BUNDLED, require_llama_cpp
from test_app_evaluate import WatchedEvaluate, cells, choose
from textual.widgets import DataTable, Static

require_llama_cpp()

from engine.results.store import ResultsStore  # noqa: E402
from engine.settings import LoadOptions  # noqa: E402


async def test_evaluate_screen_runs_the_gguf_model_on_llamacpp(tiny_catalog):
    from fixtures.tasks.helpers import TASKS_DIR

    app = make_app(tiny_catalog)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = WatchedEvaluate(
            app.catalog.get(BUNDLED),
            LoadOptions(BUNDLED, catalog_path=str(tiny_catalog), runtime="auto"),
            include_path=str(TASKS_DIR),
        )
        app.push_screen(screen)
        await pilot.pause()
        assert screen.sub_title.startswith("llama.cpp")
        assert "llama.cpp" in str(screen.query_one("#status", Static).render())
        await choose(pilot, screen, ["fx_yesno"], limit="3")
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert screen.finished[-1].outcome == "done"
        assert cells(screen.query_one("#results", DataTable), 1) == ["ok"]
        with ResultsStore() as store:
            [row] = store.eval_runs(model_id=BUNDLED)
        assert (row.runtime, row.precision, row.samples) == ("llama.cpp", "Q4_1", 3)
        assert "llama.cpp Q4_1" in str(screen.query_one("#status", Static).render())
