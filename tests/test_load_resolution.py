"""A load is resolved once, before a worker starts (engine.runtimes.loading.resolve_load): the
runtime named, the file it runs and the thread count travel in the request, and the
process that loads decides none of them again. A request naming a file that is not one
of the model's own is refused before the file is opened. The bundled real GGUF, the
real worker process."""

from __future__ import annotations

import dataclasses

import pytest
from llama_support import BUNDLED, require_llama_cpp

require_llama_cpp()

from engine import gguf_files  # noqa: E402
from engine.catalog.bundled import gguf_path  # noqa: E402
from engine.catalog.entries import load_catalog  # noqa: E402
from engine.errors import UsageError  # noqa: E402
from engine.runtimes.loading import load_model, resolve_load  # noqa: E402
from engine.settings import LoadOptions, usable_cores  # noqa: E402
from engine.worker.client import WorkerClient  # noqa: E402
from engine.worker.protocol import Failed, Loaded  # noqa: E402


def test_auto_resolves_to_the_runtime_its_file_and_the_threads():
    entry = load_catalog().get(BUNDLED)
    resolved = resolve_load(entry, LoadOptions(BUNDLED, runtime="auto"))
    assert resolved.resolved
    assert resolved.runtime == "llama.cpp"  # a GGUF file on disk, llama.cpp installed
    assert resolved.file == str(gguf_path())
    assert resolved.threads == usable_cores()  # nothing set or measured in this test's home
    assert resolve_load(entry, resolved) is resolved  # resolved once: kept as it is


def test_the_default_runtime_carries_no_file():
    entry = load_catalog().get(BUNDLED)
    resolved = resolve_load(entry, LoadOptions(BUNDLED, runtime="transformers", threads=1))
    assert (resolved.runtime, resolved.file, resolved.threads) == ("transformers", None, 1)


def test_the_file_is_chosen_once_per_load(monkeypatch):
    """An explicit llama.cpp load at a precision chose its file three times (the load's
    checks, the runtime's resolution, the load itself)."""
    calls = []
    choose = gguf_files.choose_file

    def counted(entry, precision):
        calls.append(precision)
        return choose(entry, precision)

    monkeypatch.setattr(gguf_files, "choose_file", counted)
    loaded = load_model(LoadOptions(BUNDLED, runtime="llama.cpp", precision="int4"))
    assert loaded.info.dtype == "Q4_1" and loaded.info.runtime == "llama.cpp"
    assert calls == ["int4"]


@pytest.mark.parametrize("runtime", ["llama.cpp", "transformers"])
def test_a_request_naming_another_file_is_refused_before_it_is_opened(tmp_path, runtime):
    entry = load_catalog().get(BUNDLED)
    resolved = resolve_load(entry, LoadOptions(BUNDLED, runtime=runtime))
    other = tmp_path / "other.gguf"
    other.write_bytes(gguf_path().read_bytes()[:4096])  # a GGUF header, not this model's
    with pytest.raises(UsageError, match="not one of|weights itself"):
        load_model(dataclasses.replace(resolved, file=str(other)))


def test_the_worker_loads_what_the_request_resolved():
    """Through the real worker: the load reports the runtime, file's quant and threads
    resolved before it started; a refusal comes before the worker does."""
    client = WorkerClient()
    try:
        refused = list(client.load(LoadOptions(BUNDLED, runtime="llama.cpp", precision="fp16")))
        assert isinstance(refused[-1], Failed) and "fp16 GGUF file" in refused[-1].message
        assert client.state == "none"  # refused before a worker started
        events = list(client.load(LoadOptions(BUNDLED, runtime="auto", threads=1)))
        final = events[-1]
        assert isinstance(final, Loaded), final
        info = final.info
        assert (info.runtime, info.dtype, info.threads) == ("llama.cpp", "Q4_1", 1)
    finally:
        client.close()


def test_the_load_takes_the_entry_it_was_resolved_for_not_a_second_read():
    """The worker got the model id and read the catalog again: an overlay edited between
    the check and the load would have loaded another model than the one checked. An entry
    that no catalog file holds loads: it was not looked up again."""
    entry = dataclasses.replace(load_catalog().get(BUNDLED), id="held-by-the-caller")
    options = resolve_load(entry, LoadOptions(entry.id, runtime="llama.cpp", threads=1))
    loaded = load_model(options, entry=entry)
    assert loaded.info.model_id == "held-by-the-caller"
    with pytest.raises(UsageError, match="held-by-the-caller"):
        load_model(dataclasses.replace(options, model_id=BUNDLED), entry=entry)
