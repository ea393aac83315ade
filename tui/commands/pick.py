"""`smollm-tui pick`: which configuration for my board. The measured configurations that no
other beats on quality, speed and peak memory together, under the limits given (engine.pick),
what is not measured yet (estimates), and with --measure one job that measures it."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table
from rich.text import Text

from engine.errors import UsageError
from tui.commands.common import catalog_from, check_range, print_json, stdout_console

NAME = "pick"
ORDER = 12
HELP = "which configuration for this board: the best ones on quality, speed and memory"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tasks",
        metavar="T,...",
        help="tasks that make the quality (default: those measured on the most configurations)",
    )
    parser.add_argument(
        "--max-memory",
        type=float,
        metavar="MB",
        help="peak memory limit (default: the memory available on this board now)",
    )
    parser.add_argument(
        "--min-tok-s", type=float, default=0.0, metavar="X", help="slowest decode accepted"
    )
    parser.add_argument(
        "--max-first-token",
        type=float,
        metavar="MS",
        help="longest time to the first token accepted (milliseconds)",
    )
    parser.add_argument(
        "--machine",
        metavar="NAME",
        help="answer from the results of this machine (an imported one); default: this one",
    )
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument(
        "--measure",
        action="store_true",
        help="queue one background job that measures what is missing and on disk, "
        "cheapest first (a quick evaluation of the tasks and a `bench` decode each)",
    )
    parser.add_argument(
        "--include-path",
        metavar="FOLDER",
        help="with --measure: the folder of your own lm-eval task YAML files, when the "
        "tasks are yours",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--output", type=Path, metavar="FILE", help="write Markdown to FILE")


def run(args: argparse.Namespace) -> int:
    from engine.machine import machine_name
    from engine.memory import fit as memory
    from engine.pick.choice import Limits
    from engine.pick.report import pick_report
    from engine.results.store import ResultsStore
    from engine.task_registry import parse_task_list

    check_range("--max-memory", args.max_memory, 1, 10_000_000)
    check_range("--min-tok-s", args.min_tok_s, 0, 1_000_000)
    check_range("--max-first-token", args.max_first_token, 1, 10_000_000)
    tasks = parse_task_list(args.tasks) if args.tasks else None
    max_memory = args.max_memory
    if max_memory is None:
        max_memory = memory.budget(args.device).available_mb
    limits = Limits(max_memory, args.min_tok_s, args.max_first_token)
    catalog = catalog_from(args)
    here = machine_name()
    with ResultsStore(read_only=True) as store:
        report = pick_report(
            store,
            catalog,
            here=here,
            machine=args.machine,
            tasks=tasks,
            limits=limits,
            device=args.device,
        )
        db_path = store.path
    if args.machine is not None and args.machine not in report.machines:
        raise UsageError(
            f"no runs from machine {args.machine!r} in {db_path}; machines there: "
            f"{', '.join(map(repr, report.machines))}"
        )
    job = _measure(report, args) if args.measure else None
    if args.json:
        data = report.to_dict()
        if args.measure:
            data["job"] = job
        print_json(data)
    elif args.output:
        from tui.commands.report import write_output

        write_output(args.output, report.to_markdown(), "md")
        stdout_console().print(Text(f"wrote {args.output.resolve()}"))
    else:
        _print(report)
    return 0


def _measure(report, args: argparse.Namespace) -> dict | None:
    """Queue the measuring job (engine.pick.measure); what was queued, for --json."""
    import os

    from engine.pick.measure import eta_text, queue_measure

    if not report.here:
        raise UsageError("--measure measures on this machine: leave out --machine")
    if not report.tasks:
        raise UsageError(
            "no task measured yet to measure the others on: give --tasks, such as "
            "--tasks arc_easy,piqa"
        )
    include = None
    if args.include_path:
        from engine.evaluation.tasks import include_paths

        include_paths(args.include_path)  # a missing folder is a usage error now
        include = os.path.abspath(os.path.expanduser(args.include_path))
    catalog_path = str(Path(args.catalog).expanduser().resolve()) if args.catalog else None
    plan, job = queue_measure(report, catalog_path=catalog_path, include_path=include)
    say = (lambda text: None) if args.json else (lambda text: stdout_console().print(Text(text)))
    if plan.not_on_disk:
        say(f"{len(plan.not_on_disk)} configuration(s) not on disk: download them to measure them")
    if job is None:
        say("nothing to measure: every configuration on disk that fits is measured")
        return None
    eta = eta_text(plan.eta_s)
    say(
        f"job {job.id} queued: {len(plan.todo)} configuration(s), cheapest first, "
        f"ETA {eta}. `smollm-tui jobs` shows its progress"
    )
    return {
        "id": job.id,
        "eta_s": plan.eta_s,
        "configurations": [
            {"model": u.model, "runtime": u.runtime, "precision": u.precision} for u in plan.todo
        ],
    }


def _print(report) -> None:
    from engine.pick.report import QUALITY_TITLES, limits_text
    from engine.task_registry import short_name

    console = stdout_console()
    choice = report.choice
    tasks = ", ".join(short_name(t) for t in choice.tasks) or "none"
    console.print(Text(f"{report.machine}: tasks {tasks}; limits {limits_text(choice.limits)}"))
    table = Table(
        title=Text(f"quality: {QUALITY_TITLES[choice.quality_kind]}"), title_justify="left"
    )
    for header in ("#", "configuration", "quality", "tok/s", "peak MB", "beaten by"):
        table.add_column(
            header, justify="right" if header in ("#", "quality", "tok/s", "peak MB") else "left"
        )
    for n, r in enumerate(choice.frontier, 1):
        table.add_row(*_cells(str(n), r))
    for r in choice.dominated:
        table.add_row(*_cells("", r), style="dim")
    console.print(table)
    for title, items in (
        ("incomplete", choice.incomplete),
        ("over the limits", choice.over_limits),
    ):
        for x in items:
            console.print(Text(f"{title}: {x.config.label}: {x.why}", style="dim"))
    for u in report.unmeasured:
        where = "" if u.on_disk else ", not downloaded"
        console.print(
            Text(
                f"not measured: {u.model} · {u.runtime} {u.precision} "
                f"(estimate {u.estimate_mb:,.0f} MB{where})"
            )
        )
    if not choice.frontier:
        console.print(
            Text(
                "nothing measured fits these limits: run `smollm-tui pick --measure`",
                style="yellow",
            )
        )


def _cells(number: str, r) -> list[Text]:
    c = r.config
    return [
        Text(number),
        Text(c.label),
        Text(f"{r.quality:.1f}"),
        Text(f"{c.tok_s:.1f}"),
        Text(f"{c.peak_mb:,.0f}"),
        Text(r.by or ""),
    ]
