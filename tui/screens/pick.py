"""Pick: which configuration for my board. The limits as inputs, the configurations no other
beats on quality, tok/s and peak memory (engine.pick, the same code as `smollm-tui pick`) as
a table, best quality first, the dominated ones faint with the one that beats them, the
estimates of what is not measured yet apart, and a scatter chart of quality against tok/s.
Enter on a measured row opens chat with that configuration; m queues the one background
job that measures what is missing (engine.pick.measure), and the table reads again as its
results land; x exports Markdown.

The store is read, and the estimates made, in a thread each time the screen is shown or a
limit is submitted (Enter in an input).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Static

from engine.pick.candidates import Configuration, load_precision
from engine.pick.choice import Limits
from engine.pick.report import PickReport
from engine.task_registry import short_name
from tui.app_api import smollm_app
from tui.messages import JobsChanged
from tui.read_gate import ReadGate
from tui.safe_text import plain, visible
from tui.widgets.memory_meter import MemoryMeter
from tui.widgets.pick_chart import PickChart
from tui.widgets.table_fill import fill

COLUMNS = ("#", "Configuration", "Quality", "tok/s", "Peak MB", "Note")
# How the quality was formed, short enough for the line above the table at 80 columns
# (the full sentence: engine.pick.report.QUALITY_TITLES, in the export).
QUALITY_SHORT = {
    "percent": "quality: mean %, higher better",
    "lower": "quality: mean, lower better",
    "rank": "quality: mean rank score (tasks mix directions)",
}
# Columns other than the configuration's, with DataTable's padding, and its scrollbar.
OTHER_COLUMNS_WIDTH = 48
READING = "reading the results store…"


def usable_memory_mb(device: str) -> float | None:
    """The default memory limit: what a new worker may use on this board now (the fit
    estimate's budget, engine.memory.fit.budget)."""
    from engine.memory import fit as memory

    return memory.budget(device).available_mb


class PickRead(Message):
    """The answer, read in a thread: a report, or why there is none."""

    def __init__(self, report: PickReport | None, problem: str | None = None) -> None:
        super().__init__()
        self.report = report
        self.problem = problem


@dataclass(frozen=True)
class Asked:
    tasks: tuple[str, ...] | None
    limits: Limits | None  # None: the default memory limit, read in the thread
    min_tok_s: float
    max_first_token_ms: float | None


class PickScreen(Screen):
    DEFAULT_CSS = """
    PickScreen #limits { height: 1; }
    PickScreen #limits Label { padding: 0 1; color: $text-muted; }
    PickScreen #limits Input { width: 1fr; }
    PickScreen #pick-info { height: 1; padding: 0 1; background: $boost; }
    PickScreen #frontier { height: 1fr; min-height: 4; }
    PickScreen #pick-chart { height: 8; }
    PickScreen.-tall #pick-chart { height: 14; }
    """
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("enter", "chat", "Chat", show=False),
        Binding("m", "measure", "Measure missing"),
        Binding("x", "export", "Export"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: PickReport | None = None
        self.rows: list[Configuration | None] = []  # per table row; None: an estimate
        self.store_read = ReadGate()
        self.max_memory_mb: float | None = None
        self.last_export: Path | None = None
        self._jobs_seen: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="limits"):
            yield Label("Tasks")
            yield Input(placeholder="most measured", id="tasks", compact=True)
            yield Label("Max MB")
            yield Input(placeholder="board", id="max-memory", type="number", compact=True)
            yield Label("Min tok/s")
            yield Input(placeholder="0", id="min-tok-s", type="number", compact=True)
            yield Label("1st ms")
            yield Input(placeholder="any", id="max-first", type="number", compact=True)
        yield Static(Text(READING, style="dim"), id="pick-info")
        yield DataTable(id="frontier", cursor_type="row", zebra_stripes=True)
        yield PickChart(id="pick-chart")
        yield MemoryMeter()
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Which configuration for this board"
        table = self.query_one("#frontier", DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label)
        table.focus()
        self.set_interval(1.0, self.follow_jobs)

    def follow_jobs(self) -> None:
        """Read again when a job stored something (the app's job watch saw its cells move
        or its state change): the front updates as the measuring job's rows land."""
        watch = getattr(self.app, "jobs_watch", None)
        if watch is None:
            return
        seen = tuple((j.id, j.state, j.cells_done) for j in watch.jobs)
        if self._jobs_seen is not None and seen != self._jobs_seen and self.is_current:
            self.reload()
        self._jobs_seen = seen

    def on_screen_resume(self) -> None:  # also as the screen is first shown
        self.reload()

    # ---- reading ---------------------------------------------------------------------

    def asked(self) -> Asked | None:
        """The limits as typed; None (and a notification) when one cannot be read."""
        from engine.errors import UsageError
        from engine.task_registry import parse_task_list

        def number(input_id: str) -> float | None:
            text = self.query_one(f"#{input_id}", Input).value.strip()
            return float(text) if text else None

        try:
            text = self.query_one("#tasks", Input).value.strip()
            tasks = parse_task_list(text) if text else None
            memory, min_tps, first = number("max-memory"), number("min-tok-s"), number("max-first")
        except (UsageError, ValueError) as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return None
        limits = None if memory is None else Limits(memory, min_tps or 0.0, first)
        return Asked(tasks, limits, min_tps or 0.0, first)

    def reload(self) -> None:
        asked = self.asked()
        if asked is None or not self.store_read.begin():
            return
        app = smollm_app(self)
        catalog, device = app.catalog, getattr(app, "device", "auto")

        def read() -> None:
            self.post_message(_read(asked, catalog, device))

        self.run_worker(read, thread=True, group="pick-read", exit_on_error=False)

    def on_pick_read(self, message: PickRead) -> None:
        again = self.store_read.end()
        try:
            self.show(message)
        finally:
            if again:
                self.reload()
            else:
                self.store_read.settle()

    @on(Input.Submitted)
    def limits_changed(self) -> None:
        self.reload()
        self.query_one("#frontier", DataTable).focus()

    # ---- showing ---------------------------------------------------------------------

    def show(self, message: PickRead) -> None:
        info = self.query_one("#pick-info", Static)
        report = self.report = message.report
        if report is None:
            info.update(Text(message.problem or "", style="yellow"))
            self.rows = []
            fill(self.query_one("#frontier", DataTable), [])
            self.query_one(PickChart).draw(None)
            return
        choice = report.choice
        self.max_memory_mb = choice.limits.max_memory_mb
        if self.max_memory_mb is not None:
            # the default limit in use, where the user would type another
            self.query_one("#max-memory", Input).placeholder = f"{self.max_memory_mb:.0f}"
        width = max(20, self.app.size.width - OTHER_COLUMNS_WIDTH)
        numbers = {r.config.label: n for n, r in enumerate(choice.frontier, 1)}
        rows: list[list[object]] = []
        self.rows = []
        for n, r in enumerate(choice.frontier, 1):
            rows.append(_cells(str(n), r.config.label, width, r.quality, r.config, ""))
            self.rows.append(r.config)
        for r in choice.dominated:
            note = f"beaten by {numbers[r.by]}" if r.by in numbers else ""
            rows.append(_cells("", r.config.label, width, r.quality, r.config, "dim", note))
            self.rows.append(r.config)
        for x in (*choice.incomplete, *choice.over_limits):
            rows.append(_cells("-", x.config.label, width, None, x.config, "dim", x.why))
            self.rows.append(x.config)
        for u in report.unmeasured:
            name = f"{u.model} · {u.runtime} {u.precision}"
            note = "estimate" if u.on_disk else "estimate, not downloaded"
            rows.append(_estimate(name, width, u.estimate_mb, note))
            self.rows.append(None)
        fill(self.query_one("#frontier", DataTable), rows)
        info.update(_summary(report))
        self.query_one(PickChart).draw(choice)

    def current(self) -> Configuration | None:
        table = self.query_one("#frontier", DataTable)
        if not self.rows or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    # ---- actions ---------------------------------------------------------------------

    def action_chat(self) -> None:
        config = self.current()
        if config is None:
            if self.rows:
                self.notify("Not measured yet: an estimate cannot be chatted with.", timeout=4)
            return
        self.open_chat(config)

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        self.action_chat()

    def open_chat(self, config: Configuration) -> None:
        from engine.errors import SmollmError
        from engine.settings import LoadOptions

        app = smollm_app(self)
        try:
            entry = app.catalog.get(config.model)
        except SmollmError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        options = LoadOptions(
            entry.id,
            precision=load_precision(config.precision),
            device=config.device,
            catalog_path=getattr(app, "catalog_path", None),
            runtime=config.runtime,
        )
        app.chat_with(entry, options)

    def action_measure(self) -> None:
        """Queue the one job that measures what is missing and on disk, cheapest first."""
        report = self.report
        if report is None:
            self.notify(f"Not yet: {READING}", severity="warning")
            return
        if not report.tasks:
            self.notify("No task measured yet: type the tasks to measure on.", severity="warning")
            return
        app = smollm_app(self)
        catalog_path = getattr(app, "catalog_path", None)

        def work() -> None:
            from engine.jobs.store import FINAL_STATES
            from engine.pick.measure import eta_text, queue_measure

            try:
                with_jobs = any(j.state not in FINAL_STATES for j in app.jobs_watch.jobs)
                plan, job = queue_measure(report, catalog_path=catalog_path)
            except Exception as exc:  # a damaged or locked store: one line
                app.notify(str(exc) or type(exc).__name__, severity="error", markup=False)
                return
            later = f" ({len(plan.not_on_disk)} not on disk: download them first)"
            later = later if plan.not_on_disk else ""
            if job is None:
                text = "Nothing to measure: every configuration on disk that fits is measured"
                app.notify(text + later, timeout=8, markup=False)
                return
            queue = " after the jobs before it" if with_jobs else ""
            app.notify(
                f"Job {job.id} queued: {len(plan.todo)} configuration(s), cheapest first"
                f"{queue}, ETA {eta_text(plan.eta_s)}{later}. j shows it; this table "
                "updates as its results land.",
                title="Measuring",
                timeout=12,
                markup=False,
            )
            app.post_message(JobsChanged())

        self.run_worker(work, thread=True, group="pick-measure", exit_on_error=False)

    def action_export(self) -> None:
        from engine.paths import make_private_dir, private_data_dir, write_private_text

        if self.report is None:
            self.notify(f"Nothing to export yet: {READING}", severity="warning")
            return
        stem = time.strftime("pick-%Y%m%d-%H%M%S")
        try:
            folder = make_private_dir(private_data_dir() / "reports")
            path = folder / f"{stem}.md"
            write_private_text(path, self.report.to_markdown())
        except OSError as exc:
            self.notify(f"Not exported: {exc}", severity="error", markup=False)
            return
        self.last_export = path
        self.notify(str(path), title="Exported", timeout=15, markup=False)

    def action_back(self) -> None:
        self.app.pop_screen()


def _read(asked: Asked, catalog, device: str) -> PickRead:
    """The report for ``asked`` (in a thread: never raises, a problem is the message's)."""
    from engine.machine import machine_name
    from engine.pick.report import pick_report
    from engine.results.health import StoreUnavailable
    from engine.results.store import ResultsStore

    try:
        limits = asked.limits or Limits(
            usable_memory_mb(device), asked.min_tok_s, asked.max_first_token_ms
        )
        with ResultsStore(read_only=True) as store:
            report = pick_report(
                store, catalog, here=machine_name(), tasks=asked.tasks, limits=limits, device=device
            )
    except StoreUnavailable as exc:
        return PickRead(None, str(exc))
    except Exception as exc:  # a lock held past SQLite's timeout, a disk error
        return PickRead(None, f"the results store could not be read ({exc}): try again later")
    return PickRead(report)


def _cut(label: str, width: int) -> str:
    """A label cut to ``width``, from the model's name: its runtime and precision, what
    tells one model's configurations apart, stay whole."""
    if len(label) <= width:
        return label
    name, sep, rest = label.partition(" · ")
    room = width - len(sep) - len(rest) - 1
    if sep and room >= 6:
        return f"{name[:room]}…{sep}{rest}"
    return label[: width - 1] + "…"


def _figure(value: float | None, digits: int, style: str) -> Text:
    text = "—" if value is None else f"{value:,.{digits}f}"
    return Text(text, style=style, justify="right")


def _cells(
    number: str,
    label: str,
    width: int,
    quality: float | None,
    config: Configuration,
    style: str,
    note: str = "",
) -> list[object]:
    return [
        Text(number, style=style),
        plain(_cut(label, width), style),
        _figure(quality, 1, style),
        _figure(config.tok_s, 1, style),
        _figure(config.peak_mb, 0, style),
        plain(note, style),
    ]


def _estimate(name: str, width: int, estimate_mb: float, note: str) -> list[object]:
    style = "italic dim"
    return [
        Text("est.", style=style),
        plain(_cut(name, width), style),
        _figure(None, 1, style),
        _figure(None, 1, style),
        Text(f"~{estimate_mb:,.0f}", style=style, justify="right"),
        Text(note, style=style),
    ]


def _summary(report: PickReport) -> Text:
    from engine.pick.report import limits_text

    choice = report.choice
    tasks = ", ".join(short_name(t) for t in choice.tasks) or "no task measured"
    text = Text()
    text.append(visible(tasks), style="bold")
    text.append(f" · {limits_text(choice.limits)} · {QUALITY_SHORT[choice.quality_kind]}")
    if not choice.frontier:
        text.append(" · nothing measured fits these limits: m measures", style="yellow")
    return text
