"""smollm-tui user interface: the Textual app and the command line. Never imports torch."""
