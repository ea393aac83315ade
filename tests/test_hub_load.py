"""A model downloaded from the test Hub loads with engine.runtimes.loading and generates."""

from __future__ import annotations

from pathlib import Path

import pytest
from hub_server import isolate_hf, standard_overlay, standard_server

from engine import errors, hub
from engine.catalog.entries import load_catalog
from engine.models.local_status import local_status
from engine.runtimes import loading
from engine.settings import LoadOptions


def test_downloaded_model_loads_and_generates(
    tiny_llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    isolate_hf(tmp_path, monkeypatch)
    with standard_server(tiny_llama) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        overlay = standard_overlay(server, tmp_path / "hub.toml")
        catalog = load_catalog(overlay)
        with pytest.raises(errors.ModelNotDownloaded):
            loading.load_model(LoadOptions(model_id="tiny-hub"), catalog)
        result = hub.download(catalog.get("tiny-hub"))

    # The server is gone: loading never touches the network.
    loaded = loading.load_model(
        LoadOptions(model_id="tiny-hub", device="cpu", catalog_path=str(overlay)), catalog
    )
    assert loaded.info.revision == result.commit and loaded.info.device == "cpu"
    inputs = loaded.tokenizer("The capital of France is", return_tensors="pt")
    output = loaded.model.generate(**inputs, max_new_tokens=5, do_sample=False)
    new_tokens = output[0, inputs["input_ids"].shape[1] :]
    assert len(new_tokens) == 5
    assert isinstance(loaded.tokenizer.decode(new_tokens), str)

    # Weights lost from the snapshot: the load says so and how to finish, before transformers.
    snapshot = Path(local_status(catalog.get("tiny-hub")).path)
    (snapshot / "model.safetensors").unlink()
    with pytest.raises(
        errors.ModelNotDownloaded, match=r"only partly downloaded .*smollm-tui download tiny-hub"
    ):
        loading.load_model(LoadOptions(model_id="tiny-hub", device="cpu"), catalog)
