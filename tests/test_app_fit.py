"""Will it fit, end to end: the real overview (engine/memory/overview.py: estimate, measured
peaks, the machine's budget, the verdict) on the tiny models, the bundled model and
catalog models, on a Jetson Orin Nano 8 GB. Only the board's files are fake (its
device-tree model, /etc/nv_tegra_release and /proc/meminfo, from
tests/fixtures/telemetry); the verdicts reach the catalog, and a model that does not fit
goes through the "may not fit" dialog (8-bit / anyway / cancel) to a real worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_fixtures import make_app, rows_shown
from telemetry_fakes import FIXTURES
from textual.widgets import DataTable

import engine.machine as machine
import engine.memory.fit as memory
from engine.catalog.entries import Catalog
from engine.memory.overview import overview
from engine.runtimes import llamacpp
from engine.runtimes.llamacpp.memory import LLAMA_CPP_RUNTIME_MB
from tui.screens.catalog import CatalogScreen
from tui.screens.chat import ChatScreen
from tui.screens.dialogs import ChoiceScreen
from tui.screens.evaluate import EvaluateScreen

LOADED = FIXTURES / "meminfo_orin_nano_8gb.txt"  # MemAvailable 4,212,356 kB
BUSY = FIXTURES / "meminfo_orin_nano_8gb_busy.txt"  # MemAvailable 716,800 kB


@pytest.fixture
def orin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """This machine as an Orin Nano 8 GB: the board's files, and its /proc/meminfo from
    the fixture passed to the returned function."""
    model = tmp_path / "device-tree-model"
    model.write_bytes(b"NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super\0")
    release = tmp_path / "nv_tegra_release"
    release.write_text("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic\n")
    monkeypatch.setattr(machine, "DEVICE_TREE_MODEL", model)
    monkeypatch.setattr(machine, "TEGRA_RELEASE", release)

    def use(meminfo: Path) -> None:
        monkeypatch.setattr(memory, "MEMINFO", meminfo)

    return use


def fit_cells(screen: CatalogScreen) -> dict[str, str]:
    """Model id -> the fit column as shown."""
    table = screen.query_one(DataTable)
    column = [c.key.value for c in table.columns.values()].index("fit")
    return {
        r.entry.id: str(table.get_row_at(i)[column]).removesuffix(" ✓")
        for i, r in enumerate(screen.visible_rows)
    }


def row(screen: CatalogScreen, model_id: str):
    return next(r for r in screen.rows if r.entry.id == model_id)


async def test_the_catalog_judges_fit_against_the_boards_memory(orin, tiny_catalog):
    orin(LOADED)
    budget = memory.budget("auto")
    assert (budget.device, budget.source, budget.available_mb) == (
        "cuda",
        "/proc/meminfo",
        4_212_356 / 1024,
    )
    app = make_app(tiny_catalog, overview_source=overview)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        screen = app.screen
        # auto on a Jetson is fp16 on its GPU: the estimate counts the CUDA context and,
        # the GPU sharing the RAM, the CPU-side libraries too
        for model_id in ("tiny-llama", "tiny-t5"):
            entry = app.catalog.get(model_id)
            # at the working context (4,096 tokens, or the model's own when shorter)
            guess = memory.estimate(
                entry, "fp16", "cuda", context_length=min(entry.context_length, 4096)
            )
            assert row(screen, model_id).size_mb == guess.total_mb
            assert guess.overhead_mb == memory.CUDA_CONTEXT_MB + memory.CPU_RUNTIME_MB
        # the bundled GGUF runs on llama.cpp (runtime auto): its file, cache and overhead
        on_llama = llamacpp.installed()
        if on_llama:
            bundled = app.catalog.get("smollm2-135m-instruct")
            guess = memory.estimate(
                bundled, "auto", "cuda", context_length=4096, runtime="llama.cpp"
            )
            assert row(screen, bundled.id).size_mb == guess.total_mb
            assert guess.precision == "Q4_1"
            assert guess.overhead_mb == memory.CUDA_CONTEXT_MB + LLAMA_CPP_RUNTIME_MB
        fits = fit_cells(screen)
        assert fits["tiny-llama"] == fits["tiny-t5"] == fits["smollm2-135m-instruct"] == "fits"

        await pilot.press("p")  # fp32: 1.1B parameters take 4.2 GB of weights alone
        assert app.precision == "fp32"
        await rows_shown(pilot)
        fits = fit_cells(screen)
        assert fits["tiny-llama"] == "fits"
        # auto runs the bundled model at fp32 on transformers (llama.cpp has no fp32 file
        # of it), sized as transformers' fp32 copy
        assert fits["smollm2-135m-instruct"] == "fits"
        bundled = app.catalog.get("smollm2-135m-instruct")
        assert (
            row(screen, "smollm2-135m-instruct").size_mb
            == memory.estimate(bundled, "fp32", "cuda", context_length=4096).total_mb
        )
        assert fits["tinyllama-1.1b"] == "no fit"
        assert row(screen, "tinyllama-1.1b").size_mb > budget.available_mb
        # 0.5B at fp32 fits at the working context (4,096 tokens), not at its full 32k
        assert fits["qwen2.5-0.5b"] == "fits"
        qwen = row(screen, "qwen2.5-0.5b")
        assert qwen.size_mb < budget.available_mb < qwen.full_context_mb

        await pilot.press("p", "p", "p")  # int8: they fit again
        assert app.precision == "int8"
        await rows_shown(pilot)
        fits = fit_cells(screen)
        assert fits["tinyllama-1.1b"] == fits["qwen2.5-0.5b"] == "fits"

        # the same board with 700 MB left: not even the tiny model and its CUDA context
        orin(BUSY)
        await pilot.press("p", "p")  # back to auto
        assert app.precision == "auto"
        await rows_shown(pilot)
        fits = fit_cells(screen)
        assert set(fits.values()) - {"?"} == {"no fit"}, fits
        assert row(screen, "tiny-llama").fit == "does not fit"


async def open_dialog(pilot, model_id: str, key: str) -> ChoiceScreen:
    await rows_shown(pilot)
    await pilot.press("slash", *model_id, "enter", key)
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, ChoiceScreen)
    return dialog


async def back_to_catalog(pilot) -> CatalogScreen:
    while not isinstance(pilot.app.screen, CatalogScreen):
        await pilot.press("escape")
        await pilot.pause()
    await pilot.press("escape")  # clears the filter
    return pilot.app.screen


def meminfo_with(folder: Path, available_mb: float) -> Path:
    """The busy board's /proc/meminfo with MemAvailable set to ``available_mb``."""
    lines = [
        f"MemAvailable:   {int(available_mb * 1024)} kB"
        if line.startswith("MemAvailable:")
        else line
        for line in BUSY.read_text().splitlines()
    ]
    path = folder / "meminfo"
    path.write_text("\n".join(lines) + "\n")
    return path


async def test_may_not_fit_dialog_cancel_anyway_and_8_bit(orin, tiny_catalog, tmp_path):
    orin(BUSY)
    app = make_app(tiny_catalog, overview_source=overview)
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        catalog = app.screen
        need = row(catalog, "smollm2-135m-instruct").size_mb
        dialog = await open_dialog(pilot, "smollm2-135m", "c")
        assert dialog.title_text == "SmolLM2-135M bundled may not fit in memory"
        assert f"At auto it needs about {need:,.0f} MB" in dialog.body
        await pilot.press("escape")  # Esc is cancel too
        assert app.screen is catalog and app.session.state == "none"
        await back_to_catalog(pilot)

        need = row(catalog, "tiny-llama").size_mb
        dialog = await open_dialog(pilot, "tiny-llama", "c")
        assert f"needs about {need:,.0f} MB" in dialog.body
        # 8-bit is no way out here: the CUDA context alone is more than is free
        eight = overview(Catalog([app.catalog.get("tiny-llama")]), "int8", "auto")[0]
        assert eight.fit == "does not fit"
        assert f"8-bit would need about {eight.size_mb:,.0f} MB: it does not fit" in dialog.body
        assert [key for key, _ in dialog.choices] == ["anyway", "cancel"]
        await pilot.press("tab", "enter")  # the second button: Cancel
        await pilot.pause()
        assert app.screen is catalog and app.session.state == "none"

        await open_dialog(pilot, "", "c")
        await pilot.press("enter")  # Load anyway, focused: at the precision asked for
        await pilot.pause()
        chat = app.screen
        assert isinstance(chat, ChatScreen) and chat.options.precision == "auto"
        await app.workers.wait_for_complete()
        assert app.session.state == "ready"
        assert (app.session.info.quantization, app.session.info.dtype) == (None, "float32")
        await back_to_catalog(pilot)

        # fp32 just over what is free, 8-bit under it: 8-bit is offered, first
        entry = app.catalog.get("tiny-llama")
        full = memory.estimate(entry, "fp32", "cuda", context_length=entry.context_length)
        eight = memory.estimate(entry, "int8", "cuda", context_length=entry.context_length)
        assert eight.total_mb < full.total_mb - 1
        orin(meminfo_with(tmp_path, full.total_mb - 0.5))  # (the rows read for fp32 see it)
        await pilot.press("p")
        dialog = await open_dialog(pilot, "tiny-llama", "c")
        assert f"In 8-bit it needs about {eight.total_mb:,.0f} MB and fits" in dialog.body
        assert [key for key, _ in dialog.choices] == ["int8", "anyway", "cancel"]
        await pilot.press("enter")  # the first button, focused: Load in 8-bit
        await pilot.pause()
        chat = app.screen
        assert isinstance(chat, ChatScreen) and chat.options.precision == "int8"
        assert app.session.options.precision == "int8"  # what the worker is asked to load
        app.session.cancel()  # (bitsandbytes on this CPU is covered by test_runtime.py)
        await app.workers.wait_for_complete()
        await back_to_catalog(pilot)
        orin(BUSY)  # (the rows read for auto see it)
        await pilot.press("p", "p", "p", "p", "p")  # fp32 -> ... -> auto
        assert app.precision == "auto"

        # Evaluate asks the same question
        await open_dialog(pilot, "tiny-llama", "e")
        await pilot.press("tab", "enter")  # Cancel
        await pilot.pause()
        assert app.screen is catalog
        await open_dialog(pilot, "", "e")
        await pilot.press("enter")  # Load anyway
        await pilot.pause()
        assert isinstance(app.screen, EvaluateScreen)
        assert app.screen.options.precision == "auto"
