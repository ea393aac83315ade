"""The one-line meter on every screen: board memory, GPU load, worker state, loaded model."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.jobs_watch import meter_text as job_meter_text
from tui.safe_text import visible

_STATE_STYLE = {
    "none": "dim",
    "loading": "yellow",
    "ready": "green",
    "generating": "bold cyan",
    "evaluating": "bold magenta",
    "died": "bold red",
}


class MemoryMeter(Static):
    """Reads the app's telemetry sampler and model session once a second; never blocks."""

    DEFAULT_CSS = """
    MemoryMeter { height: 1; background: $panel; color: $text; padding: 0 1; }
    """

    def on_mount(self) -> None:
        self.refresh_meter()
        self.set_interval(1.0, self.refresh_meter)

    def refresh_meter(self) -> None:
        self.update(meter_text(self.app))


def bar(fraction: float, width: int = 10) -> str:
    filled = max(0, min(width, round(fraction * width)))
    return "█" * filled + "░" * (width - filled)


def meter_text(app) -> Text:
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
    return text
