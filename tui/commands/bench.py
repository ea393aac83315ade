"""`smollm-tui bench MODEL`: decode speed of each runtime × precision, side by side.

The same fixed test for each configuration (engine.evaluation.decode_bench): the same prompt,
greedy, 128 new tokens, median of 3 runs after a warm-up, each in a fresh worker. Every
finished configuration is stored as a speed row at once; the table follows at the end.
Ctrl+C stops the configuration in progress (nothing of it is stored) and exits 130.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import threading

from rich.table import Table
from rich.text import Text

from engine.settings import (
    DEVICES,
    PRECISIONS,
    RUNTIMES,
    LoadOptions,
    parse_threads,
    usable_cores,
)
from tui.commands.common import catalog_from, print_json, stderr_console, stdout_console
from tui.safe_text import visible

NAME = "bench"
ORDER = 35
HELP = "measure decode speed per runtime and precision (stored for the catalog and report)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        nargs="?",
        metavar="MODEL",
        help="catalog id or Hub repo id (default: the bundled model)",
    )
    parser.add_argument(
        "--runtime",
        action="append",
        choices=RUNTIMES[1:],  # each a runtime's name, not auto
        metavar="{" + ",".join(RUNTIMES[1:]) + "}",
        help="runtime to measure (repeatable; default: every runtime the model can use here)",
    )
    parser.add_argument(
        "--precision",
        action="append",
        choices=PRECISIONS,
        metavar="{" + ",".join(PRECISIONS) + "}",
        help="precision to measure (repeatable; default: auto, and each "
        "GGUF file on disk for llama.cpp)",
    )
    parser.add_argument("--device", choices=DEVICES, default="auto")
    parser.add_argument(
        "--threads",
        metavar="N|sweep",
        help="CPU threads the model computes with (default: the `threads` setting, else "
        "the count a sweep measured fastest, else every core); `sweep` measures each count "
        "from 1 to the cores and remembers the fastest on the CPU for each runtime",
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=3,
        metavar="N",
        help="timed runs per configuration after a warm-up (default 3)",
    )
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow this model's own Python code from its repository to run",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from engine.errors import UsageError
    from engine.evaluation.decode_bench import NEW_TOKENS, RUNS, measure, plan, speed_run
    from engine.models.consent import resolve_trust
    from engine.results.store import ResultsStore, ensure_writable
    from engine.worker.client import WorkerClient

    if args.runs < 1 or args.runs > 20:
        raise UsageError("--runs must be between 1 and 20")
    sweep = (args.threads or "").strip().lower() == "sweep"
    try:
        counts = list(range(1, usable_cores() + 1)) if sweep else [parse_threads(args.threads)]
    except UsageError as exc:  # the one value besides a count that bench takes
        raise UsageError(f"{exc}, or sweep to measure each count") from None
    if sweep:
        from engine.preferences import measured_threads

        measured_threads()  # a damaged settings file stops a sweep before it measures
    catalog = catalog_from(args)
    entry = catalog.get(args.model) if args.model else catalog.default()
    configs = plan(entry, args.runtime, args.precision)
    trust = resolve_trust(entry, args.trust_remote_code)
    # Before anything is measured: a store that cannot take the rows (read-only, locked by
    # another process, damaged) would lose the whole run at its end.
    ensure_writable()
    catalog_path = str(args.catalog) if args.catalog else None
    err = stderr_console()
    results = []
    client = WorkerClient(catalog_path)
    interrupted = threading.Event()
    try:
        with _ctrl_c_cancels(client, interrupted):
            for config, threads in [(c, n) for c in configs for n in counts]:
                if interrupted.is_set():
                    break
                label = f"{entry.id} · {config.runtime} · precision {config.precision}"
                if sweep:
                    label += f" · {_threads(threads)}"
                err.print(Text(f"bench: {label}"))
                options = LoadOptions(
                    entry.id,
                    precision=config.precision,
                    device=args.device,
                    trust_remote_code=trust,
                    catalog_path=catalog_path,
                    runtime=config.runtime,
                    threads=threads,
                ).validate()
                result = measure(
                    client,
                    options,
                    args.runs,
                    note=lambda text: err.print(Text(f"  {text}", style="dim")),
                    stop=interrupted,
                )
                results.append(result)
                if result.ok:
                    with ResultsStore() as store:
                        store.add_speed(speed_run(result, args.runs))
                elif result.error:
                    err.print(Text(visible(f"  failed: {result.error}"), style="red"))
                if result.cancelled:
                    interrupted.set()
    finally:
        client.close()
    fastest = _remember_fastest(results, err) if sweep and not interrupted.is_set() else {}
    if args.json:
        print_json(
            {
                "model": entry.id,
                "new_tokens": NEW_TOKENS,
                "runs": args.runs,
                "results": [_as_json(r) for r in results],
                **({"fastest_threads": fastest} if sweep else {}),
            }
        )
    else:
        stdout_console().print(_table(entry.id, results, args.runs or RUNS, sweep))
    if interrupted.is_set():
        return 130
    return 0 if results and all(r.ok for r in results) else 1


def _threads(count: int | None) -> str:
    return f"{count} thread{'' if count == 1 else 's'}"


def _remember_fastest(results, err) -> dict:
    """After a sweep: each runtime's fastest count on the CPU, saved in settings.json for
    the loads that name no count; what was measured, for --json."""
    from engine.evaluation.decode_bench import fastest_threads
    from engine.preferences import THREADS, load_settings, save_measured_threads

    fastest = fastest_threads(results)
    if not fastest:
        err.print(Text("bench: no runtime was measured on the CPU at two counts: nothing saved"))
    setting = load_settings().get(THREADS)
    for runtime, (best, relative) in fastest.items():
        save_measured_threads(runtime, best)
        others = ", ".join(f"{_threads(n)} {share:.0%}" for n, share in relative.items())
        err.print(
            Text(
                f"bench: fastest on {runtime} here: {_threads(best)} ({others} of each "
                f"configuration's fastest); saved: loads on {runtime} use {_threads(best)}"
                + (
                    f", but your `threads` setting ({setting}) comes first"
                    if setting is not None
                    else " unless --threads or the `threads` setting says otherwise"
                )
            )
        )
    return {
        runtime: {"threads": best, "relative": {str(n): v for n, v in relative.items()}}
        for runtime, (best, relative) in fastest.items()
    }


def _as_json(result) -> dict:
    data = dataclasses.asdict(result)
    data["runtime"], data["precision_asked"] = result.config.runtime, result.config.precision
    data.pop("config")
    if result.info is not None:
        data["precision"] = result.info.precision
    return data


def _table(model_id: str, results, runs: int, sweep: bool = False) -> Table:
    from engine.evaluation.decode_bench import NEW_TOKENS

    # One count for a whole bench (the same setting or --threads for every configuration):
    # in the title, so that the table keeps its columns whole at 80 columns. A sweep's
    # rows differ by their count: it goes in the runtime's cell.
    counts = sorted({r.info.threads for r in results if r.info and r.info.threads})
    threads = f", {'/'.join(map(str, counts))} threads" if counts and not sweep else ""
    table = Table(
        title=Text(f"{model_id}: greedy, {NEW_TOKENS} new tokens, median of {runs}{threads}"),
        title_justify="left",
    )
    for header in ("runtime", "precision", "device", "tok/s", "first token", "load", "peak MB"):
        table.add_column(
            header, justify="left" if header in ("runtime", "precision", "device") else "right"
        )
    for r in results:
        info = r.info
        runtime = r.config.runtime
        if sweep and info is not None and info.threads:
            runtime += f" ×{info.threads}"
        precision = info.precision if info else r.config.precision
        device = info.device if info else "—"
        if not r.ok:
            why = "cancelled" if r.cancelled else visible(r.error or "failed")
            table.add_row(
                runtime,
                precision,
                device,
                Text(why, style="red", overflow="fold"),
                "",
                "",
                "",
            )
            continue
        first = f"{r.first_token_s * 1000:.0f} ms" if r.first_token_s is not None else "—"
        peak = f"{r.peak_memory_mb:,.0f}" if r.peak_memory_mb is not None else "—"
        speed = f"{r.tokens_per_s:.1f}"
        if r.new_tokens < NEW_TOKENS:
            speed += f" ({r.new_tokens} tok)"
        load = f"{info.load_seconds:.1f} s"
        table.add_row(runtime, precision, device, speed, first, load, peak)
    return table


class _ctrl_c_cancels:
    """While measuring, Ctrl+C cancels the configuration in progress and stops the rest."""

    def __init__(self, client, interrupted: threading.Event):
        self.client, self.interrupted = client, interrupted
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        signal.signal(signal.SIGINT, self.previous)
        self.interrupted.set()
        # Not here: the handler runs in the main thread, which may be inside the client
        # holding its lock (cancel() takes it too), and would wait for itself for ever.
        threading.Thread(target=self.client.cancel, name="bench-cancel", daemon=True).start()

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False
