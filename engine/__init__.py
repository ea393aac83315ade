"""smollm-tui engine: models, data and the machine. Never imports the UI."""

__version__ = "0.1.0"
