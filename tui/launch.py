"""Start the Textual app from the command line."""

from __future__ import annotations

import argparse


def run_app(args: argparse.Namespace) -> int:
    from engine.catalog import load_catalog
    from tui.app import SmollmApp

    catalog = load_catalog(args.catalog)
    SmollmApp(catalog, catalog_path=str(args.catalog) if args.catalog else None).run()
    return 0
