"""`smollm-tui report`: the stored results as the seed report's tables (Markdown, CSV, JSON)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.text import Text

from engine.errors import DiskFull, UsageError, disk_full_message, is_disk_full
from engine.paths import write_private_text
from engine.results.matrix import (
    ACCURACY_CHOICES,
    MATRIX_METRICS,
    REPORT_ORDER,
    Filters,
    build_matrix,
)
from engine.results.references import load_references
from engine.results.report import FORMATS, render
from engine.results.store import ResultsStore
from engine.settings import RUNTIMES
from engine.task_registry import parse_task_list
from tui.commands.common import catalog_from, stdout_console
from tui.safe_text import visible

NAME = "report"
ORDER = 45
HELP = "print or save the comparison tables of stored results"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metric",
        choices=(*MATRIX_METRICS, "speed", "all"),
        default="all",
        help="which table: accuracy, time, memory, size, board (peak board "
        "memory), or all five (the seed report's order: size, "
        "accuracy, time, memory; then board); speed: decode speed per "
        "model, runtime and precision",
    )
    parser.add_argument(
        "--accuracy",
        choices=ACCURACY_CHOICES,
        default="primary",
        help="accuracy metric: each task's primary one, acc or acc_norm",
    )
    parser.add_argument("--format", choices=FORMATS, default="md")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write to FILE")
    parser.add_argument("--precision", help="only runs at this precision (fp32, int8, ...)")
    parser.add_argument("--device", help="only runs on this device (cuda, cpu)")
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES[1:],  # each a runtime's name, not auto
        help="only runs on this runtime (a model measured on both gets a "
        "row per runtime and precision otherwise)",
    )
    parser.add_argument(
        "--machine",
        metavar="NAME",
        help="only runs made on this machine (this one's host name, or the "
        "name an import gave: `import --machine`)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        action="store_const",
        const="quick",
        dest="mode",
        help="only quick runs (with a sample limit)",
    )
    mode.add_argument(
        "--full", action="store_const", const="full", dest="mode", help="only full runs"
    )
    parser.add_argument("--fewshot", type=int, metavar="K", help="only runs with K shots")
    parser.add_argument("--models", help="only these catalog ids, comma-separated, in order")
    parser.add_argument("--tasks", help="only these tasks, comma-separated, in order")
    parser.add_argument(
        "--arena",
        action="store_true",
        help="the Arena leaderboard of your votes instead (Bradley–Terry)",
    )


def run(args: argparse.Namespace) -> int:
    if getattr(args, "arena", False):
        from tui.commands.arena import report_leaderboard

        return report_leaderboard(args)
    models = tuple(m.strip() for m in (args.models or "").split(",") if m.strip()) or None
    tasks = parse_task_list(args.tasks) if args.tasks else None
    filters = Filters(
        precision=args.precision,
        device=args.device,
        runtime=getattr(args, "runtime", None),
        mode=args.mode,
        num_fewshot=args.fewshot,
        models=models,
        tasks=tasks,
        machine=args.machine,
    )
    params, labels = {}, {}
    try:
        catalog = catalog_from(args)
        for entry in catalog:
            params[entry.id] = entry.params_label
            labels[entry.id] = (entry.repo or entry.name).split("/")[-1]
    except UsageError:  # a broken overlay should not stop a report: ids are enough
        pass
    if args.output is not None:
        check_output(args.output, args.format)
    if args.metric == "speed":
        return _speed(args, models)
    with ResultsStore(read_only=True) as store:
        runs = store.eval_runs()
        db_path = store.path
    if not runs:
        raise UsageError(
            f"no results stored yet in {db_path}: run `smollm-tui eval MODEL "
            "--tasks ...` or `smollm-tui import FILE` first"
        )
    machines = sorted({r.machine for r in runs if r.machine})
    if args.machine is not None and args.machine not in machines:
        raise UsageError(
            f"no runs from machine {args.machine!r} in {db_path}; machines there: "
            f"{', '.join(map(repr, machines)) or 'none named'}"
        )
    metrics = REPORT_ORDER if args.metric == "all" else (args.metric,)
    references = load_references()
    matrices = [
        build_matrix(
            runs,
            m,
            filters=filters,
            references=references,
            accuracy_metric=args.accuracy,
            params=params,
            labels=labels,
        )
        for m in metrics
    ]
    text = visible(render(matrices, args.format))  # names are data: see _emit
    console = stdout_console()
    if args.output:
        write_output(args.output, text, args.format)
        console.print(Text(visible(f"wrote {args.output.resolve()}")))
    else:
        console.out(text, end="", highlight=False)
    return 0


def check_output(path: Path, fmt: str) -> None:
    """Refuse an --output that can only fail, before the store is read."""
    if path.is_dir():
        raise UsageError(
            f"--output {path} is a folder: give a file name, such as {path / ('report.' + fmt)}"
        )


def write_output(path: Path, text: str, fmt: str) -> None:
    """Write the report; a missing folder is made, anything else is one clear line. The
    write is atomic: a full disk leaves a file that was there as it was (exit 1)."""
    check_output(path, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private_text(path, text)
    except OSError as exc:
        if is_disk_full(exc):
            kept = "; a file already there was left as it was"
            raise DiskFull(visible(disk_full_message(f"--output {path}") + kept)) from None
        why = exc.strerror or str(exc)
        if isinstance(exc, (FileExistsError, NotADirectoryError)):
            why = "a file is in the way of its folder"
        raise UsageError(f"cannot write --output {path}: {why}") from None


def _speed(args: argparse.Namespace, models: tuple[str, ...] | None) -> int:
    from engine.results.speed import render_speed, speed_rows

    with ResultsStore(read_only=True) as store:
        rows = speed_rows(
            store.speed_runs(),
            models=models,
            device=args.device,
            precision=args.precision,
            runtime=getattr(args, "runtime", None),
        )
        db_path = store.path
    if not rows:
        raise UsageError(
            f"no speed measured yet in {db_path}: run `smollm-tui bench MODEL` "
            "(or chat with a model in the app) first"
        )
    _emit(args, render_speed(rows, args.format))
    return 0


def _emit(args: argparse.Namespace, text: str) -> None:
    # Model ids and task names come from imports and overlays: shown, never obeyed, in a
    # file as on the terminal (control characters as symbols; newline and tab kept).
    text = visible(text)
    console = stdout_console()
    if args.output:
        write_output(args.output, text, args.format)
        console.print(Text(visible(f"wrote {args.output.resolve()}")))
    else:
        console.out(text, end="", highlight=False)
