"""`smollm-tui models`: what is on disk for every catalog model."""

from __future__ import annotations

import argparse
import dataclasses

from rich.table import Table
from rich.text import Text

from engine.models.local_status import all_local_status
from engine.paths import hf_cache_dir
from engine.units import format_bytes
from tui.commands.common import catalog_from, print_json, stdout_console
from tui.safe_text import visible

NAME = "models"
ORDER = 32
HELP = "show which catalog models are on disk (size, revision, complete or partial)"

_STATE = {"yes": "yes", "partial": "partial", "no": "-"}


def _state(status) -> str:
    """'yes', 'partial', '-', with the GGUF files on disk: 'GGUF Q8_0' (GGUF only) or
    'yes + GGUF Q8_0'."""
    if not status.gguf:
        return _STATE[status.state]
    gguf = f"GGUF {', '.join(status.gguf)}"
    return gguf if status.state == "no" else f"{_STATE[status.state]} + {gguf}"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    catalog = catalog_from(args)
    statuses = all_local_status(catalog)
    if args.json:
        rows = []
        for status in statuses:
            row = dataclasses.asdict(status)
            row["on_disk"] = status.on_disk
            rows.append(row)
        print_json(rows)
        return 0
    table = Table(
        title=Text(visible(f"models on disk (cache: {hf_cache_dir()})")),
        title_justify="left",
        box=None,
        pad_edge=False,
        padding=(0, 1),
        header_style="bold underline",
    )
    table.add_column("id", no_wrap=True)
    table.add_column("on disk", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("revision", no_wrap=True)
    table.add_column("source", no_wrap=True)
    for status in statuses:
        size = format_bytes(status.size_bytes) if status.size_bytes else ""
        revision = (status.commit or "")[:12] if status.source == "hub" else ""
        table.add_row(
            Text(visible(status.model_id)),
            _state(status),
            size,
            revision,
            Text(visible(status.source)),
        )
    stdout_console().print(table)
    partial = [s for s in statuses if s.state == "partial"]
    if partial:
        stdout_console().print(
            Text(
                f"{len(partial)} partial: run `smollm-tui download MODEL` to finish, or "
                "`smollm-tui rm MODEL` to delete"
            )
        )
    return 0
