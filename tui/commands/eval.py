"""`smollm-tui eval`: lm-eval tasks on one model or a matrix of models, stored for `report`."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn
from rich.text import Text

from engine.catalog.entries import Catalog
from engine.errors import SmollmError, UsageError
from engine.evaluation.batch import (
    BatchSummary,
    LoadFailed,
    Restarting,
    Skipped,
    Stored,
    run_batch,
)
from engine.evaluation.in_process import InProcessSession
from engine.evaluation.task_names import check_tasks
from engine.evaluation.tasks import task_available
from engine.events import EvalProgress, Loaded
from engine.events import Progress as LoadProgress
from engine.models.consent import resolve_trust
from engine.records import EvalSpec, TaskResult
from engine.results.store import EvalRun, ResultsStore, ensure_writable
from engine.settings import DEVICES, PRECISIONS, RUNTIMES, LoadOptions, parse_threads
from engine.task_registry import lookup, parse_task_list
from tui.commands.common import (
    catalog_from,
    check_range,
    run_in_thread,
    stderr_console,
    stdout_console,
)
from tui.safe_text import visible

NAME = "eval"
ORDER = 40
HELP = "evaluate models on lm-eval tasks and store the results"
DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000_000_000  # the store keeps it as a 64-bit integer
MAX_FEWSHOT = 100
MAX_BATCH_SIZE = 1024


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help="catalog id of the model to evaluate")
    parser.add_argument("--models", help="several catalog ids, comma-separated (a matrix run)")
    parser.add_argument(
        "--tasks",
        required=True,
        help="tasks, comma-separated: lm-eval names or short names "
        "(ARC-e, BoolQ, OBQA, PIQA, SIQA, WinoGrande, HellaSwag, ...)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help=f"quick run: the first N samples of each task (default {DEFAULT_LIMIT})",
    )
    size.add_argument("--full", action="store_true", help="every sample of each task")
    parser.add_argument(
        "--fewshot", type=int, metavar="K", help="few-shot examples (default: each task's own)"
    )
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--device", default="auto", choices=DEVICES)
    parser.add_argument(
        "--threads",
        metavar="N",
        help="CPU threads each model computes with (default: the `threads` setting, "
        "else every core this process may use; not with --background)",
    )
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default="auto",
        help="auto = llama.cpp for GGUF weights (the bundled model, local "
        ".gguf entries) when it is installed, else transformers; rows are "
        "stored per runtime and precision (Q4_1 on llama.cpp beside fp32)",
    )
    parser.add_argument(
        "--include-path", metavar="DIR", help="folder of your own lm-eval task YAML files"
    )
    parser.add_argument("--batch-size", type=int, default=1, metavar="B")
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow models that ship their own Python code (remembered per model and revision)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="run cells again even when already measured with these settings",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="load models in this process instead of a worker (scripts)",
    )
    # background jobs (tui/commands/eval_jobs.py)
    parser.add_argument(
        "--background",
        action="store_true",
        help="queue the run as a background job and return at once with its "
        "id; it goes on when the terminal closes (`smollm-tui jobs`)",
    )
    parser.add_argument(
        "--print-lm-eval",
        action="store_true",
        help="print the equivalent lm_eval command lines (hf, vLLM, "
        "accelerate launch) to run the same matrix on a GPU server; runs "
        "nothing",
    )


def _spec(args: argparse.Namespace) -> EvalSpec:
    """The run's settings, checked: bad numbers and unknown tasks stop here, before any
    model is loaded."""
    check_range("--limit", args.limit, 1, MAX_LIMIT, hint="; or use --full")
    check_range("--fewshot", args.fewshot, 0, MAX_FEWSHOT)
    check_range("--batch-size", args.batch_size, 1, MAX_BATCH_SIZE)
    limit = None if args.full else (args.limit or DEFAULT_LIMIT)
    return EvalSpec(
        tasks=parse_task_list(args.tasks),
        limit=limit,
        num_fewshot=args.fewshot,
        include_path=args.include_path,
        batch_size=args.batch_size,
    )


def _models(args: argparse.Namespace, catalog: Catalog) -> list[str]:
    names = [m.strip() for m in (args.models or "").split(",") if m.strip()]
    if args.model and args.model.strip():
        names.insert(0, args.model.strip())
    if not names:
        raise UsageError(
            "name a model (smollm-tui eval MODEL --tasks ...) or several with "
            "--models a,b,c; `smollm-tui list` shows the ids"
        )
    return list(dict.fromkeys(catalog.get(name).id for name in names))


def _load_options(
    args: argparse.Namespace, catalog: Catalog, models: list[str]
) -> dict[str, LoadOptions]:
    """Each model's load options, settled (remote-code consent included) before the run.
    The runtime is resolved here: `auto` becomes the one the model will run on, and an
    explicit llama.cpp that cannot work is refused with one line before anything loads."""
    from engine.runtimes.choice import resolve_runtime

    catalog_path = str(args.catalog) if getattr(args, "catalog", None) else None
    runtime = getattr(args, "runtime", "auto")
    threads = parse_threads(getattr(args, "threads", None))
    return {
        m: LoadOptions(
            model_id=m,
            precision=args.precision,
            device=args.device,
            trust_remote_code=resolve_trust(catalog.get(m), args.trust_remote_code),
            catalog_path=catalog_path,
            runtime=resolve_runtime(catalog.get(m), runtime, args.precision),
            threads=threads,
        ).validate()
        for m in models
    }


def _session_factory(args: argparse.Namespace):
    if args.in_process:
        return InProcessSession
    try:
        from engine.worker.client import WorkerClient
    except ImportError as exc:
        raise SmollmError(
            "the worker is not available in this installation; run again with --in-process"
        ) from exc
    return WorkerClient


def _availability(spec: EvalSpec) -> Text:
    line = Text("tasks: ")
    for n, task in enumerate(spec.tasks):
        line.append(", " if n else "")
        line.append(task)
        info = lookup(task)
        cached = task_available(task)
        if cached is not None and info is not None:
            line.append(
                f" ({info.dataset} {'cached' if cached else 'not cached'})",
                style="green" if cached else "yellow",
            )
    return line


def result_line(model_id: str, result: TaskResult, run: EvalRun | None = None) -> Text:
    from engine.results.metric_kinds import kind_of_result
    from engine.task_registry import primary_metric

    text = Text(f"{model_id}  {result.task}  ")
    if result.status != "ok":
        text.append(result.status, style="red" if result.status != "cancelled" else "yellow")
        if result.error:
            text.append(f": {visible(result.error.splitlines()[0][:400])}")
        return text
    metric = primary_metric(result.task)
    if metric not in result.metrics:
        metric = "acc" if "acc" in result.metrics else next(iter(result.metrics), "")
    value = result.metrics.get(metric)
    stderr = result.metrics.get(
        metric.replace(",", "_stderr,", 1) if "," in metric else f"{metric}_stderr"
    )
    kind = kind_of_result(metric, result.metric_kinds)  # a perplexity is not a %
    if isinstance(value, (int, float)):
        text.append(f"{metric} {kind.shown(value):.2f}", style="bold")
        if isinstance(stderr, (int, float)):
            text.append(f" ± {kind.shown(stderr):.2f}")
        if not kind.higher_is_better:
            text.append(f" {kind.arrow}")
    per = result.time_per_sample_ms
    text.append(
        f"  ({result.samples} samples"
        + (f", {per:.1f} ms/sample" if per is not None else "")
        + (f", peak {result.peak_memory_mb:.0f} MB" if result.peak_memory_mb else "")
        + (_board_text(run) if run is not None else "")
        + ")"
    )
    return text


def _board_text(run: EvalRun) -> str:
    """', board 5,120 MB, GPU 97%' from a stored row's telemetry fields."""
    out = ""
    if run.peak_board_mb is not None:
        out += f", board {run.peak_board_mb:,.0f} MB"
    if run.max_gpu_load_pct is not None:
        out += f", GPU {run.max_gpu_load_pct:.0f}%"
    return out


class _Display:
    """The Rich progress bar and one line per finished task."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.bar: Any = None

    def __call__(self, model_id: str, event: Any) -> None:
        p = self.progress
        if isinstance(event, LoadProgress):
            self._bar(f"{model_id}: {event.stage}", None, 0)
        elif isinstance(event, Loaded):
            info = event.info
            label = info.precision
            p.console.print(
                Text(
                    f"{model_id}: loaded on {info.device_name or info.device} "
                    f"({label}, {info.size_mb:.0f} MB, {info.runtime}) in "
                    f"{info.load_seconds:.1f} s"
                )
            )
        elif isinstance(event, EvalProgress):
            eta = "" if event.eta_s is None else f"ETA {event.eta_s:4.0f} s"
            self._bar(f"{model_id} {event.task}", event.total, event.done, eta)
        elif isinstance(event, Stored):
            p.console.print(result_line(model_id, event.result, event.run))
        elif isinstance(event, Skipped):
            p.console.print(
                Text(
                    f"{model_id}: already measured, skipped: "
                    f"{', '.join(event.tasks)} (--force runs them again)"
                )
            )
        elif isinstance(event, LoadFailed):
            p.console.print(Text(visible(f"{model_id}: {event.message}"), style="red"))
        elif isinstance(event, Restarting):
            left = len(event.remaining)
            p.console.print(
                Text(
                    f"{model_id}: {event.message} during {event.task or 'a task'}; "
                    f"{left} task{'s' if left != 1 else ''} not run yet "
                    f"({', '.join(event.remaining)}): starting a fresh worker for "
                    f"{'them' if left != 1 else 'it'}",
                    style="yellow",
                )
            )

    def _bar(self, label: str, total: int | None, done: int, eta: str = "") -> None:
        if self.bar is None:
            self.bar = self.progress.add_task(visible(label), total=total, eta=eta)
        self.progress.update(
            self.bar, description=visible(label), total=total, completed=done, eta=eta
        )


def progress_columns() -> tuple[ProgressColumn, ...]:
    """The progress bar's columns. Model and task names come from outside (an overlay, a
    task folder): shown as they are, never read as markup ('[/]' in a task's name
    would end the run with a MarkupError)."""
    return (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[eta]}", markup=False),
    )


def run(args: argparse.Namespace) -> int:
    spec = _spec(args)
    catalog = catalog_from(args)
    models = _models(args, catalog)
    check_tasks(spec.tasks, spec.include_path)
    if args.print_lm_eval:  # validated above; nothing runs here
        from tui.commands.eval_jobs import print_lm_eval

        return print_lm_eval(args, spec, models)
    options = _load_options(args, catalog, models)
    ensure_writable()  # before any model loads (or a job is queued): results must be kept
    if args.background:
        from tui.commands.eval_jobs import queue_background

        if args.threads is not None:  # a job keeps no thread count: it would be dropped
            raise UsageError(
                "--threads does not apply to --background jobs (they use the `threads` "
                "setting, else every core): drop one of them"
            )
        return queue_background(args, spec, models)
    factory = _session_factory(args)
    console = stdout_console()
    console.print(_availability(spec))
    with ResultsStore() as store:
        summary = _run(models, spec, store, factory, options, args.force, console)
        db_path = store.path
    for line in _summary_lines(summary, db_path):
        console.print(line)
    if summary.cancelled:
        return 130
    return 0 if summary.count("oom") + summary.count("failed") == 0 else 1


def _run(
    models: list[str],
    spec: EvalSpec,
    store: ResultsStore,
    factory: Any,
    options: dict[str, LoadOptions],
    force: bool,
    console: Any,
) -> BatchSummary:
    """The batch in a thread, with a progress bar. The first Ctrl+C cancels (the running
    task stops at its next chunk and is stored as cancelled), the second ends the worker at
    once, a third leaves without waiting."""
    cancel, abort = threading.Event(), threading.Event()
    err = stderr_console()

    def on_ctrl_c(presses: int) -> bool:
        if presses == 1:
            cancel.set()
            err.print(
                "cancelling: the running task stops within seconds "
                "(Ctrl+C again ends the worker at once)"
            )
        elif presses == 2:
            abort.set()
            err.print("ending the worker now (Ctrl+C again leaves without waiting)")
        return presses >= 3

    # Board memory and GPU load are sampled beside the run for each row (twice a second);
    # imported here so that the other commands do not pay for it at start-up.
    from engine.telemetry.sampler import Sampler

    telemetry = Sampler(interval=0.5).start()
    try:
        with Progress(*progress_columns(), console=console, transient=True) as progress:
            return run_in_thread(
                lambda: run_batch(
                    models,
                    spec,
                    store=store,
                    session_factory=factory,
                    load_options=options.__getitem__,
                    force=force,
                    on_event=_Display(progress),
                    cancel=cancel,
                    abort=abort,
                    telemetry=telemetry,
                ),
                name="smollm-eval-batch",
                on_ctrl_c=on_ctrl_c,
            )
    finally:
        telemetry.stop()


def _summary_lines(summary: BatchSummary, db_path: Any) -> list[Text]:
    cancelled = summary.count("cancelled")
    lines = [
        Text(
            f"stored {len(summary.stored)} result(s) in {db_path}; "
            f"{summary.count('ok')} ok, {summary.count('oom')} oom, "
            f"{summary.count('failed')} failed, {len(summary.skipped)} skipped"
            + (f", {cancelled} cancelled" if cancelled else "")
        )
    ]
    if summary.restarts:
        lines.append(
            Text(f"{summary.restarts} fresh worker(s) started after a worker ended during a task")
        )
    if summary.cancelled:
        parts = []
        if summary.not_run:
            parts.append("not run: " + ", ".join(f"{m} {t}" for m, t in summary.not_run))
        if summary.not_started:
            parts.append("not started: " + ", ".join(summary.not_started))
        left = f" ({'; '.join(parts)})" if parts else ""
        lines.append(
            Text(
                f"cancelled{left}. Run the same command again to finish: "
                "measured tasks are skipped",
                style="yellow",
            )
        )
    return lines
