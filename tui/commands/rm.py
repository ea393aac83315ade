"""`smollm-tui rm MODEL`: delete a downloaded model from the Hugging Face cache."""

from __future__ import annotations

import argparse
import sys

from rich.prompt import Confirm
from rich.text import Text

from engine import hub
from engine.errors import UsageError
from tui.commands.common import catalog_from, stdout_console

NAME = "rm"
ORDER = 35
HELP = "delete a downloaded model from the Hugging Face cache"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="catalog id or Hub repo id")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask for confirmation (needed when not on a terminal)")


def run(args: argparse.Namespace) -> int:
    entry = catalog_from(args).get(args.model)
    out = stdout_console()
    if entry.source != "hub" or not entry.repo:
        hub.delete(entry)  # raises the clear "nothing to delete" message for this source
    status = hub.local_status(entry)
    folder = hub.repo_folder(entry.repo)
    if not folder.exists():
        out.print(Text(f"{entry.id} is not in the Hugging Face cache; nothing to delete"))
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"not deleting {entry.id} without confirmation: stdin is not a "
                             "terminal; pass --yes to delete without asking")
        question = Text(f"Delete {entry.id} ({hub.format_bytes(status.size_bytes)}) from "
                        f"{folder}?")
        if not Confirm.ask(question, default=False, console=out):
            out.print(Text(f"kept {entry.id}"))
            return 0
    freed = hub.delete(entry)
    out.print(Text(f"deleted {entry.id}: {hub.format_bytes(freed)} freed"))
    return 0
