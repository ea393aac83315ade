"""What is known about one model: facts, licence, tags, notes, source, warnings, results."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from engine.memory.overview import ModelOverview
from engine.results.store import EvalRun
from tui.safe_text import plain
from tui.store_reads import READING


def details_renderable(row: ModelOverview, full: bool = False, runs: list[EvalRun] | None = None):
    """``full``: with the model's stored evaluations, ``runs`` (None: not read yet, which
    is said; the full details screen reads them in a thread: tui.screens.details)."""
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
    facts.add_row("context", f"{e.context_length:,} tokens")
    memory = memory_text(row)
    if memory is not None:
        facts.add_row("memory", memory)
    facts.add_row("tags", plain(", ".join(e.tags)))
    facts.add_row("source", plain(e.source))
    facts.add_row("prompt", plain(e.prompt_format))
    parts: list = [title, facts]
    if e.source == "unavailable" and e.unavailable_reason:
        parts.append(plain(f"Unavailable: {e.unavailable_reason}", "yellow"))
    if e.trust_remote_code:
        parts.append(
            plain(
                "Runs the repository's own Python code when loaded: you will be "
                "asked for consent first.",
                "bold yellow",
            )
        )
    parts.append(results_line(row))
    if e.notes:
        parts.append(plain(e.notes, "italic"))
    if full and runs is None:
        parts.append(plain(f"evaluations: {READING}", "dim"))
    elif full:
        history = history_table(runs or [])
        if history is not None:
            parts.append(history)
    if full and e.facts_from:
        parts.append(plain("Facts from: " + ", ".join(e.facts_from), "dim"))
    return Group(*parts)


def memory_text(row: ModelOverview) -> Text | None:
    """'about 3,853 MB at 4,096 tokens: fits' and, when the model's own context is longer,
    the estimate at that full context on a second line."""
    if row.size_mb is None:
        return None
    if row.fit_measured:
        text = Text(f"{row.size_mb:,.0f} MB measured: {row.fit}")
    else:
        context = f" at {row.context_length:,} tokens" if row.context_length else ""
        text = Text(f"about {row.size_mb:,.0f} MB{context}: {row.fit}")
    if row.full_context_mb is not None:
        text.append(
            f"\n{row.full_context_mb:,.0f} MB at the full {row.entry.context_length:,}", style="dim"
        )
    return text


def results_line(row: ModelOverview) -> Text:
    """Results so far, as the catalog knows them (the Compare screen has every run)."""
    text = Text("results ", style="dim")
    if row.results_problem:
        return text.append_text(plain(f"unavailable: {row.results_problem}", "yellow"))
    if row.best_avg_accuracy is None and row.last_tokens_per_s is None:
        text.append("none yet: e evaluates, c chats (its speed is kept)", style="dim")
        return text
    if row.best_avg_accuracy is not None:
        text.append(f"best average accuracy {row.best_avg_accuracy:.1f}%  ")
    if row.last_tokens_per_s is not None:
        text.append(f"last speed {row.last_tokens_per_s:.1f} tok/s")
    return text


def history_table(runs: list[EvalRun]) -> Table | None:
    """The model's stored evaluations (``runs``, oldest first), the last 12 newest first,
    for the full details; None when there are none (or the store could not be read: the
    results line above already says why)."""
    from engine.results.matrix import accuracy_of
    from engine.results.metric_kinds import metric_kind

    if not runs:
        return None
    table = Table(title="evaluations", title_justify="left", box=None, padding=(0, 1))
    for column in ("task", "status", "accuracy %", "ms/sample", "precision", "samples"):
        table.add_column(column, no_wrap=True)
    for run in reversed(runs[-12:]):
        value, _, metric = accuracy_of(run)
        lower = not metric_kind(run, metric).higher_is_better  # a perplexity, as it is
        table.add_row(
            plain(run.task),
            plain(run.status),
            "—" if value is None else f"{value:.1f}{' ↓' if lower else ''}",
            "—" if run.time_per_sample_ms is None else f"{run.time_per_sample_ms:.0f}",
            plain(run.precision),
            str(run.samples),
        )
    return table


class ModelDetails(Static):
    DEFAULT_CSS = """
    ModelDetails { padding: 0 1; overflow-y: auto; }
    """

    def show(self, row: ModelOverview | None) -> None:
        self.update(details_renderable(row) if row else Text("No model selected", "dim"))
