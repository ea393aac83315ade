"""The worker process through its client: streams, cancel, status, death, replacement."""

from __future__ import annotations

import os
import signal
import threading

import psutil
import pytest
from fixtures.tasks.helpers import TASKS_DIR

from engine.events import (
    Cancelled,
    Chunk,
    EvalDone,
    EvalProgress,
    Failed,
    Loaded,
    Progress,
    ReplyDone,
    TaskDone,
    WorkerDied,
)
from engine.records import EvalSpec
from engine.settings import Conversation, GenerationSettings, LoadOptions
from engine.worker.client import WorkerClient, describe_exit

GREEDY = GenerationSettings(temperature=0, repetition_penalty=1.0, max_new_tokens=16)
FINAL = (Loaded, ReplyDone, EvalDone, Cancelled, Failed, WorkerDied)


def ask(text="Hello there") -> Conversation:
    return Conversation().add("user", text)


def drain(events) -> list:
    events = list(events)
    assert sum(isinstance(e, FINAL) for e in events) == 1 and isinstance(events[-1], FINAL)
    return events


@pytest.fixture(scope="module")
def client(tiny_catalog):
    client = WorkerClient(catalog_path=str(tiny_catalog))
    states: list[str] = []
    client.on_state(states.append)
    client.states = states
    events = drain(client.load(LoadOptions("tiny-llama")))
    assert isinstance(events[-1], Loaded), events
    assert any(isinstance(e, Progress) for e in events)
    yield client
    client.close()


def test_loaded_client_reports_info_state_and_status(client):
    assert client.state == "ready"
    assert client.info.model_id == "tiny-llama"
    assert client.states[:2] == ["loading", "ready"]
    status = client.status()
    assert status.pid == client.pid != os.getpid()
    assert status.rss_mb > 100 and status.model_id == "tiny-llama"
    assert status.cuda_allocated_mb is None


def test_generate_streams_then_one_final_event(client):
    events = drain(client.generate(ask(), GREEDY))
    assert isinstance(events[-1], ReplyDone)
    assert all(isinstance(e, Chunk) for e in events[:-1])
    assert events[-1].stats.new_tokens == 16
    again = drain(client.generate(ask(), GREEDY))
    text = "".join(e.text for e in events[:-1])
    assert "".join(e.text for e in again[:-1]) == text
    assert client.state == "ready"


def test_cancel_from_another_thread(client):
    events = []
    for event in client.generate(ask(), GREEDY.with_values(max_new_tokens=1500)):
        events.append(event)
        if len(events) == 2:
            threading.Thread(target=client.cancel).start()
    assert isinstance(events[-1], Cancelled)
    assert events[-1].stats.stop_reason == "cancelled"
    assert events[-1].stats.new_tokens < 1500
    assert client.state == "ready"


def test_a_second_request_while_busy_is_refused(client):
    stream = client.generate(ask(), GREEDY.with_values(max_new_tokens=1500))
    assert isinstance(next(stream), Chunk)
    busy = drain(client.generate(ask(), GREEDY))
    assert isinstance(busy[-1], Failed) and "busy" in busy[-1].message
    stream.close()  # abandoning a stream cancels and drains it
    assert isinstance(drain(client.generate(ask(), GREEDY))[-1], ReplyDone)


def test_bad_requests_become_failed_events(client):
    bad = drain(client.generate(ask(), GenerationSettings(top_k=-1)))
    assert isinstance(bad[-1], Failed) and bad[-1].kind == "usage" and "top_k" in bad[-1].message
    huge = drain(client.generate(ask("x" * 2**20), GREEDY))
    assert isinstance(huge[-1], Failed) and "too long" in huge[-1].message
    assert client.state == "ready"


def test_evaluate_answers_with_one_final_event(client):
    # An unknown task: one failed TaskDone naming it, then EvalDone, the one final event.
    events = drain(client.evaluate(EvalSpec(tasks=("no-such-task",), limit=1)))
    assert [type(e) for e in events] == [TaskDone, EvalDone]
    result = events[0].result
    assert (result.task, result.status) == ("no-such-task", "failed")
    assert "no-such-task" in result.error
    assert client.state == "ready"


def test_cancel_during_evaluate_ends_it_with_cancelled(client):
    """Cancel from another thread at the first progress event of a full run of two tasks:
    the running task is stored as cancelled, the second never starts, and the stream's one
    final event is Cancelled."""
    spec = EvalSpec(tasks=("fx_choice4", "fx_yesno"), limit=None, include_path=str(TASKS_DIR))
    events = []
    for event in client.evaluate(spec):
        events.append(event)
        if isinstance(event, EvalProgress) and len(events) == 1:
            threading.Thread(target=client.cancel).start()
    drain(events)
    assert isinstance(events[-1], Cancelled)
    [done] = [e for e in events if isinstance(e, TaskDone)]
    assert (done.result.task, done.result.status) == ("fx_choice4", "cancelled")
    assert not any(isinstance(e, EvalProgress) and e.task == "fx_yesno" for e in events)
    assert client.state == "ready"
    assert isinstance(drain(client.generate(ask(), GREEDY))[-1], ReplyDone)  # still serves


def test_unknown_model_and_remote_code_fail_without_a_worker(tiny_catalog):
    fresh = WorkerClient(catalog_path=str(tiny_catalog))
    unknown = drain(fresh.load(LoadOptions("no-such-model")))
    assert unknown[-1].kind == "usage" and "unknown model" in unknown[-1].message
    code = drain(fresh.load(LoadOptions("phonelm-0.5b")))
    assert code[-1].kind == "remote-code" and "--trust-remote-code" in code[-1].message
    missing = drain(fresh.load(LoadOptions("qwen2.5-0.5b")))
    assert missing[-1].kind == "missing-model"
    assert fresh.pid is None and fresh.state == "none"
    nothing = drain(fresh.generate(ask(), GREEDY))
    assert nothing[-1].kind == "usage" and "no model" in nothing[-1].message


def test_sigkill_mid_reply_then_a_new_worker_serves(tiny_catalog):
    worker = WorkerClient(catalog_path=str(tiny_catalog))
    try:
        assert isinstance(drain(worker.load(LoadOptions("tiny-llama")))[-1], Loaded)
        old = worker.pid
        events = []
        for event in worker.generate(ask(), GREEDY.with_values(max_new_tokens=1500)):
            events.append(event)
            if len(events) == 2:
                os.kill(old, signal.SIGKILL)
        assert sum(isinstance(e, FINAL) for e in events) == 1
        died = events[-1]
        assert isinstance(died, WorkerDied) and died.exitcode == -signal.SIGKILL
        assert "killed, most likely out of memory (SIGKILL)" in died.message
        assert worker.state == "died" and worker.status() is None
        # Loading a different model starts a fresh worker.
        assert isinstance(drain(worker.load(LoadOptions("tiny-t5")))[-1], Loaded)
        assert worker.pid != old and worker.info.kind == "seq2seq"
        t5_pid = worker.pid
        assert isinstance(drain(worker.generate(ask(), GREEDY))[-1], ReplyDone)
        # ... and replacing it ends the old process, returning its memory.
        assert isinstance(drain(worker.load(LoadOptions("tiny-llama")))[-1], Loaded)
        assert not psutil.pid_exists(t5_pid) or psutil.Process(t5_pid).status() == "zombie"
    finally:
        worker.close()
        worker.close()  # idempotent
    assert worker.state == "none" and worker.pid is None


def test_describe_exit():
    assert describe_exit(-9) == "the worker was killed, most likely out of memory (SIGKILL)"
    assert "SIGSEGV" in describe_exit(-11)
    assert "exit code 3" in describe_exit(3)
