"""What is known about one model: facts, licence, tags, notes, source, warnings, results."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.overview import ModelOverview
from tui.safe_text import plain


def details_renderable(row: ModelOverview, full: bool = False):
    e = row.entry
    title = plain(e.name, "bold")
    facts = Table.grid(padding=(0, 1))
    facts.add_column(style="dim", no_wrap=True)
    facts.add_column()
    facts.add_row("id", plain(e.id))
    if e.repo:
        facts.add_row("repo", plain(e.repo + (f" @ {e.revision}" if e.revision else "")))
    facts.add_row("params", f"{e.params_label} · {e.architecture} · {e.kind}")
    facts.add_row("from", plain(f"{e.affiliation}, {e.released}"))
    facts.add_row("licence", plain(e.license))
    facts.add_row("context", f"{e.context_length} tokens")
    facts.add_row("tags", plain(", ".join(e.tags)))
    facts.add_row("source", plain(e.source))
    facts.add_row("prompt", plain(e.prompt_format))
    parts: list = [title, facts]
    if e.source == "unavailable" and e.unavailable_reason:
        parts.append(plain(f"Unavailable: {e.unavailable_reason}", "yellow"))
    if e.trust_remote_code:
        parts.append(plain("Runs the repository's own Python code when loaded: you will be "
                           "asked for consent first.", "bold yellow"))
    if e.notes:
        parts.append(plain(e.notes, "italic"))
    if full and e.facts_from:
        parts.append(plain("Facts from: " + ", ".join(e.facts_from), "dim"))
    return Group(*parts)


class ModelDetails(Static):
    DEFAULT_CSS = """
    ModelDetails { padding: 0 1; overflow-y: auto; }
    """

    def show(self, row: ModelOverview | None) -> None:
        self.update(details_renderable(row) if row else Text("No model selected", "dim"))
