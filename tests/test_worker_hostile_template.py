"""A model whose chat template is a hostile program (nested range() loops, a string that
doubles each turn), through the real worker: one failure line, the worker's memory
bounded, the worker still serving; Esc stops a render; and a worker whose parent is
killed ends itself instead of rendering on, orphaned."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest
from tiny_models import overlay_text

from engine.events import Cancelled, Failed, Loaded, ReplyDone
from engine.jobs.process import start_time
from engine.settings import Conversation, GenerationSettings, LoadOptions
from engine.worker.client import WorkerClient

# Each loop is within the sandbox's own bound on range(); together, 10^10 turns, writing.
LOOPS = (
    "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}-{{ j }} "
    "{% endfor %}{% endfor %}"
)
# The same turns writing nothing: only the clock stops it.
SILENT_LOOPS = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
# Forty-odd turns: 2^60 characters, were it not stopped.
DOUBLING = (
    "{% set ns = namespace(text='ab') %}{% for i in range(60) %}"
    "{% set ns.text = ns.text ~ ns.text %}{% endfor %}{{ ns.text }}"
)
GREEDY = GenerationSettings(temperature=0, repetition_penalty=1.0, max_new_tokens=4)


def hostile_catalog(tiny_llama: Path, folder: Path, template: str) -> Path:
    """The tiny Llama with ``template`` as its chat template (chat_template.jinja)."""
    model = folder / "hostile-model"
    shutil.copytree(tiny_llama, model)
    (model / "chat_template.jinja").write_text(template, encoding="utf-8")
    catalog = folder / "hostile.toml"
    catalog.write_text(overlay_text({"tiny-hostile": model}))
    return catalog


def ask(text: str = "Hello") -> Conversation:
    return Conversation().add("user", text)


def loaded_client(catalog: Path) -> WorkerClient:
    client = WorkerClient(catalog_path=str(catalog))
    events = list(client.load(LoadOptions("tiny-hostile")))
    assert isinstance(events[-1], Loaded), events
    return client


@pytest.mark.parametrize(
    "template, limit",
    [(LOOPS, "the model's chat template is broken: it "), (DOUBLING, "MB of memory")],
    ids=["nested-loops", "doubling"],
)
def test_a_hostile_template_fails_in_one_line_and_the_worker_goes_on(
    tiny_llama, tmp_path, monkeypatch, template, limit
):
    monkeypatch.setenv("SMOLLM_TUI_TEMPLATE_SECONDS", "3")
    client = loaded_client(hostile_catalog(tiny_llama, tmp_path, template))
    try:
        pid, before = client.pid, client.status().rss_mb
        events = list(client.generate(ask(), GREEDY))
        [failed] = events
        assert isinstance(failed, Failed) and limit in failed.message, failed
        assert "\n" not in failed.message and failed.message.endswith("use raw completion")
        # The render's memory was stopped at the guard's limit (256 MB, plus one step).
        assert client.status().rss_mb - before < 1024
        assert client.pid == pid and client.state == "ready"
        # Still serving: raw completion needs no template.
        done = list(client.generate(ask("The sea is"), GREEDY, raw=True))
        assert isinstance(done[-1], ReplyDone) and client.pid == pid
    finally:
        client.close()


def test_esc_stops_a_render_that_has_not_finished(tiny_llama, tmp_path, monkeypatch):
    monkeypatch.setenv("SMOLLM_TUI_TEMPLATE_SECONDS", "600")
    client = loaded_client(hostile_catalog(tiny_llama, tmp_path, LOOPS))
    try:
        events: list = []
        reply = threading.Thread(target=lambda: events.extend(client.generate(ask(), GREEDY)))
        reply.start()
        # cancel() right after the request went out: the worker sees the flag from inside
        # the render (a cancel before the request would be cleared by it).
        sent = threading.Event()
        client.on_state(lambda state: state == "generating" and sent.set())
        if client.state != "generating":
            assert sent.wait(60)
        client.cancel()
        reply.join(120)
        assert not reply.is_alive(), "the render went on after Esc"
        assert len(events) == 1 and isinstance(events[0], Cancelled), events
        assert client.state == "ready"
    finally:
        client.close()


_ORPHANING_PARENT = textwrap.dedent(
    """
    import sys, threading
    from engine.settings import Conversation, GenerationSettings, LoadOptions
    from engine.worker.client import WorkerClient
    client = WorkerClient(catalog_path=sys.argv[1])
    assert type(list(client.load(LoadOptions("tiny-hostile")))[-1]).__name__ == "Loaded"
    generating = threading.Event()
    client.on_state(lambda state: state == "generating" and generating.set())
    chat = Conversation().add("user", "Hello")
    threading.Thread(target=lambda: list(client.generate(chat, GenerationSettings()))).start()
    generating.wait()
    print(client.pid, flush=True)
    threading.Event().wait()  # until killed
    """
)


def test_a_worker_whose_parent_is_killed_ends_itself(tiny_llama, tmp_path):
    """SIGKILL to the process that started the worker, while the worker renders a template
    that would run for ten minutes: the worker notices within a second or so and exits."""
    catalog = hostile_catalog(tiny_llama, tmp_path, SILENT_LOOPS)
    env = {**os.environ, "SMOLLM_TUI_TEMPLATE_SECONDS": "600"}
    parent = subprocess.Popen(
        [sys.executable, "-c", _ORPHANING_PARENT, str(catalog)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    worker = None
    try:
        line = parent.stdout.readline() if parent.stdout else ""
        assert line.strip().isdigit(), f"the parent printed {line!r}"
        worker = psutil.Process(int(line))
        parent.kill()
        parent.wait()
        assert ended(worker, within_s=60), "the orphaned worker kept running"
    finally:
        parent.kill()
        if worker is not None and start_time(worker.pid) is not None:
            os.kill(worker.pid, signal.SIGKILL)


def ended(process: psutil.Process, within_s: float) -> bool:
    """Wait for ``process`` (not our child) to end, up to a deadline that fails the test;
    a zombie that nobody reaps (PID 1 in a container may not) counts as ended."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            process.wait(timeout=0.5)
            return True
        except psutil.TimeoutExpired:
            if start_time(process.pid) is None:
                return True
    return False
