"""`smollm-tui download MODEL`: fetch a catalog model into the Hugging Face cache."""

from __future__ import annotations

import argparse
import threading

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.text import Text

from engine import hub
from engine.errors import UsageError
from engine.units import format_bytes
from tui.commands.common import catalog_from, run_in_thread, stderr_console, stdout_console

NAME = "download"
ORDER = 30
HELP = "download a catalog model into the Hugging Face cache (resumes an interrupted one)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="catalog id or Hub repo id (see `smollm-tui list`)")
    parser.add_argument(
        "--revision",
        metavar="R",
        help="branch, tag or commit (default: the catalog's pin, else main)",
    )
    parser.add_argument(
        "--gguf",
        metavar="QUANT",
        help="fetch only the model's published GGUF file of this quant type "
        "(Q8_0, Q4_K_M, F16, ...; `list --json` shows them), for llama.cpp",
    )


def run(args: argparse.Namespace) -> int:
    entry = catalog_from(args).get(args.model)
    if args.revision is not None and not args.revision.strip():
        raise UsageError("--revision is empty: name a branch, tag or commit, or leave it out")
    err = stderr_console()
    cancel = threading.Event()
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[speed]}", markup=False),
        TextColumn("{task.fields[eta]}", markup=False),
        console=err,
    )
    task = progress.add_task(entry.id, total=None, speed="", eta="")

    shown = threading.Event()

    def on_progress(done: int, total: int, speed: float, eta: float | None, name: str) -> None:
        # No bar until the file list is in: an error before that is one line, nothing more.
        if not shown.is_set():
            shown.set()
            progress.start()
        progress.update(
            task,
            completed=done,
            total=total,
            description=name or entry.id,
            speed=f"{format_bytes(speed)}/s" if speed else "",
            eta=_eta(eta),
        )

    def on_ctrl_c(presses: int) -> bool:
        # The first Ctrl+C stops between chunks (within seconds even on a stalled
        # connection) and closes the partial file; the next one leaves at once.
        if presses == 1:
            cancel.set()
            err.print("stopping the download (Ctrl+C again leaves at once)")
        return presses >= 2

    try:

        def fetch() -> hub.DownloadResult:
            if args.gguf:
                return hub.download_gguf(entry, args.gguf, args.revision, on_progress, cancel)
            return hub.download(
                entry,
                args.revision,
                on_progress,
                cancel,
                on_notice=lambda text: err.print(Text(f"note: {text}")),
            )

        result: hub.DownloadResult = run_in_thread(fetch, name="download", on_ctrl_c=on_ctrl_c)
    except KeyboardInterrupt:
        _hide(progress, shown)
        err.print(
            Text(
                f"download of {entry.id} stopped; run the same command again to "
                "resume where it stopped"
            )
        )
        return 130
    finally:
        _hide(progress, shown)
    if result.cancelled:
        err.print(
            Text(
                f"download of {entry.id} cancelled; run the same command again to "
                "resume where it stopped"
            )
        )
        return 130
    size = format_bytes(result.bytes_total)
    fetched = format_bytes(result.bytes_fetched)
    stdout_console().print(
        Text(
            f"{entry.id}: {len(result.files)} files, {size} ({fetched} fetched now) at revision "
            f"{result.commit[:12]} in {result.path}"
        )
    )
    return 0


def _hide(progress: Progress, shown: threading.Event) -> None:
    # Rich ends a bar on a plain stream with an empty line: only end one that was shown.
    if shown.is_set():
        shown.clear()
        progress.stop()


def _eta(eta: float | None) -> str:
    if eta is None:
        return ""
    minutes, seconds = divmod(int(eta + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
