"""`smollm-tui generate [MODEL] PROMPT`: one reply, streamed, through the worker.

With one positional argument it is the prompt and the bundled model answers; with two,
the first is the model (a catalog id or a Hub repo id). A prompt of "-" is read from
standard input. The reply goes to stdout as it is generated and the stats to stderr, or
everything as one JSON object with --json. On a terminal the reply's control characters
are shown as symbols; piped, it is written exactly as generated. Ctrl+C stops the reply
and keeps what was generated so far.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import threading
import types

from engine.errors import SmollmError, UsageError, exit_code_of
from engine.settings import (
    DEVICES,
    PRECISIONS,
    RUNTIMES,
    Conversation,
    GenerationSettings,
    LoadOptions,
    parse_threads,
)
from tui.commands.common import catalog_from, model_text, print_json
from tui.reply_stats import long_line
from tui.safe_text import visible

NAME = "generate"
ORDER = 20
HELP = (
    "generate one reply to a prompt (streams to stdout, stats to stderr; on a terminal "
    "control characters in the reply show as symbols, piped it is exact)"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="catalog id or Hub repo id; leave out to use the bundled model "
        "(a single argument is the prompt)",
    )
    parser.add_argument(
        "prompt", nargs="?", metavar="PROMPT", help="the message; '-' reads it from standard input"
    )
    parser.add_argument("--system", default="", metavar="S", help="system prompt")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="continue the prompt text as-is (no chat template), for base models",
    )
    defaults = GenerationSettings()
    parser.add_argument(
        "--temperature",
        type=float,
        default=defaults.temperature,
        metavar="T",
        help=f"0 = greedy (default {defaults.temperature})",
    )
    parser.add_argument("--top-p", type=float, default=defaults.top_p, metavar="P")
    parser.add_argument("--top-k", type=int, default=defaults.top_k, metavar="K")
    parser.add_argument(
        "--repetition-penalty", type=float, default=defaults.repetition_penalty, metavar="R"
    )
    parser.add_argument(
        "--no-repeat-ngram-size", type=int, default=defaults.no_repeat_ngram_size, metavar="N"
    )
    parser.add_argument("--max-new-tokens", type=int, default=defaults.max_new_tokens, metavar="N")
    parser.add_argument(
        "--seed", type=int, default=None, metavar="S", help="make sampling reproducible"
    )
    parser.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="TEXT",
        help="stop when the reply contains TEXT (repeatable)",
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="auto = fp16 on CUDA, fp32 on CPU; int8/int4 need bitsandbytes",
    )
    parser.add_argument("--device", choices=DEVICES, default="auto")
    add_threads_option(parser)
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="auto = llama.cpp for GGUF weights (the bundled model, local "
        ".gguf entries) when it is installed, else transformers",
    )
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow this model's own Python code from its repository to run",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (text, stats, load info) instead of streaming",
    )


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """--threads N (checked by engine.settings.parse_threads in run(): one line, exit 2)."""
    parser.add_argument(
        "--threads",
        metavar="N",
        help="CPU threads the model computes with (default: the `threads` setting, "
        "else every core this process may use)",
    )


def run(args: argparse.Namespace) -> int:
    from engine.events import Cancelled, Chunk, Failed, Loaded, ReplyDone, Trimmed, WorkerDied
    from engine.models.consent import resolve_trust
    from engine.worker.client import WorkerClient

    if args.model is not None and args.prompt is not None and not args.model.strip():
        raise UsageError(
            "the model id is empty: name one (`smollm-tui list` shows them), or "
            "give only the prompt to use the bundled model"
        )
    catalog = catalog_from(args)
    settings = GenerationSettings(
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        no_repeat_ngram_size=args.no_repeat_ngram_size,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        stop=tuple(args.stop),
    ).validate()
    model, prompt = _positionals(args)
    entry = catalog.get(model) if model is not None else catalog.default()
    options = LoadOptions(
        entry.id,
        precision=args.precision,
        device=args.device,
        trust_remote_code=resolve_trust(entry, args.trust_remote_code),
        catalog_path=str(args.catalog) if args.catalog else None,
        runtime=args.runtime,
        threads=parse_threads(args.threads),
    ).validate()
    from engine.runtimes.choice import check_settings, resolve_runtime

    # Refused before anything loads: llama.cpp missing, no GGUF file, a control it lacks.
    check_settings(resolve_runtime(entry, options.runtime, options.precision), settings)
    conversation = Conversation(system=args.system).add("user", prompt)

    client = WorkerClient(options.catalog_path)
    try:
        info = None
        pieces: list[str] = []
        final = None
        dropped = 0
        with _ctrl_c_cancels(client) as ctrl_c:
            for event in client.load(options):
                if isinstance(event, Loaded):
                    info = event.info
                elif isinstance(event, Cancelled):  # Ctrl+C while loading ended the worker
                    break
                elif isinstance(event, (Failed, WorkerDied)):
                    _fail(event)
            if info is None or ctrl_c.pressed:
                print(f"cancelled before {entry.id} answered", file=sys.stderr)
                return 130
            for event in client.generate(conversation, settings, raw=args.raw):
                if isinstance(event, Chunk):
                    pieces.append(event.text)
                    if not args.json:
                        sys.stdout.write(model_text(event.text))
                        sys.stdout.flush()
                elif isinstance(event, Trimmed):
                    dropped = event.dropped_turns
                elif isinstance(event, (Failed, WorkerDied)):
                    _fail(event)
                else:
                    final = event
        stats = getattr(final, "stats", None)
    finally:
        client.close()
    text = "".join(pieces)
    if args.json:
        print_json(
            {
                "model": entry.id,
                "prompt": prompt,
                "text": text,
                "stats": dataclasses.asdict(stats) if stats else None,
                "load": dataclasses.asdict(info) if info else None,
                "settings": dataclasses.asdict(settings),
                "raw": args.raw,
            }
        )
    else:
        if text and not text.endswith("\n"):
            sys.stdout.write("\n")
        sys.stdout.flush()
        print(visible(long_line(stats, info, dropped)), file=sys.stderr)
    return 130 if not isinstance(final, ReplyDone) else 0


@contextlib.contextmanager
def _ctrl_c_cancels(client):
    """While the model loads or a reply streams, the first Ctrl+C cancels (a load ends its
    worker; a reply ends with its stats as usual); a second one interrupts outright."""
    state = types.SimpleNamespace(pressed=False)
    if threading.current_thread() is not threading.main_thread():
        yield state
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        signal.signal(signal.SIGINT, previous)
        state.pressed = True
        client.cancel()

    signal.signal(signal.SIGINT, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGINT, previous)


def _positionals(args: argparse.Namespace) -> tuple[str | None, str]:
    """(model or None, prompt). One positional is the prompt for the default model."""
    model, prompt = args.model, args.prompt
    if prompt is None:
        model, prompt = None, model
    if prompt == "-":
        prompt = sys.stdin.read()
    if prompt is None or not prompt.strip():
        raise UsageError(
            "the prompt is empty: give it as the last argument, e.g. "
            'smollm-tui generate "What is the capital of France?"'
        )
    return model, prompt


def _fail(event) -> None:
    error = SmollmError(event.message)
    error.exit_code = exit_code_of(getattr(event, "kind", "error"))
    raise error
