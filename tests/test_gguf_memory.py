"""The catalog's size and fit on llama.cpp: the GGUF file, the f16 KV cache at the working
context (shape from the file's header), llama.cpp's measured overhead; checked against
the real worker's peak memory on the bundled file."""

from __future__ import annotations

import dataclasses

import pytest
from app_fixtures import make_app, rows_shown
from llama_support import BUNDLED, require_llama_cpp

import engine.memory.fit as memory
from engine import preferences
from engine.catalog.entries import load_catalog
from engine.memory.overview import overview
from engine.runtimes.llamacpp.memory import LLAMA_CPP_RUNTIME_MB
from engine.settings import Conversation, GenerationSettings, LoadOptions
from engine.worker.client import WorkerClient
from engine.worker.protocol import Loaded, ReplyDone
from tui.screens.catalog import CatalogScreen

require_llama_cpp()

MB = 2**20
# SmolLM2-135M: 30 layers, 3 KV heads of 64 dims; K and V, 2 bytes each (f16).
KV_PER_TOKEN = 30 * 3 * 64 * 2 * 2


def bundled():
    return load_catalog(use_user_overlay=False).get(BUNDLED)


def test_the_estimate_is_the_file_the_kv_cache_and_the_overhead():
    from engine.catalog.bundled import gguf_path

    guess = memory.estimate(bundled(), "auto", "cpu", context_length=4096, runtime="llama.cpp")
    assert (guess.precision, guess.context_length) == ("Q4_1", 4096)
    assert guess.weights_mb == pytest.approx(gguf_path().stat().st_size / MB, abs=0.1)
    assert guess.kv_cache_mb == pytest.approx(KV_PER_TOKEN * 4096 / MB, abs=0.1)
    assert guess.overhead_mb == LLAMA_CPP_RUNTIME_MB and not guess.approximate
    assert guess.total_mb == pytest.approx(
        guess.weights_mb + guess.kv_cache_mb + guess.activations_mb + guess.overhead_mb, abs=0.2
    )
    # Longer than the file's trained context (8192): capped there, as a load caps it.
    assert (
        memory.estimate(
            bundled(), "auto", "cpu", context_length=32768, runtime="llama.cpp"
        ).context_length
        == 8192
    )
    # No such file (the bundled model is Q4_1 only, and fp32 is published nowhere).
    assert memory.estimate(bundled(), "fp32", "cpu", runtime="llama.cpp") is None


def test_a_published_file_not_downloaded_is_sized_from_its_quant_type():
    entry = load_catalog(use_user_overlay=False).get("smollm2-360m-instruct")
    guess = memory.estimate(entry, "int8", "cpu", context_length=4096, runtime="llama.cpp")
    assert guess.precision == "Q8_0" and guess.approximate
    # bartowski's SmolLM2-360M-Instruct-Q8_0.gguf is 386 MB (decimal) on the Hub page.
    assert guess.weights_mb * MB / 1e6 == pytest.approx(386, rel=0.1)


def test_catalog_rows_follow_the_runtime():
    catalog = load_catalog(use_user_overlay=False)

    def row(runtime: str, precision: str = "auto"):
        rows = overview(catalog, precision, "cpu", runtime=runtime)
        return next(r for r in rows if r.entry.id == BUNDLED)

    llama, auto, hf = row("llama.cpp"), row("auto"), row("transformers")
    assert llama.size_mb == auto.size_mb < 400 < 1000 < hf.size_mb  # 4-bit file vs fp32
    assert llama.context_length == 4096 and llama.full_context_mb > llama.size_mb
    none = row("llama.cpp", "int8")  # no 8-bit file of the bundled model
    assert none.size_mb is None and none.fit == "unknown"


def test_the_estimate_matches_the_workers_peak_with_a_prompt_that_fills_the_context():
    # The working context small, so the prompt that fills it is quick to evaluate.
    preferences.save_settings({"working_context": 1024})
    guess = memory.estimate(bundled(), "auto", "cpu", context_length=1024, runtime="llama.cpp")
    client = WorkerClient()
    try:
        for event in client.load(LoadOptions(BUNDLED, runtime="llama.cpp")):
            if isinstance(event, Loaded):
                assert event.info.context_length == 1024
        words = " ".join(["the sea is wide and deep"] * 130)
        settings = GenerationSettings(temperature=0, max_new_tokens=16)
        done = [
            e
            for e in client.generate(Conversation().add("user", words), settings)
            if isinstance(e, ReplyDone)
        ]
    finally:
        client.close()
    stats = done[0].stats
    assert stats.prompt_tokens > 800
    assert guess.total_mb == pytest.approx(stats.peak_memory_mb, rel=0.25), (guess, stats)


async def test_the_catalogs_mb_column_changes_with_the_runtime_key(monkeypatch):
    # A machine with 880 MB available: the fp32 copy does not fit, the Q4_1 file does.
    monkeypatch.setattr(
        memory, "budget", lambda device: memory.Budget("cpu", 880.0, 1024.0, "psutil")
    )
    app = make_app(
        overview_source=lambda catalog, precision, device, runtime: overview(
            catalog, precision, "cpu", runtime=runtime
        )
    )
    async with app.run_test(size=(120, 40)) as pilot:
        await rows_shown(pilot)
        screen = app.screen
        assert isinstance(screen, CatalogScreen)

        def shown() -> tuple[str, str]:
            table = screen.query_one("DataTable")
            cells = table.get_row(BUNDLED)
            return str(cells[3]), str(cells[5])

        size, fit = shown()  # auto: llama.cpp for the bundled GGUF
        assert float(size.replace(",", "")) < 400 and fit == "fits"
        await pilot.press("r")  # transformers
        await pilot.pause()
        await rows_shown(pilot)
        size, fit = shown()
        assert float(size.replace(",", "")) > 1000 and fit == "no fit"
        await pilot.press("r")  # llama.cpp
        await pilot.pause()
        await rows_shown(pilot)
        assert float(shown()[0].replace(",", "")) < 400


def test_a_damaged_file_falls_back_to_the_catalogs_shape(tmp_path):
    path = tmp_path / "broken.Q8_0.gguf"
    path.write_bytes(b"GGUF" + b"\x00" * 64)
    entry = dataclasses.replace(bundled(), source="local", path=str(path))
    guess = memory.estimate(entry, "auto", "cpu", context_length=2048, runtime="llama.cpp")
    # Its quant type from its name; its cache from the catalog's shape of the model.
    assert guess.precision == "Q8_0"
    assert guess.kv_cache_mb == pytest.approx(KV_PER_TOKEN * 2048 / MB, abs=0.1)
