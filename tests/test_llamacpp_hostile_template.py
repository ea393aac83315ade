"""A GGUF file whose chat template is a hostile program, on llama.cpp through the real
worker: one failure line, the worker still serving (tests/test_worker_hostile_template.py
does the same on transformers)."""

from __future__ import annotations

import pytest
from llama_support import require_llama_cpp

require_llama_cpp()

from test_worker_hostile_template import DOUBLING, GREEDY, LOOPS, ask  # noqa: E402
from tiny_gguf import write_tiny_gguf  # noqa: E402
from tiny_models import overlay_text  # noqa: E402

from engine.events import Failed, Loaded, ReplyDone  # noqa: E402
from engine.settings import LoadOptions  # noqa: E402
from engine.worker.client import WorkerClient  # noqa: E402


@pytest.mark.parametrize(
    "template, limit",
    [(LOOPS, "the model's chat template is broken: it "), (DOUBLING, "MB of memory")],
    ids=["nested-loops", "doubling"],
)
def test_a_hostile_gguf_template_fails_in_one_line(tmp_path, monkeypatch, template, limit):
    monkeypatch.setenv("SMOLLM_TUI_TEMPLATE_SECONDS", "3")
    gguf = write_tiny_gguf(tmp_path / "hostile.gguf", chat_template=template)
    catalog = tmp_path / "hostile.toml"
    catalog.write_text(overlay_text({"tiny-hostile-gguf": gguf}))
    client = WorkerClient(catalog_path=str(catalog))
    try:
        loaded = list(client.load(LoadOptions("tiny-hostile-gguf", runtime="llama.cpp")))
        assert isinstance(loaded[-1], Loaded) and client.info.runtime == "llama.cpp", loaded
        pid, before = client.pid, client.status().rss_mb
        [failed] = list(client.generate(ask(), GREEDY))
        assert isinstance(failed, Failed) and limit in failed.message, failed
        assert "\n" not in failed.message
        assert client.status().rss_mb - before < 1024 and client.pid == pid
        done = list(client.generate(ask("The sea is"), GREEDY, raw=True))
        assert isinstance(done[-1], ReplyDone) and client.pid == pid
    finally:
        client.close()
