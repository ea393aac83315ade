"""llama.cpp through the real worker process: the same requests, events and final-event
rule as transformers (tests/test_worker.py); cancel, refusals, evaluation, a killed worker."""

from __future__ import annotations

import os
import signal
import threading

import pytest
from llama_support import BUNDLED, require_llama_cpp

require_llama_cpp()

from engine.runtimes import llamacpp  # noqa: E402
from engine.settings import Conversation, GenerationSettings, LoadOptions  # noqa: E402
from engine.worker.client import WorkerClient  # noqa: E402
from engine.worker.protocol import (  # noqa: E402
    Cancelled,
    Chunk,
    Failed,
    Loaded,
    Progress,
    ReplyDone,
    WorkerDied,
)

GREEDY = GenerationSettings(temperature=0, repetition_penalty=1.0, max_new_tokens=16)
FINAL = (Loaded, ReplyDone, Cancelled, Failed, WorkerDied)


def ask(text="Tell me a story about the sea.") -> Conversation:
    return Conversation().add("user", text)


def drain(events) -> list:
    events = list(events)
    assert sum(isinstance(e, FINAL) for e in events) == 1 and isinstance(events[-1], FINAL)
    return events


@pytest.fixture(scope="module")
def client():
    client = WorkerClient()
    events = drain(client.load(LoadOptions(BUNDLED, runtime="auto")))
    assert isinstance(events[-1], Loaded), events
    assert any(isinstance(e, Progress) and "llama.cpp" in e.stage for e in events)
    yield client
    client.close()


def test_auto_loads_the_bundled_model_on_llamacpp(client):
    info = client.info
    assert (info.runtime, info.precision, info.device) == ("llama.cpp", "Q4_1", "cpu")
    status = client.status()
    assert status.pid == client.pid != os.getpid() and status.model_id == BUNDLED
    assert status.cuda_allocated_mb is None


def test_generate_streams_then_one_final_event(client):
    events = drain(client.generate(ask(), GREEDY))
    assert isinstance(events[-1], ReplyDone)
    assert all(isinstance(e, Chunk) for e in events[:-1]) and len(events) > 2
    stats = events[-1].stats
    assert stats.new_tokens == 16 and stats.stop_reason == "length"
    assert stats.runtime == "llama.cpp"
    again = drain(client.generate(ask(), GREEDY))
    assert "".join(e.text for e in again[:-1]) == "".join(e.text for e in events[:-1])
    assert client.state == "ready"


def test_cancel_from_another_thread(client):
    events = []
    for event in client.generate(ask(), GREEDY.with_values(max_new_tokens=3000)):
        events.append(event)
        if len(events) == 2:
            threading.Thread(target=client.cancel).start()
    assert isinstance(events[-1], Cancelled)
    assert events[-1].stats.stop_reason == "cancelled"
    assert events[-1].stats.new_tokens < 3000
    assert client.state == "ready"


def test_abandoned_stream_is_cancelled_and_the_next_request_served(client):
    stream = client.generate(ask(), GREEDY.with_values(max_new_tokens=3000))
    assert isinstance(next(stream), Chunk)
    busy = drain(client.generate(ask(), GREEDY))
    assert isinstance(busy[-1], Failed) and "busy" in busy[-1].message
    stream.close()
    assert isinstance(drain(client.generate(ask(), GREEDY))[-1], ReplyDone)


def test_controls_llamacpp_lacks_are_refused_clearly(client):
    ngram = drain(client.generate(ask(), GREEDY.with_values(no_repeat_ngram_size=2)))
    assert ngram[-1].kind == "usage"
    assert "llama.cpp has no no-repeat n-gram control" in ngram[-1].message
    huge = drain(client.generate(ask("x" * 2**20), GREEDY))
    assert huge[-1].kind == "usage" and "too long" in huge[-1].message
    assert client.state == "ready"


def test_impossible_runtime_choices_fail_without_a_worker(tiny_catalog, monkeypatch):
    fresh = WorkerClient(catalog_path=str(tiny_catalog))
    no_gguf = drain(fresh.load(LoadOptions("tiny-llama", runtime="llama.cpp")))
    assert no_gguf[-1].kind == "usage" and "has no GGUF file" in no_gguf[-1].message
    no_file = drain(fresh.load(LoadOptions(BUNDLED, precision="int8", runtime="llama.cpp")))
    assert no_file[-1].kind == "usage" and "no int8 GGUF file" in no_file[-1].message
    monkeypatch.setattr(llamacpp, "installed", lambda: False)
    missing = drain(fresh.load(LoadOptions(BUNDLED, runtime="llama.cpp")))
    assert missing[-1].kind == "usage"
    assert "llama.cpp runtime is not installed" in missing[-1].message
    assert "make setup" in missing[-1].message
    assert fresh.pid is None and fresh.state == "none"


def test_sigkill_mid_reply_then_a_transformers_worker_serves(tiny_catalog):
    worker = WorkerClient(catalog_path=str(tiny_catalog))
    try:
        assert isinstance(drain(worker.load(LoadOptions(BUNDLED, runtime="llama.cpp")))[-1], Loaded)
        old = worker.pid
        events = []
        for event in worker.generate(ask(), GREEDY.with_values(max_new_tokens=3000)):
            events.append(event)
            if len(events) == 2:
                os.kill(old, signal.SIGKILL)
        assert sum(isinstance(e, FINAL) for e in events) == 1
        died = events[-1]
        assert isinstance(died, WorkerDied) and died.exitcode == -signal.SIGKILL
        assert worker.state == "died" and worker.status() is None
        assert isinstance(drain(worker.load(LoadOptions("tiny-llama", runtime="auto")))[-1], Loaded)
        assert worker.pid != old and worker.info.runtime == "transformers"
        assert isinstance(drain(worker.generate(ask(), GREEDY))[-1], ReplyDone)
    finally:
        worker.close()
    assert worker.state == "none"
