"""`smollm-tui rm MODEL`: delete a downloaded model from the Hugging Face cache, with the
GGUF files fetched for it (`download MODEL --gguf QUANT`), or one of those with --gguf."""

from __future__ import annotations

import argparse
import sys

from rich.prompt import Confirm
from rich.text import Text

from engine import hub
from engine.errors import UsageError
from engine.hub.deletion import deletion_plan
from engine.units import format_bytes
from tui.commands.common import catalog_from, stdout_console

NAME = "rm"
ORDER = 35
HELP = "delete a downloaded model (and its GGUF files) from the Hugging Face cache"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="catalog id or Hub repo id")
    parser.add_argument(
        "--gguf",
        metavar="QUANT",
        help="delete only this GGUF file (Q8_0, Q4_K_M, ...) of the model's GGUF build",
    )
    parser.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask for confirmation (needed when not on a terminal)",
    )


def run(args: argparse.Namespace) -> int:
    entry = catalog_from(args).get(args.model)
    out = stdout_console()
    if entry.source != "hub" or not entry.repo:
        hub.delete(entry)  # raises the clear "nothing to delete" message for this source
    quant = args.gguf.upper() if args.gguf else None
    plan = deletion_plan(entry, quant)
    if not plan:
        what = f"{entry.id}'s {quant} GGUF file is" if quant else f"{entry.id} is"
        out.print(Text(f"{what} not in the Hugging Face cache; nothing to delete"))
        return 0
    total = sum(item.size_bytes for item in plan)
    for item in plan:
        out.print(Text(f"  {item.label}: {item.path} ({format_bytes(item.size_bytes)})"))
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(
                f"not deleting {entry.id} without confirmation: stdin is not a "
                "terminal; pass --yes to delete without asking"
            )
        what = f"{entry.id}'s {quant} GGUF file" if quant else entry.id
        question = Text(f"Delete {what} ({format_bytes(total)})?")
        if not Confirm.ask(question, default=False, console=out):
            out.print(Text(f"kept {entry.id}"))
            return 0
    freed = hub.delete(entry, quant)
    out.print(
        Text(f"deleted {entry.id}{f' {quant} GGUF' if quant else ''}: {format_bytes(freed)} freed")
    )
    return 0
