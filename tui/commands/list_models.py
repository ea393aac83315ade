"""`smollm-tui list`: the catalog as a table or JSON."""

from __future__ import annotations

import argparse
import dataclasses

from rich.table import Table
from rich.text import Text

from tui.commands.common import catalog_from, print_json, stdout_console
from tui.safe_text import visible

NAME = "list"
ORDER = 10
HELP = "list the models of the catalog"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    catalog = catalog_from(args)
    if args.json:
        rows = []
        for entry in catalog:
            row = dataclasses.asdict(entry)
            row.pop("origin")
            rows.append(row)
        print_json(rows)
        return 0
    console = stdout_console()
    table = _table(catalog, console.width)
    for entry in catalog:
        # Catalog text is data (an overlay is anyone's file): Text, so brackets are never
        # read as markup, and visible(), so an escape sequence is shown, not obeyed.
        table.add_row(
            Text(visible(entry.id)),
            Text(visible(entry.name)),
            entry.params_label,
            Text(visible(entry.architecture)),
            Text(visible(entry.license)),
            Text(visible(entry.source)),
        )
    console.print(table)
    return 0


def _table(catalog, width: int) -> Table:
    """One line per model. The id (what commands take) is never cut; at 80 columns the
    name and licence share what is left and are cut with an ellipsis."""
    ids = max(len(e.id) for e in catalog)
    archs = max(len(e.architecture) for e in catalog)
    sources = max(len(e.source) for e in catalog)
    left = max(16, width - (ids + 6 + archs + sources) - 2 * 5)  # 5 gaps of 2 spaces
    names = min(max(len(e.name) for e in catalog), max(8, left * 3 // 5))
    licences = min(max(len(e.license) for e in catalog), left - names)
    table = Table(
        title=f"{len(catalog)} models",
        title_justify="left",
        box=None,
        pad_edge=False,
        padding=(0, 1),
        header_style="bold underline",
    )
    table.add_column("id", no_wrap=True, width=ids)
    table.add_column("name", no_wrap=True, overflow="ellipsis", width=names)
    table.add_column("params", justify="right", no_wrap=True, width=6)
    table.add_column("arch", no_wrap=True, width=archs)
    table.add_column("licence", no_wrap=True, overflow="ellipsis", width=licences)
    table.add_column("source", no_wrap=True, width=sources)
    return table
