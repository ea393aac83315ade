"""The System screen: live board memory, GPU, power and temperatures, with history charts.

It only reads what the telemetry sampler already holds (latest(), history(), marks()),
from a timer on the UI thread: nothing here waits for the board.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual_plotext import PlotextPlot

from tui.safe_text import visible

WorkerMemory = Callable[[], "float | None"]


def _gb(mb: float | None) -> str:
    return "—" if mb is None else f"{mb / 1024:.1f}"


def values_text(snap, worker_mb: float | None = None) -> Text:
    """The current figures, as Text (sensor and rail names are data, never markup)."""
    text = Text()
    if snap is None:
        text.append("waiting for the first sample…", style="dim")
        return text

    def item(label: str, value: str) -> None:
        if text:
            text.append("  ")
        text.append(f"{label} ", style="bold")
        text.append(visible(value))

    if snap.ram_total_mb:
        ram = f"{_gb(snap.ram_used_mb)} / {_gb(snap.ram_total_mb)} GB"
        if snap.ram_available_mb is not None:
            ram += f" ({_gb(snap.ram_available_mb)} free)"
        item("RAM", ram)
    if snap.gpu_shared_mb is not None:
        item("GPU shared", f"{_gb(snap.gpu_shared_mb)} GB")
    if snap.gpu_mem_total_mb:
        item("VRAM", f"{_gb(snap.gpu_mem_used_mb)} / {_gb(snap.gpu_mem_total_mb)} GB")
    if snap.swap_total_mb:
        item("swap", f"{_gb(snap.swap_used_mb)} / {_gb(snap.swap_total_mb)} GB")
    if worker_mb is not None:
        item("worker", f"{worker_mb:.0f} MB")
    text.append("\n")
    gpu = "—" if snap.gpu_load_pct is None else f"{snap.gpu_load_pct:.0f}%"
    if snap.gpu_freq_mhz is not None:
        gpu += f" @ {snap.gpu_freq_mhz:.0f} MHz"
    text.append("GPU ", style="bold")
    text.append(gpu)
    if snap.power_total_mw is not None:
        rails = ", ".join(f"{name} {mw / 1000:.1f}" for name, mw in snap.power_rails_mw.items())
        item("power", f"{snap.power_total_mw / 1000:.1f} W" + (f" ({rails})" if rails else ""))
    if snap.cpu_pct is not None:
        item("CPU", f"{snap.cpu_pct:.0f}%")
    if snap.temps_c:
        text.append("\n")
        text.append("temp ", style="bold")
        text.append(visible("  ".join(f"{n} {c:.0f}°C" for n, c in snap.temps_c.items())))
    return text


class SystemScreen(Screen[None]):
    """`SystemScreen(sampler, worker_memory=None)`.

    sampler: engine.telemetry.Sampler (or anything with latest(), history(seconds),
    marks(), reader_description()). worker_memory: an optional cheap callable returning
    the worker's memory in MB (or None), drawn as its own line on the memory chart.
    """

    DEFAULT_CSS = """
    SystemScreen { layout: vertical; }
    SystemScreen #reader { height: 1; padding: 0 1; color: $text-muted; }
    SystemScreen #values { height: auto; max-height: 4; padding: 0 1; }
    SystemScreen #charts { grid-size: 2 2; grid-gutter: 0 1; height: 1fr; min-height: 10; }
    SystemScreen #marks { height: auto; max-height: 3; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,b", "back", "Back"),
    ]

    def __init__(
        self,
        sampler,
        worker_memory: WorkerMemory | None = None,
        *,
        window_seconds: float = 300.0,
        refresh_seconds: float = 1.0,
    ) -> None:
        super().__init__()
        self.sampler = sampler
        self.worker_memory = worker_memory
        self.window_seconds = window_seconds
        self.refresh_seconds = refresh_seconds
        self._worker_series: deque[tuple[float, float]] = deque(maxlen=4000)
        self._drawn: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="reader")
        yield Static(id="values")
        with Grid(id="charts"):
            yield PlotextPlot(id="chart-memory")
            yield PlotextPlot(id="chart-gpu")
            yield PlotextPlot(id="chart-power")
            yield PlotextPlot(id="chart-temp")
        yield Static(id="marks")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_view()
        self.set_interval(self.refresh_seconds, self.refresh_view)

    def action_back(self) -> None:
        self.app.pop_screen()

    # -- reading the sampler (memory copies only) --------------------------------------------
    def _reader_line(self) -> Text:
        describe = getattr(self.sampler, "reader_description", None)
        line = Text("Reader: ", style="bold")
        line.append(visible(describe() if describe else "unknown"))
        return line

    def _worker_mb(self, snap) -> float | None:
        if self.worker_memory is not None:
            try:
                value = self.worker_memory()
            except Exception:  # a worker that just died must not break this screen
                value = None
            if value is not None and snap is not None:
                if not self._worker_series or self._worker_series[-1][0] != snap.time:
                    self._worker_series.append((snap.time, float(value)))
            return value
        if snap is not None:
            return snap.process_rss_mb.get("worker")
        return None

    def refresh_view(self) -> None:
        snap = self.sampler.latest()
        worker_mb = self._worker_mb(snap)
        self.query_one("#reader", Static).update(self._reader_line())
        self.query_one("#values", Static).update(values_text(snap, worker_mb))
        marks_of = getattr(self.sampler, "marks", None)
        marks = marks_of() if marks_of else []
        key = (snap.time if snap else None, len(marks), len(self._worker_series))
        if key == self._drawn:
            return
        self._drawn = key
        history = self.sampler.history(self.window_seconds) if snap else []
        now = snap.time if snap else 0.0
        recent = [m for m in marks if m.time >= now - self.window_seconds]
        self._draw_charts(history, now, recent)
        self.query_one("#marks", Static).update(self._marks_text(recent, now))

    # -- drawing -------------------------------------------------------------------------------
    def _marks_text(self, marks, now: float) -> Text:
        text = Text()
        for mark in marks[-3:]:
            if text:
                text.append("\n")
            style = "yellow" if mark.kind == "notice" else ""
            text.append(f"{mark.time - now:+.0f}s ", style="bold")
            text.append(visible(mark.text), style=style)
        return text

    def _draw_charts(self, history, now: float, marks) -> None:
        xs = [s.time - now for s in history]

        def series(values):
            points = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
            return [p[0] for p in points], [p[1] for p in points]

        def prepare(widget_id: str, title: str):
            plot = self.query_one(widget_id, PlotextPlot)
            plt = plot.plt
            plt.clear_figure()
            plt.title(title)
            plt.xlim(-self.window_seconds, 0)
            for mark in marks:
                plt.vline(mark.time - now, "yellow" if mark.kind == "notice" else "magenta")
            return plot, plt

        total = next((s.ram_total_mb for s in reversed(history) if s.ram_total_mb), None)
        plot, plt = prepare("#chart-memory", "Memory (GB)")
        for label, values in (
            ("used", [s.ram_used_mb for s in history]),
            (
                "GPU",
                [
                    s.gpu_shared_mb if s.gpu_shared_mb is not None else s.gpu_mem_used_mb
                    for s in history
                ],
            ),
            ("worker", [s.process_rss_mb.get("worker") for s in history]),
        ):
            x, y = series(values)
            if y and not (label == "worker" and self.worker_memory is not None):
                plt.plot(x, [v / 1024 for v in y], label=label, marker="hd")
        if self._worker_series:
            x = [t - now for t, _ in self._worker_series if t >= now - self.window_seconds]
            y = [mb / 1024 for t, mb in self._worker_series if t >= now - self.window_seconds]
            plt.plot(x, y, label="worker", marker="hd")
        if total:
            plt.ylim(0, total / 1024)
        plot.refresh()

        plot, plt = prepare("#chart-gpu", "GPU load (%)")
        x, y = series([s.gpu_load_pct for s in history])
        if y:
            plt.plot(x, y, marker="hd")
        else:
            plt.title("GPU load: not measured here")
        plt.ylim(0, 100)
        plot.refresh()

        plot, plt = prepare("#chart-power", "Power (W)")
        x, y = series([s.power_total_mw for s in history])
        if y:
            plt.plot(x, [mw / 1000 for mw in y], marker="hd")
        else:
            plt.title("Power: not measured here")
        plot.refresh()

        plot, plt = prepare("#chart-temp", "Temperature (°C)")
        hottest = [max(s.temps_c.values()) if s.temps_c else None for s in history]
        x, y = series(hottest)
        if y:
            plt.plot(x, y, marker="hd")
            plt.title("Hottest sensor (°C)")
        else:
            plt.title("Temperature: not measured here")
        plot.refresh()
