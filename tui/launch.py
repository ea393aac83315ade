"""Start the Textual app from the command line."""

from __future__ import annotations

import argparse


def run_app(args: argparse.Namespace) -> int:
    from engine.catalog.entries import load_catalog
    from engine.telemetry.sampler import Sampler
    from tui.app import SmollmApp
    from tui.paste import guard_pastes

    catalog = load_catalog(args.catalog)
    guard_pastes()
    telemetry = Sampler(interval=1.0).start()
    try:
        app = SmollmApp(
            catalog,
            catalog_path=str(args.catalog) if args.catalog else None,
            telemetry=telemetry,
            exit_on_signals=True,
        )
        app.run()
    finally:
        telemetry.stop()
    return app.return_code or 0
