"""The `smollm-tui` command: no arguments opens the app; subcommands for scripts."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from engine import __version__
from engine.errors import SmollmError
from tui.safe_text import visible


def command_modules() -> list:
    """Every module in tui.commands with HELP, configure(parser) and run(args) -> int.

    A module's NAME (default: its file name) is the subcommand; ORDER sorts --help. The
    modules import heavy libraries only inside run(), so listing them stays cheap.
    """
    import pkgutil

    import tui.commands as package

    modules = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"tui.commands.{info.name}")
        if hasattr(module, "HELP") and hasattr(module, "run"):
            modules.append(module)
    return sorted(modules, key=lambda m: (getattr(m, "ORDER", 50), _name(m)))


def _name(module) -> str:
    return getattr(module, "NAME", module.__name__.rsplit(".", 1)[-1])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smollm-tui",
        description="Explore, chat with and evaluate small language models on a Jetson "
        "(or any machine). With no command, opens the terminal app.",
    )
    parser.add_argument("--version", action="version", version=f"smollm-tui {__version__}")
    parser.add_argument(
        "--catalog",
        type=Path,
        metavar="PATH",
        help="catalog overlay file to use instead of the one in the config dir",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in command_modules():
        command = sub.add_parser(_name(module), help=module.HELP, description=module.HELP)
        module.configure(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            from tui.launch import run_app

            return run_app(args)
        return int(args._run(args) or 0)
    except SmollmError as exc:
        if args.debug:
            raise
        # Error texts carry names, model files' metadata and servers' words: shown, never
        # obeyed (an escape sequence in them must not reach the terminal).
        print(f"smollm-tui: error: {visible(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("smollm-tui: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:  # a file that cannot be written, a full disk, ...
        if args.debug:
            raise
        name = str(exc.filename or "")
        where = f": {name if len(name) <= 100 else name[:97] + '...'}" if name else ""
        print(f"smollm-tui: error: {visible(f'{exc.strerror or exc}{where}')}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
