"""`smollm-tui arena MODEL_A MODEL_B PROMPT`: one prompt, two models (or one model in two
configurations), one worker each.

When the pair fits the machine's memory together (the two fit figures against the memory
available) both load and answer at the same time; otherwise one after the other, each
worker ended before the next starts (engine.chat.arena.schedule, as the app's Arena does). One
side failing (out of memory, a bad model) leaves the other answering. Ctrl+C stops both and
keeps what they said. The generation options are `generate`'s own (the same definitions),
applied to both sides.

Also home of `smollm-tui report --arena` (the leaderboard of the votes given in the app).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from engine.chat.arena import SIDES, PairPlan, SideConfig, schedule
from engine.errors import FailureKind, UsageError, exit_code_of
from engine.settings import (
    PRECISIONS,
    RUNTIMES,
    SETTING_NAMES,
    Conversation,
    GenerationSettings,
    parse_threads,
)
from tui.commands import generate
from tui.commands.common import catalog_from, model_text, print_json
from tui.reply_stats import long_line
from tui.safe_text import visible

NAME = "arena"
ORDER = 22
HELP = "one prompt, two models side by side (or one model at two precisions)"

# generate's options that apply to both sides as they are (the per-side ones are below).
_SHARED_OPTIONS = ("system", "raw", *SETTING_NAMES, "device", "threads", "trust_remote_code")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_a", metavar="MODEL_A", help="catalog id or Hub repo id")
    parser.add_argument(
        "model_b",
        metavar="MODEL_B",
        help="the other model (the same id with other options: one model in two configurations)",
    )
    parser.add_argument(
        "prompt", metavar="PROMPT", help="the message; '-' reads it from standard input"
    )
    for side in ("a", "b"):
        parser.add_argument(
            f"--precision-{side}",
            choices=PRECISIONS,
            default="auto",
            help=f"side {side.upper()}'s precision (default auto)",
        )
    for side in ("a", "b"):
        parser.add_argument(
            f"--runtime-{side}",
            choices=RUNTIMES[1:],  # not auto: each side names its runtime or takes the default
            default=None,
            help=f"side {side.upper()}'s runtime (default transformers)",
        )
    add_generation_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"a": {text, stats, load}, "b": {...}} instead of text',
    )


def add_generation_options(parser: argparse.ArgumentParser) -> None:
    """`generate`'s option definitions (sampling, system prompt, raw, device, threads, trust), the
    same objects, so that both commands accept and check them alike."""
    template = argparse.ArgumentParser(add_help=False)
    generate.configure(template)
    for action in template._actions:
        if action.dest in _SHARED_OPTIONS:
            parser._add_action(action)


def settings_from(args: argparse.Namespace) -> GenerationSettings:
    values = {name: getattr(args, name) for name in SETTING_NAMES if hasattr(args, name)}
    values["stop"] = tuple(values.get("stop") or ())
    return GenerationSettings(**values).validate()


@dataclass
class SideResult:
    config: SideConfig
    pieces: list[str] = field(default_factory=list)
    info: Any = None
    stats: Any = None
    final: Any = None
    error: str | None = None
    kind: FailureKind | None = None
    dropped: int = 0
    skipped: bool = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def as_json(self) -> dict[str, Any]:
        return {
            "model": self.config.model_id,
            "config": dataclasses.asdict(self.config),
            "text": self.text,
            "stats": dataclasses.asdict(self.stats) if self.stats else None,
            "load": dataclasses.asdict(self.info) if self.info else None,
            "error": self.error,
        }


def run(args: argparse.Namespace) -> int:
    from engine.chat.arena import plan_pair
    from engine.models.consent import resolve_trust
    from engine.runtimes.loading import resolve_load

    catalog = catalog_from(args)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        raise UsageError(
            "the prompt is empty: give it as the last argument, e.g. "
            'smollm-tui arena MODEL_A MODEL_B "Why is the sky blue?"'
        )
    settings = settings_from(args)
    entries = [catalog.get(args.model_a), catalog.get(args.model_b)]
    catalog_path = str(args.catalog) if args.catalog else None
    configs = [
        SideConfig(
            entry.id,
            getattr(args, f"precision_{side}"),
            args.device,
            getattr(args, f"runtime_{side}"),
            resolve_trust(entry, args.trust_remote_code),
        )
        for entry, side in zip(entries, SIDES, strict=True)
    ]
    threads = parse_threads(args.threads)
    # refuses a missing runtime
    options = [dataclasses.replace(c.load_options(catalog_path), threads=threads) for c in configs]
    # Resolved before either side starts (the worker client resolves no further): what
    # can never load is refused first, as the client does for one.
    options = [resolve_load(e, o) for e, o in zip(entries, options, strict=True)]
    plan = plan_pair(entries, configs)
    if not args.json:
        print(visible(f"arena: {plan.describe()}"), file=sys.stderr)
    conversation = Conversation(system=args.system).add("user", prompt)
    results = _run_pair(options, configs, plan, conversation, settings, args)
    if args.json:
        print_json(
            {
                "prompt": prompt,
                "settings": dataclasses.asdict(settings),
                "raw": args.raw,
                "plan": dataclasses.asdict(plan),
                **{side: r.as_json() for side, r in zip(SIDES, results, strict=True)},
            }
        )
    return _exit_code(results)


def _run_pair(
    options,
    configs,
    plan: PairPlan,
    conversation: Conversation,
    settings: GenerationSettings,
    args: argparse.Namespace,
) -> list[SideResult]:
    from engine.worker.client import WorkerClient

    clients = [WorkerClient(o.catalog_path) for o in options]
    results = [SideResult(c) for c in configs]
    stop = threading.Event()

    def answer(index: int, stream: bool, unload: bool) -> None:
        if stop.is_set():
            results[index].skipped = True
            return
        _answer(
            clients[index], options[index], conversation, settings, args.raw, results[index], stream
        )
        if unload:
            clients[index].close()

    both = _Both(clients, stop)
    try:
        with generate._ctrl_c_cancels(both):
            for wave in schedule(plan, range(len(SIDES))):
                if len(wave) > 1:  # at once: each side printed whole when it is done
                    threads = [
                        threading.Thread(
                            target=answer,
                            args=(turn.side, False, turn.unload_after),
                            daemon=True,
                            name=f"arena-{SIDES[turn.side]}",
                        )
                        for turn in wave
                    ]
                    for thread in threads:
                        thread.start()
                    for turn, thread in zip(wave, threads, strict=True):
                        thread.join()
                        _print_side(turn.side, results[turn.side], args, streamed=False)
                    continue
                [turn] = wave  # its turn alone: streamed as it comes
                if not args.json:
                    _print_header(turn.side, results[turn.side])
                answer(turn.side, not args.json, turn.unload_after)
                _print_side(turn.side, results[turn.side], args, streamed=True)
    finally:
        for client in clients:
            client.close()
    return results


class _Both:
    """What Ctrl+C cancels: both sides, and the side that has not started yet."""

    def __init__(self, clients, stop: threading.Event):
        self.clients, self.stop = clients, stop

    def cancel(self) -> None:
        self.stop.set()
        for client in self.clients:
            client.cancel()


def _answer(
    client, options, conversation, settings, raw: bool, result: SideResult, stream: bool
) -> None:
    from engine.events import Cancelled, Chunk, Failed, Loaded, Trimmed, WorkerDied

    for event in client.load(options):
        if isinstance(event, Loaded):
            result.info = event.info
        elif isinstance(event, (Failed, WorkerDied)):
            result.error, result.kind = event.message, getattr(event, "kind", "died")
        elif isinstance(event, Cancelled):  # Ctrl+C while loading
            result.final = event
    if result.info is None:
        return
    for event in client.generate(conversation, settings, raw=raw):
        if isinstance(event, Chunk):
            result.pieces.append(event.text)
            if stream:
                sys.stdout.write(model_text(event.text))
                sys.stdout.flush()
        elif isinstance(event, Trimmed):
            result.dropped = event.dropped_turns
        elif isinstance(event, (Failed, WorkerDied)):
            result.error, result.kind = event.message, getattr(event, "kind", "died")
        else:
            result.final = event
    result.stats = getattr(result.final, "stats", None)


def _print_header(index: int, result: SideResult) -> None:
    print(visible(f"── {SIDES[index].upper()} · {result.config.label()} ──"), flush=True)


def _print_side(index: int, result: SideResult, args: argparse.Namespace, streamed: bool) -> None:
    if args.json:
        return
    if not streamed:
        _print_header(index, result)
        sys.stdout.write(model_text(result.text))
    if result.text and not result.text.endswith("\n"):
        sys.stdout.write("\n")
    if result.error:
        line = f"{SIDES[index].upper()} failed: {result.error}"
    elif result.skipped:
        line = "stopped before it started"
    else:
        line = long_line(result.stats, result.info, result.dropped)
    print(visible(line), flush=True)


def _exit_code(results: list[SideResult]) -> int:
    """0 when both answered; 2 for a usage problem, 1 for another failure (a side that
    died or could not load); 130 when Ctrl+C stopped a reply."""
    from engine.events import ReplyDone

    codes = [exit_code_of(r.kind) for r in results if r.error]
    if codes:
        return max(codes)
    if all(isinstance(r.final, ReplyDone) for r in results):
        return 0
    return 130


# ---- `smollm-tui report --arena` --------------------------------------------------------


def report_leaderboard(args: argparse.Namespace) -> int:
    """The leaderboard of the stored arena votes, in the report's format (md, csv, json)."""
    from rich.text import Text

    from engine.results.arena import arena_leaderboard, render_leaderboard
    from engine.results.store import ResultsStore
    from tui.commands.common import stdout_console

    with ResultsStore() as store:
        board = arena_leaderboard(store)
        db_path = store.path
    if not board.standings:
        raise UsageError(
            f"no arena votes stored yet in {db_path}: open the Arena (a on the "
            "catalog, on two models), switch blind mode on and vote"
        )
    text = visible(render_leaderboard(board, args.format))  # model ids are names: data
    console = stdout_console()
    if args.output:
        from tui.commands.report import write_output

        write_output(args.output, text, args.format)
        console.print(Text(visible(f"wrote {args.output.resolve()}")))
    else:
        console.out(text, end="", highlight=False)
    return 0
