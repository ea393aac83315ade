"""Decode speed of the bundled model on both runtimes, bare and through the worker, in one run.

The paths: bare transformers (model.generate in this process), bare llama-cpp-python
(Llama.generate on the same Q4_1 GGUF file) at its own default thread count and at each
count from 1 to the cores this process may use, and each runtime through the worker client
as the app uses it. Greedy, 128 new tokens, the same prompt; one warm-up each, then the
paths take turns run by run (so a busy machine slows them alike) and the median counts.

Targets: llama.cpp through the worker >= 5x transformers fp32 through the worker;
transformers through the worker >= 0.95x bare; llama.cpp through the worker (its default
thread count, every core) >= 0.95x bare llama-cpp-python at its best thread count. The
ratio to bare llama-cpp-python at its own default (half the cores) is shown beside it.

    python bench/decode.py [--runs 3] [--device auto|cpu|cuda] [--precision auto|fp16|...]
                           [--only llama.cpp|transformers]  (one runtime, bare and via worker)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.settings import Conversation, GenerationSettings, LoadOptions

MODEL = "smollm2-135m-instruct"
PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
NEW_TOKENS = 128
SETTINGS = GenerationSettings(temperature=0, repetition_penalty=1.0, max_new_tokens=NEW_TOKENS)


class BareTransformers:
    """model.generate in this process; first token timed with a minimal streamer."""

    name = "bare transformers"

    def __init__(self, options: LoadOptions):
        import torch
        from transformers.generation.streamers import BaseStreamer

        from engine.runtimes.loading import load_model
        from engine.runtimes.prompts import build_prompt

        self.torch = torch
        self.loaded = load_model(options)
        prompt = build_prompt(
            self.loaded.tokenizer,
            Conversation().add("user", PROMPT),
            entry_format=self.loaded.entry.prompt_format,
            is_seq2seq=False,
            max_prompt_tokens=4096,
        )
        self.ids = torch.tensor([prompt.input_ids], device=self.loaded.model.device)
        self.precision = self.loaded.info.precision

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

        self.streamer = FirstToken

    def run(self) -> tuple[float, float]:
        streamer = self.streamer()
        start = time.perf_counter()
        out = self.loaded.model.generate(
            self.ids,
            attention_mask=self.torch.ones_like(self.ids),
            max_new_tokens=NEW_TOKENS,
            min_new_tokens=NEW_TOKENS,
            do_sample=False,
            streamer=streamer,
            pad_token_id=self.loaded.tokenizer.eos_token_id,
        )
        end = time.perf_counter()
        new = out.shape[1] - self.ids.shape[1]
        return (new - 1) / (end - streamer.at), streamer.at - start


class BareLlamaCpp:
    """Llama.generate (llama-cpp-python's own token loop) on the same file, same context,
    with ``threads`` for decode and prompt (None: llama-cpp-python's defaults)."""

    def __init__(self, options: LoadOptions, threads: int | None = None):
        # The same process conditions the worker sets up (see engine/runtimes/llamacpp/load.py).
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import llama_cpp

        from engine.catalog.entries import load_catalog
        from engine.gguf_files import choose_file, read_metadata
        from engine.preferences import working_context
        from engine.runtimes.llamacpp.load import (
            _model_params,
            amx_compiled,
            context_size,
            resolve_device,
        )
        from engine.runtimes.llamacpp.tokenizer import GGUFTokenizer

        entry = load_catalog().get(options.model_id)
        chosen = choose_file(entry, options.precision)
        gpu = resolve_device(options.device, llama_cpp) == "cuda"
        arch = str(
            read_metadata(chosen.path, ("general.architecture",)).get("general.architecture", "")
        )
        n_ctx = context_size(chosen.path, arch, entry, working_context())
        with _model_params(use_extra_bufts=not amx_compiled(llama_cpp)):
            self.llama = llama_cpp.Llama(
                model_path=str(chosen.path),
                n_ctx=n_ctx,
                n_gpu_layers=-1 if gpu else 0,
                verbose=False,
                **({} if threads is None else {"n_threads": threads, "n_threads_batch": threads}),
            )
        self.threads = int(self.llama.context_params.n_threads)
        self.default = threads is None
        self.name = f"bare llama-cpp-python {'default' if self.default else self.threads}"
        tokenizer = GGUFTokenizer(self.llama, self.llama.metadata.get("tokenizer.chat_template"))
        text = tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}])
        self.ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        self.precision = chosen.quant

    def run(self) -> tuple[float, float]:
        start = time.perf_counter()
        first = last = start
        count = 0
        for _token in self.llama.generate(self.ids, temp=0.0, repeat_penalty=1.0, reset=True):
            count += 1
            last = time.perf_counter()
            if count == 1:
                first = last
            if count == NEW_TOKENS:
                break
        # Not reset: like the worker, the next run finds the prompt in the KV cache.
        return (count - 1) / (last - first), first - start


class ThroughWorker:
    """The app's path: the worker client, stats as the worker measured them."""

    def __init__(self, options: LoadOptions):
        from engine.events import Failed, Loaded, WorkerDied
        from engine.worker.client import WorkerClient

        self.name = f"{options.runtime} via worker"
        self.client = WorkerClient()
        for event in self.client.load(options):
            if isinstance(event, (Failed, WorkerDied)):
                raise SystemExit(f"{self.name}: {event.message}")
            if isinstance(event, Loaded):
                self.precision = event.info.precision
                self.threads = event.info.threads

    def run(self) -> tuple[float, float]:
        from engine.events import ReplyDone

        stats = None
        for event in self.client.generate(Conversation().add("user", PROMPT), SETTINGS):
            if isinstance(event, ReplyDone):
                stats = event.stats
        if stats is None:
            raise SystemExit(f"{self.name}: the reply did not finish")
        if stats.new_tokens < NEW_TOKENS:
            print(f"note: {self.name} stopped at {stats.new_tokens} tokens", file=sys.stderr)
        return stats.tokens_per_s, stats.time_to_first_token_s or 0.0

    def close(self) -> None:
        self.client.close()


def main() -> int:
    from engine.settings import usable_cores

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", help="transformers precision")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--only",
        choices=("llama.cpp", "transformers"),
        help="measure one runtime (its worker / bare ratios only)",
    )
    args = parser.parse_args()
    hf = LoadOptions(MODEL, precision=args.precision, device=args.device, runtime="transformers")
    cpp = LoadOptions(MODEL, device=args.device, runtime="llama.cpp")
    # Workers first, so that their start is not slowed by the libraries loaded here.
    paths: list = []
    if args.only != "llama.cpp":
        paths.append(ThroughWorker(hf))
    if args.only != "transformers":
        paths.append(ThroughWorker(cpp))
    if args.only != "llama.cpp":
        paths.append(BareTransformers(hf))
    if args.only != "transformers":
        paths.append(BareLlamaCpp(cpp))
        paths += [BareLlamaCpp(cpp, n) for n in range(1, usable_cores() + 1)]
    rates, firsts = _measure(paths, args.runs)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(
        f"model {MODEL} on {args.device}, greedy, {NEW_TOKENS} new tokens, median of "
        f"{args.runs} runs after a warm-up, paths taking turns; {usable_cores()} cores usable"
    )
    for path in paths:
        first = statistics.median(firsts[path.name]) * 1000
        threads = f"{path.threads} thr" if getattr(path, "threads", None) else ""
        print(
            f"  {path.name:29s} {path.precision:5s} {threads:>6s} {median[path.name]:7.1f} "
            f"tok/s, first token {first:5.0f} ms"
        )
    _print_ratios(paths, rates, median)
    return 0


def _measure(paths: list, runs: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    rates: dict[str, list[float]] = {p.name: [] for p in paths}
    firsts: dict[str, list[float]] = {p.name: [] for p in paths}
    try:
        for path in paths:
            path.run()  # warm-up
        for index in range(runs):
            for path in paths:
                rate, first = path.run()
                rates[path.name].append(rate)
                firsts[path.name].append(first)
                print(
                    f"run {index + 1}: {path.name:29s} {rate:7.1f} tok/s, first token "
                    f"{first * 1000:5.0f} ms",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        for path in paths:
            if isinstance(path, ThroughWorker):
                path.close()
    return rates, firsts


def _print_ratios(paths: list, rates: dict[str, list[float]], median: dict[str, float]) -> None:
    bare_counts = [p for p in paths if isinstance(p, BareLlamaCpp) and not p.default]
    best = max(bare_counts, key=lambda p: median[p.name]).name if bare_counts else ""
    count = best.rsplit(" ", 1)[-1]
    pairs: list[tuple[str, str, str, float | None]] = [
        (
            "llama.cpp / transformers, via worker",
            "llama.cpp via worker",
            "transformers via worker",
            5.0,
        ),
        ("transformers worker / bare", "transformers via worker", "bare transformers", 0.95),
        (
            f"llama.cpp worker / bare best ({count} thread{'' if count == '1' else 's'})",
            "llama.cpp via worker",
            best,
            0.95,
        ),
        (
            "llama.cpp worker / bare default threads",
            "llama.cpp via worker",
            "bare llama-cpp-python default",
            None,
        ),
    ]
    # Two figures per ratio: of the medians, and the median of the ratios within a round
    # (runs next to each other see the same load, which matters on a shared machine).
    print(f"  {'ratio':42s} {'medians':>8s} {'rounds':>7s}")
    for label, top, bottom, target in pairs:
        if top not in median or bottom not in median:
            continue
        of_medians = median[top] / median[bottom]
        in_rounds = statistics.median(a / b for a, b in zip(rates[top], rates[bottom], strict=True))
        if target is None:
            verdict = ""
        elif min(of_medians, in_rounds) >= target:
            verdict = f"(target >= {target}) ok"
        elif in_rounds >= target:
            verdict = f"(target >= {target}) ok in rounds"
        else:
            verdict = f"(target >= {target}) BELOW TARGET"
        print(f"  {label:42s} {of_medians:8.2f} {in_rounds:7.2f}  {verdict}".rstrip())


if __name__ == "__main__":
    sys.exit(main())
