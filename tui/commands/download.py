"""`smollm-tui download MODEL`: fetch a catalog model into the Hugging Face cache."""

from __future__ import annotations

import argparse
import threading

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn
from rich.text import Text

from engine import hub
from tui.commands.common import catalog_from, stderr_console, stdout_console

NAME = "download"
ORDER = 30
HELP = "download a catalog model into the Hugging Face cache (resumes an interrupted one)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="catalog id or Hub repo id (see `smollm-tui list`)")
    parser.add_argument("--revision", metavar="R",
                        help="branch, tag or commit (default: the catalog's pin, else main)")
    parser.add_argument("--gguf", metavar="QUANT",
                        help="fetch only the model's published GGUF file of this quant type "
                        "(Q8_0, Q4_K_M, F16, ...; `list --json` shows them), for llama.cpp")


def run(args: argparse.Namespace) -> int:
    entry = catalog_from(args).get(args.model)
    err = stderr_console()
    cancel = threading.Event()
    outcome: dict = {}
    progress = Progress(
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[speed]}", markup=False),
        TextColumn("{task.fields[eta]}", markup=False),
        console=err,
    )
    task = progress.add_task(entry.id, total=None, speed="", eta="")

    started = threading.Event()

    def on_progress(done: int, total: int, speed: float, eta: float | None, name: str) -> None:
        started.set()
        progress.update(task, completed=done, total=total, description=name or entry.id,
                        speed=f"{hub.format_bytes(speed)}/s" if speed else "",
                        eta=_eta(eta))

    def work() -> None:
        try:
            if args.gguf:
                outcome["result"] = hub.download_gguf(entry, args.gguf, args.revision,
                                                      on_progress, cancel)
            else:
                outcome["result"] = hub.download(
                    entry, args.revision, on_progress, cancel,
                    on_notice=lambda text: err.print(Text(f"note: {text}")))
        except BaseException as exc:  # re-raised in the main thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="download", daemon=True)
    worker.start()
    try:
        # No bar until the file list is in: an error before that is one line, nothing more.
        while worker.is_alive() and not started.wait(0.2):
            pass
        if worker.is_alive():
            with progress:
                while worker.is_alive():
                    worker.join(0.2)
    except KeyboardInterrupt:
        # Ctrl+C: stop between chunks; the partial file stays for the next run.
        cancel.set()
        worker.join(30)
    if "error" in outcome:
        raise outcome["error"]
    result: hub.DownloadResult | None = outcome.get("result")
    if result is None or result.cancelled:
        err.print(Text(f"download of {entry.id} cancelled; run the same command again to "
                       "resume where it stopped"))
        return 130
    size = hub.format_bytes(result.bytes_total)
    fetched = hub.format_bytes(result.bytes_fetched)
    stdout_console().print(Text(
        f"{entry.id}: {len(result.files)} files, {size} ({fetched} fetched now) at revision "
        f"{result.commit[:12]} in {result.path}"))
    return 0


def _eta(eta: float | None) -> str:
    if eta is None:
        return ""
    minutes, seconds = divmod(int(eta + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


