"""Decode speed of the bundled model: through the worker client vs bare model.generate.

Greedy, 128 new tokens, same prompt, in one run. Prints tokens/s and time to first token
for both paths and their ratio (target: the app path keeps >= 95% of bare throughput).

    python bench/decode.py [--device cpu|cuda] [--precision auto|fp16|int8|...] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.settings import Conversation, GenerationSettings, LoadOptions

MODEL = "smollm2-135m-instruct"
PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
NEW_TOKENS = 128


def bare(options: LoadOptions, runs: int) -> tuple[list[float], list[float]]:
    """model.generate in this process; first token timed with a minimal streamer."""
    import torch
    from transformers.generation.streamers import BaseStreamer

    from engine.prompts import build_prompt
    from engine.runtime import load_model

    loaded = load_model(options)
    prompt = build_prompt(loaded.tokenizer, Conversation().add("user", PROMPT),
                          entry_format=loaded.entry.prompt_format, is_seq2seq=False,
                          max_prompt_tokens=4096)
    ids = torch.tensor([prompt.input_ids], device=loaded.model.device)

    class FirstToken(BaseStreamer):
        def __init__(self):
            self.calls = 0
            self.at: float | None = None

        def put(self, value):
            self.calls += 1
            if self.calls == 2:
                self.at = time.perf_counter()

        def end(self):
            pass

    rates, ttfts = [], []
    for run in range(runs + 1):
        streamer = FirstToken()
        start = time.perf_counter()
        out = loaded.model.generate(ids, attention_mask=torch.ones_like(ids),
                                    max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                                    do_sample=False, streamer=streamer,
                                    pad_token_id=loaded.tokenizer.eos_token_id)
        end = time.perf_counter()
        new = out.shape[1] - ids.shape[1]
        if run:  # the first run warms up
            rates.append((new - 1) / (end - streamer.at))
            ttfts.append(streamer.at - start)
    del loaded
    return rates, ttfts


def worker(options: LoadOptions, runs: int) -> tuple[list[float], list[float]]:
    from engine.worker.client import WorkerClient
    from engine.worker.protocol import Failed, ReplyDone, WorkerDied

    client = WorkerClient()
    try:
        for event in client.load(options):
            if isinstance(event, (Failed, WorkerDied)):
                raise SystemExit(event.message)
        # min_new_tokens is not a user setting: a long limit and a prompt that makes the
        # model talk; replies shorter than 128 tokens are reported.
        settings = GenerationSettings(temperature=0, repetition_penalty=1.0,
                                      max_new_tokens=NEW_TOKENS)
        rates, ttfts = [], []
        for run in range(runs + 1):
            stats = None
            sent = time.perf_counter()
            first = None
            for event in client.generate(Conversation().add("user", PROMPT), settings):
                if first is None:
                    first = time.perf_counter()
                if isinstance(event, ReplyDone):
                    stats = event.stats
            if stats is None:
                raise SystemExit("the reply did not finish")
            if stats.new_tokens < NEW_TOKENS:
                print(f"note: the reply stopped at {stats.new_tokens} tokens", file=sys.stderr)
            if run:
                rates.append(stats.tokens_per_s)
                ttfts.append(first - sent)  # as the caller sees it, pipe included
        return rates, ttfts
    finally:
        client.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    options = LoadOptions(MODEL, precision=args.precision, device=args.device)
    # Worker first, so the bare path's libraries are not yet in this process's memory.
    w_rates, w_ttft = worker(options, args.runs)
    b_rates, b_ttft = bare(options, args.runs)
    w, b = statistics.median(w_rates), statistics.median(b_rates)
    print(f"model {MODEL}, {args.precision} on {args.device}, greedy, {NEW_TOKENS} new tokens, "
          f"median of {args.runs} runs after a warm-up")
    b_first, w_first = statistics.median(b_ttft) * 1000, statistics.median(w_ttft) * 1000
    print(f"bare model.generate : {b:6.1f} tok/s, first token {b_first:5.0f} ms")
    print(f"worker client       : {w:6.1f} tok/s, first token {w_first:5.0f} ms")
    print(f"ratio worker/bare   : {w / b:.3f} (target >= 0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
