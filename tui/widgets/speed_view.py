"""Compare's Speed view: the stored decode speed, one row per model × runtime × precision ×
device (engine.results.speed, the same rows as `smollm-tui report --metric speed`), a line
about the row under the cursor, and a chart of tok/s."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from engine.paths import write_private_text
from engine.results.report import FORMATS
from engine.results.speed import SpeedRow, render_speed, speed_rows
from engine.results.store import SpeedRun
from tui.safe_text import plain, visible

COLUMNS = (
    ("model", "Model"),
    ("runtime", "Runtime"),
    ("precision", "Prec"),
    ("device", "Dev"),
    ("tps", "tok/s"),
    ("first", "1st ms"),
    ("load", "Load s"),
    ("peak", "Peak MB"),
    ("from", "From"),
)
MODEL_WIDTH = 18  # the whole name is on the line under the table
EMPTY = (
    "No speed measured yet: `smollm-tui bench MODEL` measures each runtime and "
    "precision on disk; every chat reply (c on the catalog) is kept too."
)


def with_speed_options(
    options: dict[str, list[tuple[str, object]]], runs: list[SpeedRun]
) -> dict[str, list[tuple[str, object]]]:
    """Compare's filter choices (from the evaluations) plus the precisions and devices
    that only speed runs have (Q4_1, Q8_0, ...), so that the Speed view can be filtered."""
    out = dict(options)
    for name in ("precision", "device"):
        if name not in out:
            continue
        have = {value for _, value in out[name]}
        extra = sorted({getattr(r, name) for r in runs} - have)
        out[name] = sorted([*out[name], *[(v, v) for v in extra]], key=lambda o: str(o[1]))
    return out


def write_speed_reports(rows: list[SpeedRow], folder: Path, stem: str) -> list[Path]:
    """``stem``-speed.md, .csv and .json in ``folder``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in FORMATS:
        path = folder / f"{stem}-speed.{fmt}"
        write_private_text(path, render_speed(rows, fmt))
        paths.append(path)
    return paths


def _figure(value: float | None, digits: int) -> Text:
    return Text("—" if value is None else f"{value:,.{digits}f}", justify="right")


class SpeedView(Vertical):
    """``show(runs, labels, device=..., precision=..., runtime=...)`` fills it."""

    DEFAULT_CSS = """
    SpeedView { height: 1fr; overflow: hidden hidden; }
    SpeedView #speed-table { height: 1fr; min-height: 4; }
    SpeedView #speed-info { height: 1; padding: 0 1; background: $boost; }
    SpeedView #speed-chart { height: 8; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[SpeedRow] = []
        self.total = 0
        self.labels: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield DataTable(id="speed-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="speed-info")
        yield PlotextPlot(id="speed-chart")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)

    def show(
        self,
        runs: list[SpeedRun],
        labels: dict[str, str],
        *,
        device=None,
        precision=None,
        runtime=None,
    ) -> None:
        self.labels = labels
        self.total = len(speed_rows(runs))
        self.rows = speed_rows(runs, device=device, precision=precision, runtime=runtime)
        table = self.query_one(DataTable)
        where = table.cursor_row
        table.clear()
        for number, row in enumerate(self.rows, start=1):
            name = self.label(row.model_id)
            if len(name) > MODEL_WIDTH:
                name = name[: MODEL_WIDTH - 1] + "…"
            table.add_row(
                plain(name),
                plain(row.runtime),
                plain(row.precision),
                plain(row.device),
                _figure(row.tokens_per_s, 1),
                _figure(row.first_token_ms, 0),
                _figure(row.load_s, 2),
                _figure(row.peak_mb, 0),
                Text(row.source, style="dim"),
                label=str(number),
            )
        if self.rows:
            table.move_cursor(row=min(where, len(self.rows) - 1))
        self.show_row()
        self.draw_chart()

    def label(self, model_id: str) -> str:
        return self.labels.get(model_id, model_id)

    def describe(self) -> str:
        return f"Decode speed · {len(self.rows)} of {self.total} configuration(s) match the filters"

    def current(self) -> SpeedRow | None:
        if not self.rows:
            return None
        return self.rows[min(self.query_one(DataTable).cursor_row, len(self.rows) - 1)]

    def show_row(self) -> None:
        info = self.query_one("#speed-info", Static)
        row = self.current()
        if row is None:
            info.update(
                Text(
                    EMPTY if not self.total else "No speed matches the filters: widen them.",
                    style="dim",
                )
            )
            return
        text = Text()
        text.append(visible(self.label(row.model_id)), style="bold")
        text.append(
            f" on {visible(row.runtime)} {visible(row.precision)}, "
            f"{visible(row.device)}: {row.tokens_per_s:,.1f} tok/s"
        )
        if row.first_token_ms is not None:
            text.append(f", first token {row.first_token_ms:,.0f} ms")
        if row.load_s is not None:
            text.append(f", load {row.load_s:,.2f} s")
        if row.peak_mb is not None:
            text.append(f", peak {row.peak_mb:,.0f} MB")
        text.append(
            " · bench (greedy, median)" if row.source == "bench" else " · fastest chat reply",
            style="dim",
        )
        info.update(text)

    def draw_chart(self) -> None:
        plot = self.query_one("#speed-chart", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        if self.rows:
            # Bars named by the table's row numbers: names never collide, and plotext,
            # which drops labels that would overlap, keeps every one.
            names = [str(n) for n in range(1, len(self.rows) + 1)]
            plt.bar(names, [r.tokens_per_s for r in self.rows], width=0.5)
            plt.title("Decode speed: tok/s per row")
        else:
            plt.title("Decode speed: nothing to chart")
        plot.refresh()

    def on_data_table_row_highlighted(self, message: DataTable.RowHighlighted) -> None:
        message.stop()  # the screen's matrix handler is not for this table
        self.show_row()
