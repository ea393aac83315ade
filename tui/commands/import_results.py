"""`smollm-tui import`: results JSON files written by lm-eval elsewhere, into the store."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.text import Text

from engine.catalog.entries import UnknownModelError
from engine.results.importer import import_results, machine_label
from engine.results.store import ResultsStore
from tui.commands.common import catalog_from, stdout_console
from tui.safe_text import visible

NAME = "import"
ORDER = 50
HELP = "import lm-eval results files (results_*.json) run elsewhere"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, help="an lm-eval results file, or a folder of them")
    parser.add_argument(
        "--model",
        metavar="ID",
        help="catalog id to file the results under (default: found from the "
        "file's pretrained= repo, else its last path part)",
    )
    parser.add_argument(
        "--machine",
        metavar="NAME",
        help="the machine they ran on, for Compare's and report's machine "
        "filter (default: the GPU the files name, else 'imported')",
    )


def run(args: argparse.Namespace) -> int:
    catalog = catalog_from(args)
    machine = machine_label(args.machine) if args.machine is not None else None

    def model_id_for(repo: str) -> str:
        if args.model:
            return catalog.get(args.model).id
        try:
            return catalog.get(repo).id
        except UnknownModelError:
            return repo.rstrip("/").split("/")[-1].lower()

    with ResultsStore() as store:
        added = import_results(store, args.path, model_id_for=model_id_for, machine=machine)
        where = store.path
    console = stdout_console()
    for run_ in added:
        console.print(
            Text(visible(f"{run_.model_id}  {run_.task}  {run_.samples} samples  ({run_.source})"))
        )
    console.print(Text(visible(f"imported {len(added)} result(s) into {where}")))
    origins: dict[tuple[str | None, str | None], int] = {}
    for run_ in added:
        origins[(run_.machine, run_.backend)] = origins.get((run_.machine, run_.backend), 0) + 1
    for (machine_, backend), count in origins.items():
        console.print(
            Text(
                f"  {count} from machine {machine_!r} ({backend}); Compare and "
                f"`report --machine` filter by it"
            )
        )
    return 0
