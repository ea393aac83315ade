"""Measure llama.cpp's memory through the real worker, to check the constants of
engine/runtimes/llamacpp/memory.py (LLAMA_CPP_RUNTIME_MB, PREFILL_BYTES_PER_HEAD) on this machine.

For each working context: load the bundled Q4_1 file in a fresh worker, reply to a short
prompt, then (fresh worker again) to a prompt that fills about 85% of the context; the
worker's peak RSS each time. Overhead = short-prompt peak - file - f16 KV cache; prefill =
long-prompt peak - short-prompt peak, per 1024 context tokens. Then the estimate against
both peaks.

    python bench/llama_memory.py [--contexts 1024 4096]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

MODEL = "smollm2-135m-instruct"


def peak(words: int) -> tuple[float, int]:
    """(worker peak RSS MB, prompt tokens) of one 16-token greedy reply in a fresh worker."""
    from engine.settings import Conversation, GenerationSettings, LoadOptions
    from engine.worker.client import WorkerClient
    from engine.worker.protocol import Failed, ReplyDone

    client = WorkerClient()
    try:
        for event in client.load(LoadOptions(MODEL, runtime="llama.cpp")):
            if isinstance(event, Failed):
                raise SystemExit(event.message)
        text = " ".join(["the sea is"] * max(1, words // 3))
        settings = GenerationSettings(temperature=0, max_new_tokens=16)
        for event in client.generate(Conversation().add("user", text), settings):
            if isinstance(event, ReplyDone):
                return event.stats.peak_memory_mb, event.stats.prompt_tokens
    finally:
        client.close()
    raise SystemExit("the reply did not finish")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, nargs="+", default=[1024, 4096])
    args = parser.parse_args()
    from engine.catalog.entries import load_catalog
    from engine.memory import fit as memory
    from engine.runtimes.llamacpp.memory import LLAMA_CPP_RUNTIME_MB, PREFILL_BYTES_PER_HEAD

    entry = load_catalog(use_user_overlay=False).get(MODEL)
    home = tempfile.mkdtemp(prefix="smollm-llama-memory-")
    os.environ["SMOLLM_TUI_HOME"] = home  # the working context is set here, not for the user
    (Path(home) / "config").mkdir(parents=True)
    print(
        f"{'context':>7s} {'short':>7s} {'full':>7s} {'file':>6s} {'KV':>6s} "
        f"{'overhead':>8s} {'prefill/1k':>10s} {'estimate':>8s}"
    )
    for ctx in args.contexts:
        (Path(home) / "config" / "settings.json").write_text(json.dumps({"working_context": ctx}))
        guess = memory.estimate(entry, "auto", "cpu", context_length=ctx, runtime="llama.cpp")
        short, _ = peak(5)
        full, _ = peak(int(ctx * 0.85))
        overhead = short - guess.weights_mb - guess.kv_cache_mb
        prefill = (full - short) / ctx * 1024  # per 1024 tokens of context
        print(
            f"{ctx:7d} {short:7.1f} {full:7.1f} {guess.weights_mb:6.1f} "
            f"{guess.kv_cache_mb:6.1f} {overhead:8.1f} {prefill:10.1f} {guess.total_mb:8.1f}"
        )
    heads = 9  # SmolLM2-135M
    print(
        f"constants: LLAMA_CPP_RUNTIME_MB {LLAMA_CPP_RUNTIME_MB:.0f}, prefill per 1024 "
        f"tokens {heads * PREFILL_BYTES_PER_HEAD * 1024 / 2**20:.1f} MB"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
