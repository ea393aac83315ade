"""Subcommands of the `smollm-tui` command line, one module each."""
