"""The one-line meter on every screen: board memory, GPU load, worker state, loaded model."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from engine.runtimes.llamacpp.build_status import BuildStatus, meter_words, read_build_status
from tui.jobs_watch import meter_text as job_meter_text
from tui.messages import LlamaBuildRead
from tui.safe_text import visible

BUILD_READ_EVERY_S = 2.0
_BUILD_STYLE = {"building": "yellow", "failed": "red", "ready": "green"}
_STATE_STYLE = {
    "none": "dim",
    "loading": "yellow",
    "ready": "green",
    "generating": "bold cyan",
    "evaluating": "bold magenta",
    "died": "bold red",
}


class MemoryMeter(Static):
    """Reads the app's telemetry sampler and model session once a second; never blocks.
    The llama.cpp build's status file (set-up's background build) is read in a thread."""

    DEFAULT_CSS = """
    MemoryMeter { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.llama_build: BuildStatus | None = None
        self._reading_build = False

    def on_mount(self) -> None:
        self.refresh_meter()
        self.set_interval(1.0, self.refresh_meter)
        self.read_llama_build()
        self.set_interval(BUILD_READ_EVERY_S, self.read_llama_build)

    def refresh_meter(self) -> None:
        self.update(meter_text(self.app, self.llama_build))

    def read_llama_build(self) -> None:
        """Read the build's status file in a thread; never two reads at once, and none is
        cancelled (an app worker: a screen closed half-way through a read is no matter)."""
        if self._reading_build:
            return
        self._reading_build = True
        self.app.run_worker(self._read_build, thread=True, group="llama-build", exit_on_error=False)

    def _read_build(self) -> None:
        status = None
        try:
            status = read_build_status()
        finally:  # whatever happened, the next read may start
            self.post_message(LlamaBuildRead(status))

    def on_llama_build_read(self, message: LlamaBuildRead) -> None:
        self._reading_build = False
        self.llama_build = message.status
        self.refresh_meter()


def bar(fraction: float, width: int = 10) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


def meter_text(app, llama_build: BuildStatus | None = None) -> Text:
    text = Text()
    snap = app.telemetry.latest() if getattr(app, "telemetry", None) else None
    if snap is not None and snap.ram_total_mb:
        used, total = snap.ram_used_mb, snap.ram_total_mb
        text.append("mem ", style="bold")
        text.append(bar(used / total), style="red" if used / total > 0.9 else "green")
        text.append(f" {used / 1024:.1f}/{total / 1024:.1f} GB")
        if snap.gpu_load_pct is not None:
            text.append(f"  gpu {snap.gpu_load_pct:.0f}%")
    else:
        text.append("mem —", style="dim")
    session = app.session
    state = session.state
    text.append("  worker ", style="bold")
    text.append(state, style=_STATE_STYLE.get(state, ""))
    info = session.info
    if info is not None and state != "died":
        # The runtime first: on an 80-column terminal the model's name may be cut.
        text.append(f" · {info.runtime}")
        text.append(f"  {visible(info.model_id)} {info.precision} on {info.device}")
    job = job_meter_text(app)  # a background job on the board (tui/jobs_watch.py)
    if job is not None:
        text.append("  ")
        text.append_text(job)
    words = meter_words(llama_build)  # set-up's llama.cpp build, while it matters
    if words is not None and llama_build is not None:
        text.append(f"  {words}", style=_BUILD_STYLE[llama_build.state])
    return text
