"""`smollm-tui doctor`: check the machine and say how to fix what is missing."""

from __future__ import annotations

import argparse
import dataclasses

from rich.table import Table
from rich.text import Text

from tui.commands.common import print_json, stdout_console

ORDER = 90
HELP = "check torch, CUDA, bitsandbytes, jtop, disk, the results store and the bundled model"

_STYLE = {"ok": "green", "warning": "yellow", "problem": "bold red"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    from engine.doctor import PROBLEM, run_checks

    checks = run_checks(args.catalog)
    if args.json:
        print_json([dataclasses.asdict(c) for c in checks])
    else:
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True)
        table.add_column()
        for check in checks:
            detail = Text(check.detail)
            if check.fix:
                detail.append(f"\nfix: {check.fix}", style="italic")
            table.add_row(check.name, Text(check.status, style=_STYLE[check.status]), detail)
        stdout_console().print(table)
    return 1 if any(c.status == PROBLEM for c in checks) else 0
