"""Loading models: precisions, sources, refusals, load reports."""

from __future__ import annotations

import pickle
import shutil
import threading
from pathlib import Path

import pytest

from engine.chat.stream import stream_reply
from engine.errors import (
    DeviceUnavailable,
    LocalPathMissing,
    ModelNotDownloaded,
    ModelUnavailable,
    RemoteCodeRefused,
)
from engine.events import ReplyDone
from engine.runtimes.loading import load_model
from engine.runtimes.transformers.load import QuantizationUnavailable, UnsafeWeights
from engine.runtimes.transformers.quant import QuantProbe
from engine.settings import Conversation, GenerationSettings, LoadOptions

REPO_ROOT = Path(__file__).resolve().parent.parent


def entry_toml(model_id: str, **fields) -> str:
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
    lines = ["[[model]]", f'id = "{model_id}"']
    for key, value in values.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]")
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n\n"


@pytest.fixture
def catalog_file(tmp_path, tiny_catalog):
    def make(text: str) -> str:
        path = tmp_path / "overlay.toml"
        path.write_text(tiny_catalog.read_text() + "\n" + text)
        return str(path)

    return make


def greedy_reply(loaded) -> ReplyDone:
    events = list(
        stream_reply(
            loaded,
            Conversation().add("user", "Hi"),
            GenerationSettings(temperature=0, max_new_tokens=4),
            cancel=threading.Event(),
        )
    )
    assert isinstance(events[-1], ReplyDone)
    return events[-1]


def test_load_report_of_the_tiny_llama(tiny_catalog):
    stages = []
    loaded = load_model(
        LoadOptions("tiny-llama", catalog_path=str(tiny_catalog)),
        progress=lambda stage, fraction: stages.append(stage),
    )
    info = loaded.info
    assert info.model_id == "tiny-llama" and info.kind == "causal"
    assert info.params == sum(p.numel() for p in loaded.model.parameters())
    assert info.size_mb == pytest.approx(info.params * 4 / 2**20, rel=0.01)
    assert (info.dtype, info.device, info.quantization) == ("float32", "cpu", None)
    assert info.context_length == 2048 and info.has_chat_template
    assert info.load_seconds > 0 and info.device_name
    assert "loading weights" in stages


def test_seq2seq_loads_as_seq2seq(tiny_catalog):
    loaded = load_model(LoadOptions("tiny-t5", catalog_path=str(tiny_catalog)))
    assert loaded.is_seq2seq and loaded.model.config.is_encoder_decoder
    assert not loaded.info.has_chat_template


@pytest.mark.parametrize(
    "precision, dtype", [("bf16", "bfloat16"), ("fp16", "float16"), ("auto", "float32")]
)
def test_precisions_on_cpu(tiny_catalog, precision, dtype):
    loaded = load_model(
        LoadOptions("tiny-llama", precision=precision, catalog_path=str(tiny_catalog))
    )
    assert loaded.info.dtype == dtype


@pytest.mark.parametrize("precision, layer", [("int8", "Linear8bitLt"), ("int4", "Linear4bit")])
def test_bitsandbytes_on_cpu(tiny_catalog, precision, layer):
    loaded = load_model(
        LoadOptions("tiny-llama", precision=precision, catalog_path=str(tiny_catalog))
    )
    assert loaded.info.quantization == precision
    assert any(type(m).__name__ == layer for m in loaded.model.modules())
    full = 3_219_776  # the tiny model's parameter count, unpacked
    assert loaded.info.params == full
    assert greedy_reply(loaded).stats.new_tokens == 4


def test_broken_bitsandbytes_gives_one_message(tiny_catalog, monkeypatch):
    import engine.runtimes.transformers.load as runtime

    monkeypatch.setattr(
        runtime,
        "_bitsandbytes_probe",
        lambda device: QuantProbe(
            False, device, None, "bitsandbytes failed a tiny 8-bit op: crashed with signal 11"
        ),
    )
    with pytest.raises(QuantizationUnavailable, match="crashed with signal 11.*To fix"):
        load_model(LoadOptions("tiny-llama", precision="int8", catalog_path=str(tiny_catalog)))


def test_remote_code_refused_without_consent(catalog_file, tiny_llama):
    path = catalog_file(
        entry_toml("needs-code", source="local", path=str(tiny_llama), trust_remote_code=True)
    )
    with pytest.raises(RemoteCodeRefused) as info:
        load_model(LoadOptions("needs-code", catalog_path=path))
    assert "Python code from its repository" in str(info.value)
    assert "--trust-remote-code" in str(info.value)
    loaded = load_model(LoadOptions("needs-code", trust_remote_code=True, catalog_path=path))
    assert loaded.info.model_id == "needs-code"


def test_unavailable_model_is_refused_with_its_reason(catalog_file):
    path = catalog_file(
        entry_toml("gone", source="unavailable", unavailable_reason="the weights were withdrawn")
    )
    with pytest.raises(ModelUnavailable, match="withdrawn"):
        load_model(LoadOptions("gone", catalog_path=path))


def test_missing_local_path(catalog_file, tmp_path):
    path = catalog_file(entry_toml("lost", source="local", path=str(tmp_path / "nowhere")))
    with pytest.raises(LocalPathMissing, match="nowhere.*does not exist"):
        load_model(LoadOptions("lost", catalog_path=path))


def test_hub_model_not_downloaded(catalog_file):
    path = catalog_file(entry_toml("hubby", source="hub", repo="tests/not-here"))
    with pytest.raises(ModelNotDownloaded, match="smollm-tui download hubby"):
        load_model(LoadOptions("hubby", catalog_path=path))


def test_hub_model_from_the_standard_cache(catalog_file, tiny_llama, monkeypatch, tmp_path):
    """A snapshot laid out as huggingface_hub does it; the revision is its commit."""
    cache = tmp_path / "hf" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = cache / "models--tests--tiny-llama"
    shutil.copytree(tiny_llama, repo_dir / "snapshots" / commit)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    path = catalog_file(entry_toml("hubby", source="hub", repo="tests/tiny-llama"))
    loaded = load_model(LoadOptions("hubby", catalog_path=path))
    assert loaded.info.revision == commit and loaded.info.repo == "tests/tiny-llama"


class RunsCode:
    """Unpickling this calls Path.touch(marker): what a hostile .bin file could do."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def pickled_copy(tiny_llama: Path, folder: Path, extra: dict | None = None) -> Path:
    """The tiny model with its weights as a pickle (pytorch_model.bin), plus ``extra``."""
    import torch
    from safetensors.torch import load_file

    shutil.copytree(tiny_llama, folder)
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save({**state, **(extra or {})}, folder / "pytorch_model.bin")
    return folder


def test_pickle_weights_load_weights_only(catalog_file, tiny_llama, tmp_path):
    clean = pickled_copy(tiny_llama, tmp_path / "clean")
    marker = tmp_path / "code-ran"
    hostile = pickled_copy(tiny_llama, tmp_path / "hostile", {"x": RunsCode(marker)})
    path = catalog_file(
        entry_toml("pickled", source="local", path=str(clean))
        + entry_toml("hostile", source="local", path=str(hostile))
    )
    loaded = load_model(LoadOptions("pickled", catalog_path=path))
    assert loaded.info.params == 3_219_776 and greedy_reply(loaded).stats.new_tokens == 4
    # A pickle that would run code when unpickled is refused, and its code never runs.
    # The user reads one line saying what was found, not torch's page of advice on how
    # to load it anyway.
    with pytest.raises(UnsafeWeights) as refused:
        load_model(LoadOptions("hostile", catalog_path=path))
    assert not marker.exists()
    said = str(refused.value)
    assert said.startswith("refused to load hostile: its pickle weights in ")
    assert "(it names " in said and "getattr" in said and "safetensors" in said
    assert "\n" not in said and len(said) < 400 and "weights_only" not in said
    assert isinstance(refused.value.__cause__, pickle.UnpicklingError)


def test_cuda_asked_without_gpu(tiny_catalog):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(DeviceUnavailable, match="--device cpu"):
        load_model(LoadOptions("tiny-llama", device="cuda", catalog_path=str(tiny_catalog)))


@pytest.mark.gpu
def test_auto_is_fp16_on_cuda(tiny_catalog):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    loaded = load_model(LoadOptions("tiny-llama", catalog_path=str(tiny_catalog)))
    assert (loaded.info.device, loaded.info.dtype) == ("cuda", "float16")
    stats = greedy_reply(loaded).stats
    assert stats.peak_memory_mb > 0


@pytest.mark.gpu
def test_int8_on_cuda(tiny_catalog):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    loaded = load_model(LoadOptions("tiny-llama", precision="int8", catalog_path=str(tiny_catalog)))
    assert loaded.info.quantization == "int8" and loaded.info.device == "cuda"
    assert greedy_reply(loaded).stats.new_tokens == 4
