"""Helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console

from engine.catalog import Catalog, load_catalog


def catalog_from(args: argparse.Namespace) -> Catalog:
    return load_catalog(getattr(args, "catalog", None))


def stdout_console() -> Console:
    return Console(highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
