"""Compare stored results side by side: the seed report's four tables and the board's peak
memory, filters, a chart, and export to Markdown, CSV and JSON.

Reads the results store (SQLite, read-only, no torch) in a thread each time it is shown
(tui.store_reads), saying so until the runs arrive; the matrices come from
engine.results.matrix, the same code as `smollm-tui report`. A store that cannot be read
(damaged, too new) leaves the screen empty with the reason and what to do.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Select, Static, Tab, Tabs
from textual_plotext import PlotextPlot

from engine.paths import make_private_dir, private_data_dir
from engine.results.health import StoreUnavailable
from engine.results.matrix import ACCURACY_CHOICES, REPORT_ORDER, Filters, Matrix, build_matrix
from engine.results.references import References, load_references
from engine.results.report import metrics_line, write_reports
from engine.results.speed import speed_rows
from engine.results.store import EvalRun, SpeedRun
from tui import messages as m
from tui.safe_text import plain, visible
from tui.store_reads import READING, StoreRead
from tui.widgets.compare_cells import bar_labels, cell_details, header_text, row_cells
from tui.widgets.memory_meter import MemoryMeter
from tui.widgets.speed_view import SpeedView, with_speed_options, write_speed_reports
from tui.widgets.table_fill import fill

# (matrix metric, tab label)
METRIC_TABS = (
    ("accuracy", "Accuracy %"),
    ("time", "Time per sample ms"),
    ("memory", "Peak memory GB"),
    ("size", "Model size MB"),
    ("board", "Board memory GB"),
)
FILTERS = ("runtime", "precision", "device", "mode", "fewshot", "machine")
# Shown only when the store holds two or more: most users have one machine and, until they
# try llama.cpp, one runtime (and 80 columns have room for four filters).
ONLY_WITH_A_CHOICE = ("runtime", "machine")


def filter_options(runs: list[EvalRun]) -> dict[str, list[tuple[str, object]]]:
    """The choices each filter offers: only values present in the store."""

    def distinct(values) -> list:
        return sorted({v for v in values if v is not None})

    return {
        "runtime": [(v, v) for v in distinct(r.runtime or "transformers" for r in runs)],
        "precision": [(v, v) for v in distinct(r.precision for r in runs)],
        "device": [(v, v) for v in distinct(r.device for r in runs)],
        "mode": [("quick", "quick"), ("full", "full")],
        "fewshot": [(f"{n}-shot", n) for n in distinct(r.num_fewshot for r in runs)],
        "machine": [(plain(v), v) for v in distinct(r.machine for r in runs)],
    }


class CompareScreen(Screen):
    """`CompareScreen()`: reads the results store (engine.paths.results_db_path()) when
    shown, and labels models with the app's catalog when it knows them."""

    DEFAULT_CSS = """
    CompareScreen Tabs { height: 2; }
    CompareScreen #filters { height: 1; }
    CompareScreen #filters Select { width: 1fr; }
    CompareScreen #filters Button { width: auto; min-width: 10; }
    CompareScreen #matrix { height: 1fr; min-height: 4; }
    CompareScreen #cell-info { height: 1; padding: 0 1; background: $boost; }
    CompareScreen #chart { height: 8; }
    CompareScreen.-tall #chart { height: 14; }
    CompareScreen SpeedView { display: none; }
    CompareScreen.-speed SpeedView { display: block; }
    CompareScreen.-speed #matrix, CompareScreen.-speed #cell-info,
    CompareScreen.-speed #chart { display: none; }
    CompareScreen.-tall #speed-chart { height: 14; }
    """
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("1", "metric('accuracy')", "Acc", show=False),
        Binding("2", "metric('time')", "Time", show=False),
        Binding("3", "metric('memory')", "Memory", show=False),
        Binding("4", "metric('size')", "Size", show=False),
        Binding("5", "metric('board')", "Board", show=False),
        Binding("6", "metric('speed')", "Speed", show=False),
        Binding("a", "cycle_accuracy", "acc/acc_norm"),
        Binding("r", "toggle_references", "References"),
        Binding("x", "export", "Export"),
        Binding("l", "arena", "Arena board"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.metric = "accuracy"
        self.accuracy_metric = "primary"
        self.with_references = False
        self.runs: list[EvalRun] = []
        self.speed_runs: list[SpeedRun] = []
        self.matrix: Matrix | None = None
        self.last_export: list = []
        self._references: References | None = None
        self.store_problem: StoreUnavailable | None = None
        self.store_read = StoreRead(self, "compare-read", speed=True)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Tabs(
            *[Tab(label, id=key) for key, label in METRIC_TABS],
            Tab("Speed", id="speed"),
            id="metrics",
        )
        with Horizontal(id="filters"):
            for name in FILTERS:
                yield Select([], prompt=f"{name}: any", id=f"f-{name}", compact=True)
            yield Button("Export", id="export", compact=True)
        yield DataTable(id="matrix", cursor_type="cell", zebra_stripes=True)
        yield Static(id="cell-info")
        yield PlotextPlot(id="chart")
        yield SpeedView()
        yield MemoryMeter()
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Compare"
        self.rebuild()  # empty, saying that the store is being read
        self.query_one("#matrix", DataTable).focus()

    def on_screen_resume(self) -> None:  # also as the screen is first shown
        self.reload()

    # ---- data ----------------------------------------------------------------------

    @property
    def references(self) -> References:
        if self._references is None:
            self._references = load_references()
        return self._references

    def reload(self) -> None:
        """Read the store again (in a thread); on_results_read refills filters, matrix and
        chart."""
        self.store_read.request()

    def on_results_read(self, message: m.ResultsRead) -> None:
        with self.store_read.arrived():
            self.show_runs(message)

    def show_runs(self, message: m.ResultsRead) -> None:
        """Keep the runs read and refill filters, matrix and chart; a store problem is
        said once (not again on each return to the screen while it lasts)."""
        self.runs, self.speed_runs = message.runs, message.speed_runs
        exc = message.problem
        if exc is not None and (self.store_problem is None or str(exc) != str(self.store_problem)):
            self.notify(
                str(exc),
                title="Results unavailable",
                severity="warning",
                timeout=30,
                markup=False,
            )
        self.store_problem = exc
        options_of = with_speed_options(filter_options(self.runs), self.speed_runs)
        for name, options in options_of.items():
            select = self.query_one(f"#f-{name}", Select)
            current = select.value
            with self.prevent(Select.Changed):
                select.set_options(options)
                if current in [v for _, v in options]:
                    select.value = current
            if name in ONLY_WITH_A_CHOICE:
                select.display = len(options) > 1
        self.rebuild()

    def filters(self) -> Filters:
        def value(name: str):
            chosen = self.query_one(f"#f-{name}", Select).value
            return None if chosen is Select.NULL else chosen

        return Filters(
            runtime=value("runtime"),
            precision=value("precision"),
            device=value("device"),
            mode=value("mode"),
            num_fewshot=value("fewshot"),
            machine=value("machine"),
        )

    def labels(self) -> tuple[dict[str, str], dict[str, str]]:
        params, labels = {}, {}
        catalog = getattr(self.app, "catalog", None)
        for entry in catalog or ():
            params[entry.id] = entry.params_label
            labels[entry.id] = (entry.repo or entry.name).split("/")[-1]
        return params, labels

    def build(self, metric: str) -> Matrix:
        params, labels = self.labels()
        return build_matrix(
            self.runs,
            metric,
            filters=self.filters(),
            references=self.references,
            accuracy_metric=self.accuracy_metric,
            params=params,
            labels=labels,
        )

    # ---- drawing -------------------------------------------------------------------

    def rebuild(self) -> None:
        self.set_class(self.metric == "speed", "-speed")
        if self.metric == "speed":
            self.show_speed()
            return
        self.matrix = matrix = self.build(self.metric)
        table = self.query_one("#matrix", DataTable)
        where = table.cursor_coordinate
        table.clear(columns=True)
        table.add_column("Model", key="model")
        table.add_column("Params", key="params")
        for task in matrix.tasks:  # a str label is markup: Text
            table.add_column(header_text(matrix, task), key=task)
        if matrix.has_average:  # not over perplexities alone
            table.add_column(header_text(matrix, None), key="avg")
        fill(
            table,
            (row_cells(row, matrix, self.with_references) for row in matrix.rows),
            (row.key for row in matrix.rows),
        )
        self.sub_title = self.describe()
        if matrix.rows:
            table.cursor_coordinate = where  # clamped by the table
        self.show_cell()

    def show_speed(self) -> None:
        """The Speed view under the device and precision filters (and a runtime filter
        when the screen has one)."""
        filters = self.filters()
        view = self.query_one(SpeedView)
        view.show(
            self.speed_runs,
            self.labels()[1],
            device=filters.device,
            precision=filters.precision,
            runtime=getattr(filters, "runtime", None),
        )
        self.sub_title = view.describe()
        if not self.store_read.done:
            view.query_one("#speed-info", Static).update(Text(READING.capitalize(), style="dim"))
            self.sub_title = f"Decode speed · {READING}"

    def describe(self) -> str:
        title = self.matrix.title if self.matrix else ""
        if self.metric == "accuracy" and self.accuracy_metric != "primary":
            title += f" · {self.accuracy_metric}"
        if not self.store_read.done:
            return f"{title} · {READING}"
        shown = sum(1 for r in self.runs if self.filters().accepts(r))
        return f"{title} · {shown} of {len(self.runs)} run(s) match the filters"

    def current(self) -> tuple[int | None, str | None]:
        """(row index, task or None for the model / Avg columns) under the cursor."""
        table = self.query_one("#matrix", DataTable)
        if self.matrix is None or not self.matrix.rows:
            return None, None
        row, column = table.cursor_coordinate
        tasks = self.matrix.tasks
        task = tasks[column - 2] if 2 <= column < 2 + len(tasks) else None
        return min(row, len(self.matrix.rows) - 1), task

    def show_cell(self) -> None:
        info = self.query_one("#cell-info", Static)
        row, task = self.current()
        if row is None and not self.store_read.done:
            info.update(Text(READING.capitalize(), style="dim"))
        elif row is None and self.store_problem is not None:
            info.update(
                Text(
                    f"The results store is unavailable ({self.store_problem.reason}): "
                    "`smollm-tui doctor` says what to do.",
                    style="yellow",
                )
            )
        elif row is None:
            info.update(
                Text(
                    "No results match: evaluate a model (e on the catalog), "
                    "`smollm-tui eval`, or `smollm-tui import FILE`; or widen "
                    "the filters.",
                    style="dim",
                )
                if self.runs
                else Text(
                    "No results stored yet: evaluate a model (e on the catalog) "
                    "or `smollm-tui import FILE`.",
                    style="dim",
                )
            )
        elif self.matrix is not None:
            details = cell_details(self.matrix.rows[row], task, self.matrix)
            if task is None and metrics_line(self.matrix):  # say what each column is
                details.append(
                    " · " + visible(metrics_line(self.matrix).removesuffix(".")), style="dim"
                )
            info.update(details)
        self.draw_chart(task)

    def draw_chart(self, task: str | None) -> None:
        plot = self.query_one("#chart", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        matrix = self.matrix
        # a column's direction with its name: bars of a perplexity are better short
        column = visible(header_text(matrix, task).plain) if task and matrix else "average"
        points = []
        for row in matrix.rows if matrix else []:
            value = row.cells[task].value if task else row.average
            if value is not None:
                points.append((visible(row.label), value))
        if points and matrix is not None:
            labels = bar_labels([p[0] for p in points])
            plt.bar(labels, [p[1] for p in points], width=0.5)
            plt.title(f"{matrix.title}: {column}")
        else:
            plt.title(f"{matrix.title if matrix else ''}: nothing to chart")
        plot.refresh()

    # ---- events and keys -----------------------------------------------------------

    def on_tabs_tab_activated(self, message: Tabs.TabActivated) -> None:
        if message.tab.id and message.tab.id != self.metric:
            self.metric = message.tab.id
            self.rebuild()
            table = "#speed-table" if self.metric == "speed" else "#matrix"
            if isinstance(self.focused, DataTable):
                self.query_one(table, DataTable).focus()

    def on_select_changed(self, message: Select.Changed) -> None:
        self.rebuild()

    def on_data_table_cell_highlighted(self, message: DataTable.CellHighlighted) -> None:
        self.show_cell()

    def on_button_pressed(self, message: Button.Pressed) -> None:
        if message.button.id == "export":
            self.action_export()

    def action_metric(self, metric: str) -> None:
        self.query_one(Tabs).active = metric

    def action_cycle_accuracy(self) -> None:
        choices = ACCURACY_CHOICES
        self.accuracy_metric = choices[(choices.index(self.accuracy_metric) + 1) % len(choices)]
        self.notify(f"Accuracy metric: {self.accuracy_metric}", timeout=2)
        if self.metric == "accuracy":
            self.rebuild()

    def action_toggle_references(self) -> None:
        self.with_references = not self.with_references
        self.notify(
            "Published figures shown in brackets"
            if self.with_references
            else "Published figures hidden",
            timeout=2,
        )
        self.rebuild()

    def action_export(self) -> None:
        """All five tables and the decode speed under the current filters, as Markdown,
        CSV and JSON (the speed in files of its own: its columns differ)."""
        filters = self.filters()
        speed = speed_rows(
            self.speed_runs,
            device=filters.device,
            precision=filters.precision,
            runtime=getattr(filters, "runtime", None),
        )
        if not self.store_read.done:
            self.notify(f"Nothing to export yet: {READING}", severity="warning")
            return
        if not self.runs and not speed:
            self.notify("Nothing to export yet.", severity="warning")
            return
        stem = "compare-" + time.strftime("%Y%m%d-%H%M%S")
        try:
            folder = make_private_dir(private_data_dir() / "reports")
            self.last_export = []
            if self.runs:
                matrices = [self.build(metric) for metric in REPORT_ORDER]
                self.last_export = write_reports(matrices, folder, stem)
            if speed:
                self.last_export += write_speed_reports(speed, folder, stem)
        except OSError as exc:
            self.notify(f"Not exported: {exc}", severity="error", markup=False)
            return
        md, *others = self.last_export
        self.notify(
            f"{md}\nand {', '.join(p.name for p in others)}",
            title="Report exported",
            timeout=15,
            markup=False,
        )

    def action_arena(self) -> None:
        """The Arena leaderboard of the blind votes (tui.screens.arena_board)."""
        from tui.screens.arena_board import ArenaBoardScreen

        self.app.push_screen(ArenaBoardScreen())

    def action_back(self) -> None:
        self.app.pop_screen()
