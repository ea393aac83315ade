"""Latencies the tests check by behaviour, timed here (a loaded machine makes them vary).

    .venv/bin/python bench/latency.py

- the bundled model loading from its converted copy (target: under 1.5 s here);
- a 1 MB prompt refused, chat and raw (target: well under 1 s: it is never tokenized);
- stopping the telemetry sampler in the middle of a 60 s interval (target: milliseconds);
- a download from a Hub that refuses connections failing (target: well under 10 s);
- an evaluation cancelled through the worker at its first progress event: time from
  cancel() to the Cancelled event (target: within seconds, one chunk of requests);
- a built-in task failing offline, nothing cached (target: seconds, not the 30 s of retries).
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = ROOT / "tests" / "fixtures" / "tasks"


def timed(label: str, fn) -> None:
    began = time.perf_counter()
    fn()
    print(f"{label:<44} {time.perf_counter() - began:8.3f} s")


def bundled_load() -> None:
    from engine.catalog.bundled import ensure_converted
    from engine.runtimes.loading import load_model
    from engine.settings import LoadOptions

    ensure_converted()  # once, not timed
    load_model(LoadOptions("smollm2-135m-instruct"))  # imports torch and transformers
    loaded = load_model(LoadOptions("smollm2-135m-instruct"))
    print(f"{'bundled model, load of the converted copy':<44} {loaded.info.load_seconds:8.3f} s")


def huge_prompt(tiny_dir: Path) -> None:
    from transformers import AutoTokenizer

    from engine.runtimes.prompts import PromptTooLong, build_prompt
    from engine.settings import Conversation

    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    conversation = Conversation().add("user", "x" * 2**20)
    for raw in (False, True):

        def refuse(raw: bool = raw) -> None:
            try:
                build_prompt(
                    tokenizer,
                    conversation,
                    entry_format="chat-template",
                    is_seq2seq=False,
                    max_prompt_tokens=2000,
                    raw=raw,
                )
            except PromptTooLong:
                return
            raise SystemExit("a 1 MB prompt was accepted")

        timed(f"1 MB prompt refused ({'raw' if raw else 'chat'})", refuse)


def sampler_stop() -> None:
    from engine.telemetry import ReaderChain, Sampler
    from engine.telemetry.psutil_reader import PsutilReader

    first = threading.Event()
    sampler = Sampler(ReaderChain([("psutil", PsutilReader)]), interval=60.0)
    sampler.subscribe(lambda snap: first.set())
    sampler.start()
    first.wait(10)
    timed("telemetry sampler stop, mid-interval", sampler.stop)


def hub_unreachable() -> None:
    from tiny_models import overlay_text, tiny_llama_dir

    from engine import hub
    from engine.catalog.entries import load_catalog

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="smollm-bench-latency-"))
    overlay = work / "hub.toml"
    overlay.write_text(
        overlay_text({"bench-hub": tiny_llama_dir()}).replace(
            'source = "local"', 'source = "hub"\nrepo = "tests/bench-hub"'
        )
    )
    entry = load_catalog(overlay, use_user_overlay=False).get("bench-hub")

    def download() -> None:
        try:
            hub.download(entry)
        except hub.HubUnreachableError:
            return
        raise SystemExit("a download from a closed port succeeded")

    timed("download, Hub refusing connections", download)
    del os.environ["HF_ENDPOINT"]


def worker_evaluation(catalog: Path) -> None:
    from engine.events import Cancelled, EvalProgress, TaskDone
    from engine.records import EvalSpec
    from engine.settings import LoadOptions
    from engine.worker.client import WorkerClient

    client = WorkerClient(catalog_path=str(catalog))
    try:
        list(client.load(LoadOptions("bench-model")))
        spec = EvalSpec(tasks=("fx_choice4", "fx_yesno"), limit=None, include_path=str(TASKS_DIR))
        asked = None
        for event in client.evaluate(spec):
            if isinstance(event, EvalProgress) and asked is None:
                asked = time.perf_counter()
                client.cancel()
            if isinstance(event, Cancelled):
                print(
                    f"{'evaluation cancel -> Cancelled (worker)':<44} "
                    f"{time.perf_counter() - asked:8.3f} s"
                )
        spec = EvalSpec(tasks=("arc_easy",), limit=2)
        began = time.perf_counter()
        for event in client.evaluate(spec):
            if isinstance(event, TaskDone):
                print(
                    f"{'built-in task failing offline (worker)':<44} "
                    f"{time.perf_counter() - began:8.3f} s  ({event.result.status})"
                )
    finally:
        client.close()


def main() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import overlay_text, tiny_llama_dir

    work = Path(tempfile.mkdtemp(prefix="smollm-bench-latency-"))
    os.environ.setdefault("SMOLLM_TUI_HOME", str(work / "home"))
    os.environ["HF_HOME"] = str(work / "hf")  # nothing cached: the offline case
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("SMOLLM_TUI_BUNDLED_DIR", str(ROOT / ".cache" / "bundled"))
    catalog = work / "catalog.toml"
    catalog.write_text(overlay_text({"bench-model": tiny_llama_dir()}))
    bundled_load()
    huge_prompt(tiny_llama_dir())
    sampler_stop()
    hub_unreachable()
    worker_evaluation(catalog)


if __name__ == "__main__":
    main()
